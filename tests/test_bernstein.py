"""docs/derivations.md 9.7: the Bernstein route floor of the bound (b), and 6.8: the
exchangeability identity behind the Mourtada-Rosasco route floor of the n* bound."""
from __future__ import annotations

import math

import numpy as np
import pytest

from mtlcheck.theory import eout_bound as E
from mtlcheck.theory.probe_bound import pool_stats
from mtlcheck.theory.tails import bernstein_dev, cantelli_dev


@pytest.mark.parametrize("var,delta", [(1.0, 0.01), (3.5, 0.002), (0.2, 0.05)])
def test_variance_term_lies_below_bernstein_and_cantelli(var, delta):
    """sqrt(2 v log(1/d)) <= Bernstein's deviation for every scale c >= 0, and below Cantelli's at
    the small shares (d <= 0.05) the split gives."""
    s = E.subgaussian_dev(var, delta)
    assert s == pytest.approx(math.sqrt(2 * var * math.log(1 / delta)))
    for L in (0.0, 0.1, 1.0, 10.0):
        assert bernstein_dev(var, L, delta) >= s - 1e-12
    assert cantelli_dev(var, delta) >= s


def test_gated_gaussian_sum_obeys_bernstein_with_the_moment_constants():
    """Monte Carlo: the gated Gaussian summands X = 1{g1 > 0} g2^2 - 1/2 (gates in {0, 1}) satisfy
    Bernstein's moment condition E|X|^q <= q! v c^(q-2)/2 with v = 7/4 >= E X^2 = 5/4 and c = 2
    (checked for q <= 12 from the exact moments E g^(2q) = (2q-1)!!), and the sum of n of them exceeds
    sqrt(2 n v l) + c l with frequency <= exp(-l) (BLM Thm 2.10)."""
    v, c = 7 / 4, 2.0
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(400000) > 0) * rng.standard_normal(400000) ** 2 - 0.5
    assert float(np.mean(x ** 2)) == pytest.approx(5 / 4, rel=0.03) and 5 / 4 <= v
    for q in range(3, 13):
        # |X| <= max(1{g1>0} g2^2, 1/2): E|X|^q <= (2q-1)!!/2 + 2^-q (exact Gaussian moments)
        exact_ub = math.prod(range(1, 2 * q, 2)) / 2 + 2.0 ** -q
        assert exact_ub <= math.factorial(q) * v * c ** (q - 2) / 2
        if q <= 8:
            assert float(np.mean(np.abs(x) ** q)) <= exact_ub * 1.05
    n, reps, l = 64, 20000, math.log(20)
    S = ((rng.standard_normal((reps, n)) > 0) * rng.standard_normal((reps, n)) ** 2 - 0.5).sum(1)
    freq = float(np.mean(S >= math.sqrt(2 * n * v * l) + c * l))
    assert freq <= math.exp(-l)


def test_bernstein_floor_lies_below_the_bound():
    """The floor is (b) with smaller deviations at every step and a re-optimised split: it is at
    most the bound, and at the quick markov configuration it is 0.109 (the hand computation of
    9.6), against the bound 0.442."""
    for cfg in [(32, 2, 64, 256, 256, 64), (64, 2, 256, 512, 512, 128), (16, 2, 2048, 2048, 2048, 256)]:
        b = E.e_out_hp_bound_tight(*cfg, 0.05)
        f = E.e_out_hp_bernstein_floor(*cfg, 0.05)["bound"]
        assert 0 < f <= b + 1e-12
    f = E.e_out_hp_bernstein_floor(32, 2, 64, 256, 256, 64, 0.05)
    assert f["bound"] == pytest.approx(0.109, abs=0.002)


def test_exchangeability_identity():
    """6.8: the risk of the n-sample ridge fit at a fresh point equals in law the squared
    leave-one-out residual of the (n+1)-sample pool, so E R(f_n) = E mean_j e_j^2 (Monte Carlo)."""
    rng = np.random.default_rng(3)
    m, n, lam, reps = 6, 20, 0.1, 3000
    W = rng.standard_normal((m, 5))
    loo, fresh = [], []
    for _ in range(reps):
        X = rng.standard_normal((n + 1, 5))
        y = np.sign(X[:, 0])
        F = np.maximum(X @ W.T, 0)
        st = pool_stats(F, y, lam)
        loo.append(float(np.mean(st["e"] ** 2)))
        fresh.append(float((y[n] - F[n] @ st["b_n"]) ** 2))
    se = np.std(fresh) / math.sqrt(reps)
    assert abs(np.mean(loo) - np.mean(fresh)) < 4 * se
