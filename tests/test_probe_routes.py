"""Route floors of the n* bound (qa/probe_routes.py, docs/derivations.md 6.7)."""
import math

import numpy as np
import pytest

from mtlcheck.qa.probe_routes import (population_ridge, route_ceilings, route_curves,
                                      split_value)
from mtlcheck.reports.tables import ceiling_text
from mtlcheck.theory import bounds as B
from mtlcheck.theory import probe_bound as PB


def _features(d=12, r=2, m=16, seed=0):
    rng = np.random.default_rng(seed)
    M, _ = np.linalg.qr(rng.standard_normal((d, r)))
    # rows near the span of M, as after pretraining, plus a little out-of-span energy
    W = rng.standard_normal((m, r)) @ M.T + 0.2 * rng.standard_normal((m, d))
    return B.normalise_rows(W), M


def _pool(W, M, v, n, rng):
    X = rng.standard_normal((n + 1, M.shape[0]))
    y = np.where(X @ (M @ v) >= 0, 1.0, -1.0)
    return np.maximum(X @ W.T, 0.0), y


def test_population_ridge_matches_a_large_sample_fit():
    """population_ridge: (G + lam)^-1 W M v / sqrt(2 pi) against a ridge fit on 4e5 samples with
    the probe's objective (1/n) sum (y - b.phi)^2 + lam |b|^2."""
    W, M = _features()
    lam, rng = 0.1, np.random.default_rng(1)
    vs = np.array([[0.6, 0.8], [1.0, 0.0]])
    b = population_ridge(W, M, vs, lam)
    for v, bv in zip(vs, b):
        F, y = _pool(W, M, v, 400_000, rng)
        b_mc = np.linalg.solve(F.T @ F / len(y) + lam * np.eye(len(W)), F.T @ y / len(y))
        assert np.linalg.norm(b_mc - bv) < 0.02 * np.linalg.norm(bv)


def test_pool_stats_leave_one_out_is_the_n_sample_probe():
    """e_j = y_j - b_{-j}.phi_j with b_{-j} refitted without sample j at penalty n lam (the
    n-sample probe), for every j; b_n is the fit on the first n samples, so e_n uses it."""
    W, M = _features()
    F, y = _pool(W, M, np.array([0.6, 0.8]), 9, np.random.default_rng(2))
    lam, n, m = 0.1, 9, F.shape[1]
    st = PB.pool_stats(F, y, lam)
    for j in range(n + 1):
        keep = np.arange(n + 1) != j
        bj = np.linalg.solve(F[keep].T @ F[keep] + n * lam * np.eye(m), F[keep].T @ y[keep])
        assert st["e"][j] == pytest.approx(y[j] - F[j] @ bj, rel=1e-8, abs=1e-10)
    assert st["e"][n] == pytest.approx(y[n] - F[n] @ st["b_n"], rel=1e-8, abs=1e-10)
    assert np.all((st["h"] >= 0) & (st["h"] < 1))


def test_split_value_is_the_best_split_and_bounds_the_loo_value():
    """min(4, e^2) <= alpha r^2 + 4 (1 - alpha (1-h)^2)_+ for every alpha >= 1 (step 3 of 6.1), so
    the mean of min(4, e^2) is below split_value; split_value is below 6.1's own kappa form
    (loo_combine), below every single threshold, and equal to a brute-force minimum over alpha."""
    W, M = _features()
    rng = np.random.default_rng(3)
    r2, hs, m4 = [], [], []
    for _ in range(30):
        v = rng.standard_normal(2)
        st = PB.pool_stats(*_pool(W, M, v / np.linalg.norm(v), 12, rng), 0.1)
        r2.append(st["r"] ** 2), hs.append(st["h"]), m4.append(np.minimum(4, st["e"] ** 2))
    r2, hs, m4 = map(np.concatenate, (r2, hs, m4))
    val, alpha = split_value(r2, hs)
    assert alpha >= 1 and float(np.mean(m4)) <= val + 1e-12
    assert val <= PB.loo_combine(float(np.mean(r2)), float(np.mean(hs))) + 1e-12
    for h0 in np.quantile(hs, [0.5, 0.9, 0.99]):
        assert val <= float(np.mean(r2)) / (1 - h0) ** 2 + 4 * float(np.mean(hs > h0)) + 1e-12
    brute = min(a * np.mean(r2) + 4 * np.mean(np.maximum(1 - a * (1 - hs) ** 2, 0))
                for a in np.geomspace(1, 1e3, 20001))
    assert val == pytest.approx(brute, rel=1e-4)


def test_route_curves_against_an_independent_computation():
    """Every value of route_curves recomputed from the same draws (its documented order): the
    clipped and loo curves, E |b_n - b_lam|_G^2 with the exact Gram, the Lipschitz route
    (sqrt(floor) + sqrt(dev))^2 and the split route."""
    W, M = _features()
    lam, reps, n, n_test, seed = 0.1, 3, 7, 500, 11
    c = route_curves(W, M, [n], lam, reps=reps, seed=seed, n_test=n_test)
    rng = np.random.default_rng(seed)
    vs = rng.standard_normal((reps, 2))
    vs /= np.linalg.norm(vs, axis=1, keepdims=True)
    G = B.arccos_kernel(W)
    b_lam = [np.linalg.solve(G + lam * np.eye(len(W)), W @ M @ v / math.sqrt(2 * math.pi))
             for v in vs]
    floor = []
    for v, b in zip(vs, b_lam):
        X = rng.standard_normal((n_test, M.shape[0]))
        y = np.where(X @ (M @ v) >= 0, 1.0, -1.0)
        floor.append(np.mean((y - np.clip(np.maximum(X @ W.T, 0) @ b, -1, 1)) ** 2))
    clipped, loo, dev, r2, hs = [], [], [], [], []
    for v, b in zip(vs, b_lam):
        F, y = _pool(W, M, v, n, rng)
        e = np.empty(n + 1)
        for j in range(n + 1):
            keep = np.arange(n + 1) != j
            A = F[keep].T @ F[keep] + n * lam * np.eye(len(W))
            bj = np.linalg.solve(A, F[keep].T @ y[keep])
            e[j] = y[j] - F[j] @ bj
        bn = np.linalg.solve(F[:n].T @ F[:n] + n * lam * np.eye(len(W)), F[:n].T @ y[:n])
        clipped.append(np.mean((y - np.clip(y - e, -1, 1)) ** 2))
        loo.append(np.mean(np.minimum(4, e ** 2)))
        dev.append((bn - b) @ G @ (bn - b))
        st = PB.pool_stats(F, y, lam)
        r2.append(st["r"] ** 2), hs.append(st["h"])
    assert c["clip_floor"] == pytest.approx(np.mean(floor), rel=1e-9)
    assert c["clipped"][0] == pytest.approx(np.mean(clipped), rel=1e-8)
    assert c["loo"][0] == pytest.approx(np.mean(loo), rel=1e-8)
    assert c["dev"][0] == pytest.approx(np.mean(dev), rel=1e-8)
    assert c["lipschitz"][0] == pytest.approx(
        (math.sqrt(np.mean(floor)) + math.sqrt(np.mean(dev))) ** 2, rel=1e-8)
    assert c["split"][0] == pytest.approx(split_value(np.concatenate(r2), np.concatenate(hs))[0],
                                          rel=1e-8)
    assert all(c[k + "_se"][0] > 0 for k in ("clipped", "loo", "split", "lipschitz", "exchange"))
    # exchangeability route (derivations 6.8): unclipped e^2 >= min(4, e^2) pointwise
    assert all(x >= y - 1e-12 for x, y in zip(c["exchange"], c["loo"]))
    # derivations 6.9: per repetition min(4, base + q/lmin^2) <= the lower-tail value at every c
    assert all(x <= y + 1e-12 for x, y in zip(c["invmoment"], c["lowertail"]))
    assert all(0.02 <= x <= 1.5 for x in c["lowertail_c"])


def test_route_ceilings_floors_and_censoring():
    """A floor is the last grid n before the route comes within Z_FLOOR standard errors of eps;
    eps above every value at the first grid point: no floor (left); eps below every value: the
    whole grid (right); slack = n / n* of the same draws, None when that n* is censored."""
    W, M = _features()
    grid = [4, 8, 16, 32, 64]
    mid = route_ceilings(W, M, grid, 0.1, eps=0.6, reps=20, seed=5)
    assert [c["route"] for c in mid] == ["loo", "split", "lipschitz", "exchange", "lowertail",
                                         "invmoment"]
    for c in mid:
        if c["n"] is not None and c["slack"] is not None:
            assert c["slack"] == pytest.approx(c["n"] / c["n_star"])
            assert c["n"] in grid and (c["crossing"] is None or c["crossing"] >= c["n"] * 0.999)
    high = route_ceilings(W, M, grid, 0.1, eps=10.0, reps=4, seed=5)
    assert all(c["n"] is None and c["slack"] is None and c["censored"] == "left" for c in high)
    assert all(c["n_star"] is None for c in high)          # n* itself is left-censored
    assert ceiling_text(high[0]).startswith("no floor")
    low = route_ceilings(W, M, grid, 0.1, eps=0.01, reps=4, seed=5)
    assert all(c["n"] == 64 and c["censored"] == "right" and c["crossing"] is None for c in low)
    assert all(c["slack"] is None for c in low)            # n* is right-censored: no ratio
    assert ceiling_text(low[0]) == "needs n > 64: above eps on the whole grid"
    one = dict(low[0], slack=16.0, n_star=4.0, censored=None, crossing=80.0)
    assert ceiling_text(one) == "needs n > 64 (16x n* = 4); crosses eps near 80"


def test_route_curves_reject_bad_input():
    W, M = _features()
    with pytest.raises(ValueError):
        route_curves(W, M, [], 0.1, reps=4, seed=0)
    with pytest.raises(ValueError):
        route_curves(W, M, [4], 0.1, reps=1, seed=0)
