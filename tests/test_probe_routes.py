"""Route floors of the n* bound (qa/probe_routes.py, docs/derivations.md 6.7)."""
import math

import numpy as np
import pytest

from mtlcheck.qa.probe_routes import (HOLDER_P, PROJ_S, PROJ_T, holder_value, lower_tail_terms,
                                      population_ridge, projection_value, projholder_value,
                                      route_ceilings, route_curves, split_value, whitener)
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


def _holder_brute(lm, bs, qs):
    """(value, standard error, p) of the best Hoelder split, from the definitions: the delta
    method's influence of each repetition on mean(base) + mean(a)^(1/p) mean(b)^(1/p')."""
    best = None
    for p in HOLDER_P:
        pp = p / (p - 1)
        a, b = qs ** p, lm ** (-2 * pp)
        prod = np.mean(a) ** (1 / p) * np.mean(b) ** (1 / pp)
        v = np.mean(bs) + prod
        infl = bs - np.mean(bs) + prod * (a / np.mean(a) / p + b / np.mean(b) / pp - 1 / p - 1 / pp)
        se = np.std(infl, ddof=1) / math.sqrt(len(bs))
        if v >= 4:
            v, se = 4.0, 0.0
        if best is None or v < best[0]:
            best = (v, se, p)
    return best


def test_route_curves_against_an_independent_computation():
    """Every value of route_curves recomputed from the same draws (its documented order): the
    clipped and loo curves, E |b_n - b_lam|_G^2 with the exact Gram, the Lipschitz route
    (sqrt(floor) + sqrt(dev))^2, the split route and the routes of 6.9-6.10, at a small n (where
    the inverse-moment values are capped at 4) and at n = 80 (where none is)."""
    W, M = _features()
    lam, reps, grid, n_test, seed = 0.1, 3, [7, 80], 500, 11
    c = route_curves(W, M, grid, lam, reps=reps, seed=seed, n_test=n_test)
    rng = np.random.default_rng(seed)
    vs = rng.standard_normal((reps, 2))
    vs /= np.linalg.norm(vs, axis=1, keepdims=True)
    G = B.arccos_kernel(W)
    b_lam = [np.linalg.solve(G + lam * np.eye(len(W)), W @ M @ v / math.sqrt(2 * math.pi))
             for v in vs]
    floor, dist = [], []
    for v, b in zip(vs, b_lam):
        X = rng.standard_normal((n_test, M.shape[0]))
        y = np.where(X @ (M @ v) >= 0, 1.0, -1.0)
        f = np.maximum(X @ W.T, 0) @ b
        floor.append(np.mean((y - np.clip(f, -1, 1)) ** 2))
        dist.append(np.mean(np.maximum(np.abs(f) - 1, 0) ** 2))
    assert c["clip_floor"] == pytest.approx(np.mean(floor), rel=1e-9)
    assert c["dist_floor"] == pytest.approx(np.mean(dist), rel=1e-9)
    hv = [W @ M @ v / math.sqrt(2 * math.pi) for v in vs]
    R_lam = [1 - 2 * b @ h + b @ G @ b for b, h in zip(b_lam, hv)]
    Kinv = whitener(G, lam)
    I = np.eye(len(W))
    for k, n in enumerate(grid):
        clipped, loo, dev, r2, hs, proj, pinv, trip = [], [], [], [], [], [], [], []
        for i, (v, b) in enumerate(zip(vs, b_lam)):
            F, y = _pool(W, M, v, n, rng)
            e = np.empty(n + 1)
            for j in range(n + 1):
                keep = np.arange(n + 1) != j
                bj = np.linalg.solve(F[keep].T @ F[keep] + n * lam * I, F[keep].T @ y[keep])
                e[j] = y[j] - F[j] @ bj
            bn = np.linalg.solve(F[:n].T @ F[:n] + n * lam * I, F[:n].T @ y[:n])
            clipped.append(np.mean((y - np.clip(y - e, -1, 1)) ** 2))
            loo.append(np.mean(np.minimum(4, e ** 2)))
            dev.append((bn - b) @ G @ (bn - b))
            st = PB.pool_stats(F, y, lam)
            r2.append(st["r"] ** 2), hs.append(st["h"])
            # 6.9-6.10 on the n-sample probe (the pool's first n), from the definitions
            Fn, yn = F[:n], y[:n]
            base = R_lam[i] + 2 * lam * b @ (b - bn)
            U = Fn.T @ yn - (Fn.T @ Fn + n * lam * I) @ b
            q = np.sum((Kinv @ U) ** 2) / n ** 2
            lmin = np.linalg.eigvalsh(Kinv @ (Fn.T @ Fn / n + lam * I) @ Kinv)[0]
            lt = lower_tail_terms(Fn, yn, b, R_lam[i], G, lam)
            assert lt == pytest.approx((lmin, base, q), rel=1e-8)
            D = dist[i]
            g = lambda x: min(4.0, base + x - max(math.sqrt(D) - math.sqrt(x), 0.0) ** 2)
            proj.append(g(dev[-1])), pinv.append(g(q / lmin ** 2))
            trip.append((lmin, base, q, D))
        assert c["clipped"][k] == pytest.approx(np.mean(clipped), rel=1e-8)
        assert c["loo"][k] == pytest.approx(np.mean(loo), rel=1e-8)
        assert c["dev"][k] == pytest.approx(np.mean(dev), rel=1e-8)
        assert c["lipschitz"][k] == pytest.approx(
            (math.sqrt(np.mean(floor)) + math.sqrt(np.mean(dev))) ** 2, rel=1e-8)
        assert c["split"][k] == pytest.approx(
            split_value(np.concatenate(r2), np.concatenate(hs))[0], rel=1e-8)
        assert c["projection"][k] == pytest.approx(np.mean(proj), rel=1e-8)
        assert c["projinv"][k] == pytest.approx(np.mean(pinv), rel=1e-8)
        lm, bs, qs, Ds = map(np.array, zip(*trip))
        assert c["invmoment"][k] == pytest.approx(np.mean(np.minimum(bs + qs / lm ** 2, 4)),
                                                  rel=1e-8)
        hv_, hse, hp = _holder_brute(lm, bs, qs)
        assert (c["holder"][k], c["holder_se"][k], c["holder_p"][k]) == pytest.approx(
            (hv_, hse, hp), rel=1e-8)
        # projholder: a tangent of Gamma_D at t_v (common, or s D_v), then Hoelder
        tang = []
        for tv in [np.full(reps, t) for t in PROJ_T] + [s * Ds for s in PROJ_S]:
            sl = np.maximum(1, np.sqrt(Ds / tv))
            gam = tv - np.maximum(np.sqrt(Ds) - np.sqrt(tv), 0) ** 2
            tang.append(_holder_brute(lm, bs + gam - sl * tv, sl * qs)[:2])
        best = min(tang, key=lambda x: x[0])
        assert (c["projholder"][k], c["projholder_se"][k]) == pytest.approx(best, rel=1e-8)
        assert c["projholder_t"][k].startswith("t=")
    # at n = 80 the values of 6.9-6.10 are not capped, so the comparisons below mean something
    for key in ("invmoment", "holder", "projinv", "projholder", "lowertail"):
        assert c[key][1] < 4.0 and c[key + "_se"][1] > 0, key
    assert all(c[k + "_se"][0] > 0 for k in ("clipped", "loo", "split", "lipschitz", "exchange"))
    # exchangeability route (derivations 6.8): unclipped e^2 >= min(4, e^2) pointwise
    assert all(x >= y - 1e-12 for x, y in zip(c["exchange"], c["loo"]))
    # derivations 6.9: per repetition min(4, base + q/lmin^2) <= the lower-tail value at every c
    assert all(x <= y + 1e-12 for x, y in zip(c["invmoment"], c["lowertail"]))
    assert all(0.02 <= x <= 1.5 for x in c["lowertail_c"])
    # derivations 6.10: Hoelder on the empirical law, and q / lmin^2 >= dev with the projection
    # value increasing in dev
    assert all(x >= y - 1e-12 for x, y in zip(c["holder"], c["invmoment"]))
    assert all(x >= y - 1e-12 for x, y in zip(c["projinv"], c["projection"]))
    assert all(x <= y + 1e-12 for x, y in zip(c["projinv"], c["invmoment"]))
    assert all(x >= y - 1e-12 for x, y in zip(c["projholder"], c["projinv"]))


def test_projection_route_inequalities_on_empirical_laws():
    """The two inequalities of the projection route (derivations 6.10) hold on every empirical
    law of test points, so they are checked exactly: (y - clip f)^2 <= (y - f)^2 - dist(f, [-1,1])^2
    for y in [-1, 1], and mean dist(f_n)^2 >= (sqrt(mean dist(f_lam)^2) - sqrt(mean (f_n -
    f_lam)^2))_+^2. Together: the clipped empirical risk is at most projection_value of the
    empirical (base, D, dev) with base + dev the unclipped empirical risk."""
    rng = np.random.default_rng(7)
    for _ in range(300):
        k = int(rng.integers(1, 40))
        y = rng.uniform(-1, 1, k) if rng.random() < 0.5 else np.sign(rng.standard_normal(k))
        f_lam = rng.standard_normal(k) * rng.uniform(0.2, 3)
        f_n = f_lam + rng.standard_normal(k) * rng.uniform(0, 2)
        dist = lambda f: np.maximum(np.abs(f) - 1, 0)
        assert np.all((y - np.clip(f_n, -1, 1)) ** 2 <= (y - f_n) ** 2 - dist(f_n) ** 2 + 1e-12)
        D, dev = np.mean(dist(f_lam) ** 2), np.mean((f_n - f_lam) ** 2)
        assert np.mean(dist(f_n) ** 2) >= max(math.sqrt(D) - math.sqrt(dev), 0) ** 2 - 1e-12
        R = np.mean((y - f_n) ** 2)
        val = projection_value(R - dev, D, dev)
        assert np.mean((y - np.clip(f_n, -1, 1)) ** 2) <= val + 1e-12 or val == 4.0
    # increasing in dev (the projinv route relies on it)
    devs = np.linspace(0, 2, 2001)
    assert np.all(np.diff(projection_value(0.3, 0.05, devs)) >= -1e-15)


def test_holder_value_bounds_the_joint_value():
    """Hoelder on the empirical law: for every p, mean(q l) <= mean(q^p)^(1/p) mean(l^p')^(1/p'),
    so holder_value is at least the invmoment value mean(min(4, base + q / lmin^2)); its standard
    error is positive and the best p is one of HOLDER_P."""
    rng = np.random.default_rng(8)
    for _ in range(50):
        k = int(rng.integers(2, 60))
        lmin = rng.uniform(0.05, 1.5, k)
        base, q = rng.uniform(0.2, 0.5, k), rng.exponential(0.02, k)
        v, se, p = holder_value(lmin, base, q)
        assert v >= float(np.mean(np.minimum(base + q / lmin ** 2, 4.0))) - 1e-12
        assert p in HOLDER_P and se >= 0 and v <= 4.0
        # the tangents of the concave Gamma_D lie above it: projholder >= the projinv value
        D = rng.uniform(0.0, 0.1, k)
        pv, pse, t = projholder_value(lmin, base, q, D)
        assert pv >= float(np.mean(projection_value(base, D, q / lmin ** 2))) - 1e-12
        assert t.startswith("t=") and pse >= 0
    # Gamma_D is concave: every tangent lies above it on a grid
    D, xs = 0.05, np.linspace(1e-6, 0.5, 4001)
    gam = lambda x: x - np.maximum(math.sqrt(D) - np.sqrt(x), 0) ** 2
    for t in PROJ_T:
        assert np.all(gam(xs) <= gam(t) + max(1, math.sqrt(D / t)) * (xs - t) + 1e-12)


def test_route_ceilings_floors_and_censoring():
    """A floor is the last grid n before the route comes within Z_FLOOR standard errors of eps;
    eps above every value at the first grid point: no floor (left); eps below every value: the
    whole grid (right); slack = n / n* of the same draws, None when that n* is censored."""
    W, M = _features()
    grid = [4, 8, 16, 32, 64]
    mid = route_ceilings(W, M, grid, 0.1, eps=0.6, reps=20, seed=5)
    assert [c["route"] for c in mid] == ["loo", "split", "lipschitz", "exchange", "lowertail",
                                         "invmoment", "holder", "projection", "projinv",
                                         "projholder"]
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
