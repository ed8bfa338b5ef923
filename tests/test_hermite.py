"""Tests of theory/hermite.py (docs/derivations.md section 8.2): the Hermite coefficients of relu
and sign against mpmath quadrature and the symbolic integral."""
import mpmath as mp
import numpy as np
import sympy as sp

from mtlcheck.theory import hermite as HE


def _he(k, t):
    """Normalised probabilists' Hermite h_k(t) in mpmath."""
    return mp.hermite(k, t / mp.sqrt(2)) * mp.power(2, -mp.mpf(k) / 2) / mp.sqrt(mp.factorial(k))


def test_relu_and_sign_coefficients_against_quadrature():
    mp.mp.dps = 30
    phi = lambda t: mp.exp(-t * t / 2) / mp.sqrt(2 * mp.pi)
    c, a = HE.relu_hermite(9), HE.sign_hermite(9)
    for k in range(10):
        qc = mp.quad(lambda t: t * _he(k, t) * phi(t), [0, mp.inf])
        qa = mp.quad(lambda t: _he(k, t) * phi(t), [0, mp.inf]) * (1 - (-1) ** k)
        assert abs(c[k] - float(qc)) < 1e-13 and abs(a[k] - float(qa)) < 1e-13
    assert all(c[k] == 0 for k in (3, 5, 7, 9)) and all(a[k] == 0 for k in (0, 2, 4, 6, 8))
    t = sp.symbols("t", real=True)
    for k in range(5):                         # the symbolic integral, twice by parts
        ex = sp.integrate(t * sp.hermite_prob(k, t) * sp.exp(-t ** 2 / 2), (t, 0, sp.oo)) \
            / sp.sqrt(2 * sp.pi * sp.factorial(k))
        assert sp.simplify(ex - HE.relu_hermite_exact(k)) == 0
    assert [HE.representable(k) for k in range(7)] == [True, True, True, False, True, False, True]
    assert abs(np.sum(HE.relu_hermite(200) ** 2) - 0.5) < 1e-3       # E relu^2 = 1/2
