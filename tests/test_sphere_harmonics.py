"""Tests of theory/sphere_harmonics.py (docs/derivations.md sections 8.4, 8.5): the O(d) split
against Gegenbauer expansions, the contraction eigenvalues against their recursion, the top-energy
bound, and nu_j(d) (theory/rf_lower_bounds.py) against the relu feature's weights."""
import math

import mpmath as mp
import numpy as np
import sympy as sp

from mtlcheck.theory import degree_energies as DE
from mtlcheck.theory import rf_lower_bounds as RL
from mtlcheck.theory import sphere_harmonics as SH


def test_harmonic_split_matches_gegenbauer_for_one_direction():
    """For f = g(u . x), the H_j piece of degree k carries E_k a_{k,j}, t^k = sum_j a_{k,j} P_j(t)
    (P_j Gegenbauer normalised to P_j(1) = 1), a_{k,j} = N_j E[t^k P_j(t)] under the law of w.w'."""
    mp.mp.dps = 30
    d = 7
    R = DE.target_energies("relu", 8)
    split = SH.harmonic_split(R, d)
    lam = mp.mpf(d - 2) / 2
    dens = lambda t: (1 - t * t) ** ((d - 3) / mp.mpf(2))
    Z = mp.quad(dens, [-1, 1])
    for k in (4, 6, 8):
        for i, j in enumerate(range(k, -1, -2)):
            P = lambda t: mp.gegenbauer(j, lam, t) / mp.gegenbauer(j, lam, 1)
            a = SH.harmonic_dim(d, j) * mp.quad(lambda t: t ** k * P(t) * dens(t), [-1, 1]) / Z
            assert abs(split[k][i] - R.energies[k] * float(a)) < 1e-12
    assert sum(SH.harmonic_dim(9, 4 - 2 * i) for i in range(3)) == math.comb(9 + 3, 4)  # Sym^4
    n, j, dd = sp.symbols("n j d")
    rec = lambda D, N, J: 0 if N < J else ((D + 2 * N) + sp.binomial(N, 2) * rec(D, N - 2, J)) \
        / sp.binomial(N + 2, 2)
    for N in range(7):
        for J in range(N % 2, N + 1, 2):
            assert sp.simplify(rec(dd, N, J) - SH.contraction_eigenvalue(dd, N, J)) == 0


def test_top_energy_bound_and_nu_bound():
    X = DE.target_energies("xor", 16)
    for d in (8, 32, 256):
        top = np.array([s[0] for s in SH.harmonic_split(X, d)])
        assert np.all(SH.top_energy_lower_bound(X, d, 2) <= top + 1e-14)
        assert np.allclose(top[2], X.energies[2])             # sign(z1 z2) is traceless at k = 2
    for d, j in ((16, 2), (64, 4), (64, 6)):
        b2, lo, hi, _ = SH._beta(d, j, 10)
        assert sum(v for k, v in b2.items() if k > j) / lo <= RL.nu_bound(d, j) + 1e-15
