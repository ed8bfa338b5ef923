"""Tests of theory/degree_energies.py (docs/derivations.md section 8.3): the exact energies of the
targets, the floors and the degree floor, and the Monte Carlo family energies against the exact
halfspace."""
import math

import numpy as np

from mtlcheck.theory import degree_energies as DE
from mtlcheck.theory import hermite as HE


def test_target_energies_and_floors():
    E = DE.target_energies("halfspace", 41)
    assert np.isclose(E.energies[1], 2 / np.pi) and np.allclose(E.energies[::2], 0)
    assert np.isclose(np.sum(E.energies) + E.tail, 1.0) and E.tail > 0
    lo, hi = DE.energy_floor(E)
    assert np.isclose(lo, 1 - 2 / np.pi) and lo == hi
    assert DE.degree_floor(E, 0.5) == 1 and DE.degree_floor(E, 0.36) == math.inf
    X = DE.target_energies("xor", 40)
    assert np.isclose(X.energies[2], (2 / np.pi) ** 2) and np.allclose(X.energies[1::2], 0)
    a = HE.sign_hermite(5)
    assert np.isclose(X.energies[4], 2 * a[1] ** 2 * a[3] ** 2)
    assert np.isclose(DE.asymptotic_risk(X, 2), 1 - (2 / np.pi) ** 2)
    assert DE.degree_floor(X, 0.6) == 2 and DE.degree_floor(X, 0.5) == 4
    assert DE.energy_floor(X) == (0.0, 0.0)
    R = DE.target_energies("relu", 40)
    assert np.isclose(R.total, 0.5) and DE.degree_floor(R, 0.01) == 4


def test_monte_carlo_family_energies_match_the_exact_halfspace():
    F = DE.family_energies("halfspace", 2, max_degree=5, n_tasks=30, n_z=3000, seed=3)
    E = DE.target_energies("halfspace", 5)
    assert np.all(np.abs(F.energies - E.energies) <= 4 * F.se + 1e-12)
    assert abs(F.tail - E.tail) <= 4 * F.tail_se
    # one direction: every contraction norm equals E_k
    for k in (3, 5):
        assert abs(F.cross[(k, k, k - 2)] - E.energies[k]) <= 4 * F.cross_se[(k, k, k - 2)]
    Q = DE.family_energies("quadratic", 2, max_degree=4, n_tasks=5, n_z=2000, seed=1)
    assert np.all(Q.energies[1::2] == 0) and DE.energy_floor(Q) == (0.0, 0.0)
