"""Route ceilings of the n* bound (qa/probe_routes.py, docs/derivations.md 6.7)."""
import math

import numpy as np
import pytest

from mtlcheck.qa.probe_routes import route_ceilings, route_curves
from mtlcheck.reports.tables import ceiling_text
from mtlcheck.theory import bounds as B


def _features(d=12, r=2, m=16, seed=0):
    rng = np.random.default_rng(seed)
    M, _ = np.linalg.qr(rng.standard_normal((d, r)))
    # rows near the span of M, as after pretraining, plus a little out-of-span energy
    W = rng.standard_normal((m, r)) @ M.T + 0.2 * rng.standard_normal((m, d))
    return B.normalise_rows(W), M


def test_population_ridge_solution_matches_a_large_sample_fit():
    """b_lam(v) = (G + lam)^-1 W M v / sqrt(2 pi) (derivations 2.2, 2.7) against a ridge fit on
    400k samples: E[y relu(w.x)] = (w.u)/sqrt(2 pi) for y = sign(u.x), unit w and u."""
    W, M = _features()
    lam, rng = 0.1, np.random.default_rng(1)
    v = np.array([0.6, 0.8])
    G = B.arccos_kernel(W)
    b = np.linalg.solve(G + lam * np.eye(len(W)), W @ M @ v / math.sqrt(2 * math.pi))
    X = rng.standard_normal((400_000, M.shape[0]))
    y = np.where(X @ (M @ v) >= 0, 1.0, -1.0)
    F = np.maximum(X @ W.T, 0.0)
    b_mc = np.linalg.solve(F.T @ F / len(X) + lam * np.eye(len(W)), F.T @ y / len(X))
    assert np.linalg.norm(b_mc - b) < 0.02 * np.linalg.norm(b)


def test_route_curves_are_ordered_where_the_proof_says_so():
    """Pointwise, (y - clip(y - e))^2 <= min(4, e^2) (step 2 of 6.1), so the clipped leave-one-out
    risk is below the loo route on the same draws; the leverage route bounds min(4, e^2) for
    every q up to the empirical mass above h_q (here a grid of 80 q, so within 1/N of it);
    every route tends to a floor as n grows, and the lipschitz route lies above the clipped
    risk (an inequality in expectation: checked with room for Monte Carlo error)."""
    W, M = _features()
    grid = [4, 8, 16, 64, 256]
    c = route_curves(W, M, grid, 0.1, reps=40, seed=3, n_test=4000)
    assert set(c) >= {"n", "clipped", "loo", "leverage", "lipschitz", "clip_floor"}
    for i in range(len(grid)):
        assert c["clipped"][i] <= c["loo"][i] + 1e-12
        assert c["loo"][i] <= c["leverage"][i] + 1e-3
        assert c["clipped"][i] <= c["lipschitz"][i] + 0.02
    assert c["loo"][-1] < c["loo"][0] and c["lipschitz"][-1] < c["lipschitz"][0]
    assert c["clip_floor"] <= c["loo"][-1] + 0.02


def test_route_ceilings_report_crossings_and_censoring():
    W, M = _features()
    grid = [4, 8, 16, 32, 64]
    out = route_ceilings(W, M, grid, 0.1, eps=0.999, n_star=4.0, reps=10, seed=5)
    assert [c["route"] for c in out] == ["loo", "leverage", "lipschitz"]
    for c in out:
        if c["n"] is None:
            assert c["slack"] is None and c["beyond"] == 64
            assert ceiling_text(c, 4.0) == "n > 64 (> 16x n*)"
        else:
            assert c["slack"] == pytest.approx(c["n"] / 4.0)
            assert ceiling_text(c).startswith("n = ")
    # an eps below every floor: no route reaches it on the grid
    low = route_ceilings(W, M, grid, 0.1, eps=0.01, n_star=math.inf, reps=4, seed=5)
    assert all(c["n"] is None and c["slack"] is None and c["beyond"] == 64 for c in low)
    assert ceiling_text(low[0], math.inf) == "n > 64"


def test_route_curves_reject_bad_input():
    W, M = _features()
    with pytest.raises(ValueError):
        route_curves(W, M, [], 0.1, reps=4, seed=0)
    with pytest.raises(ValueError):
        route_curves(W, M, [4], 0.1, reps=1, seed=0)
