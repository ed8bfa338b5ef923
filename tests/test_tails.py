"""Tests of theory/tails.py (docs/derivations.md section 12, T1-T3, T10, T11): the deviations
solve their defining equations, and the tails hold against simulated quantiles (through the
section 9.3 bounds of theory/eout_bound.py that use them). Single-threaded."""
import math

import numpy as np
import pytest

from mtlcheck.theory import eout_bound as EB
from mtlcheck.theory import tails as TL


def _mc_quantile_ok(samples, bound, q):
    """The simulated q-quantile must lie below the bound (order statistic, no interpolation)."""
    x = np.sort(np.asarray(samples))
    return x[int(math.ceil(q * len(x))) - 1] <= bound


def test_cantelli_and_bernstein_helpers():
    s = TL.bernstein_dev(3.0, 0.5, 0.01)
    assert math.exp(-s * s / (2 * (3.0 + 0.5 * s / 3))) == pytest.approx(0.01, rel=1e-9)
    v, dl = 2.0, 0.05
    sc = TL.cantelli_dev(v, dl)
    assert v / (v + sc * sc) == pytest.approx(dl, rel=1e-12)
    # Tropp (2012) Thm 1.1: dim [e^{-e}/(1-e)^{1-e}]^mu = delta (lower), [e^{e}/(1+e)^{1+e}]^mu (upper)
    mu, dim, dl = 40.0, 3, 0.01
    e = TL.chernoff_eps_fast(mu, dim, dl, "lower")
    assert dim * math.exp(mu * (-e - (1 - e) * math.log(1 - e))) == pytest.approx(dl, rel=1e-9)
    assert mu * (-e - (1 - e) * math.log1p(-e)) <= math.log(dl / dim)      # conservative side
    e = TL.chernoff_eps_fast(mu, dim, dl, "upper")
    assert dim * math.exp(mu * (e - (1 + e) * math.log(1 + e))) == pytest.approx(dl, rel=1e-9)
    assert math.isinf(TL.chernoff_eps_fast(0.5, 3, 1e-6, "lower"))     # no e in (0, 1) solves it


def test_matrix_bernstein_eigenvalue_bounds_hold():
    rng = np.random.default_rng(4)
    T, r, K, dl = 64, 3, 2000, 0.05
    V = rng.standard_normal((K, T, r))
    V /= np.linalg.norm(V, axis=2, keepdims=True)
    ev = np.linalg.eigvalsh(np.einsum("kti,ktj->kij", V, V))
    assert _mc_quantile_ok(-ev[:, 0], -EB._v_min(T, r, dl), 1 - dl)
    assert _mc_quantile_ok(ev[:, -1], EB._v_max(T, r, dl), 1 - dl)


def test_circle_tail_T10_holds_and_beats_matrix_chernoff():
    """T10: P(|sum of T uniform unit vectors of R^2| >= s) <= delta, against 10^5 draws per T; and
    for r = 2 it gives a larger lambda_min bound than matrix Bernstein / Chernoff alone."""
    rng = np.random.default_rng(11)
    for T, dl in ((8, 0.05), (64, 0.01), (256, 0.02)):
        th = rng.uniform(0, 2 * np.pi, (100_000, T))
        S_ = np.hypot(np.cos(th).sum(1), np.sin(th).sum(1))
        s = TL.circle_sum_dev(T, dl)
        assert 0 < s <= T
        assert np.mean(S_ >= s) <= dl + 3 * math.sqrt(dl / 1e5)
        assert np.quantile(S_, 1 - dl / 3) < s * 1.6           # not vacuous: a few sd, not T
    e = TL.chernoff_eps_fast(32.0, 2, 0.01, "lower")
    assert EB._v_min(64, 2, 0.01) >= (1 - e) * 32.0 + 2.0               # 21.7 against 18.1


def test_beta_sum_tail_T11_holds():
    """T11: the lower tail of a sum of m Beta(a, b) by Chernoff with the exact Laplace transform,
    against 2 10^5 draws; the transform against mpmath; and at least as large as the old tails."""
    import mpmath as mp
    from scipy.special import hyp1f1
    for a, b, l in ((1, 15, 7.0), (0.5, 7.5, 300.0), (1.5, 30, 40.0)):
        assert float(hyp1f1(a, a + b, -l)) == pytest.approx(float(mp.hyp1f1(a, a + b, -l)), rel=1e-12)
    rng = np.random.default_rng(12)
    for d, r, m, dl in ((32, 2, 64, 0.01), (16, 3, 32, 0.05), (64, 2, 128, 0.005)):
        x = rng.beta(r / 2, (d - r) / 2, (200_000, m)).sum(1)
        s = TL.beta_sum_lower(m, r / 2, (d - r) / 2, dl)
        assert np.mean(x <= s) <= dl + 3 * math.sqrt(dl / 2e5)
        assert s >= EB._g_low(d, r, m, dl) - 1e-12 and s > 0.5 * m * r / d
