"""Tests of theory/probe_bound.py (docs/derivations.md section 6): the leave-one-out constants, the
steps of the probe bound on simulation, and the bounds on n* and m*. Single-threaded."""
import math

import numpy as np
import pytest
import torch

from mtlcheck.sim.pretrain import PretrainConfig, pretrain
from mtlcheck.theory import bounds as B
from mtlcheck.theory import probe_bound as PB
from mtlcheck.theory.model import Algorithm, ReferenceModel

torch.set_num_threads(1)


def test_loo_kappa_and_optimal_alpha():
    h = np.linspace(1e-6, 1 - 1e-9, 200_001)
    for a in (1.0, 1.2, 2.0, 9.0):
        grid = np.max(4 * np.clip(1 - a * (1 - h) ** 2, 0, None) / h)
        assert grid == pytest.approx(PB.loo_kappa(a), rel=1e-4)
    for R, c in ((0.37, 0.02), (0.1, 0.5), (0.8, 1e-4)):
        al = np.linspace(1, 40, 400_001)
        kap = 8 * np.sqrt(al) / (np.sqrt(al) + np.sqrt(al - 1))
        assert np.min(al * R + kap * c) == pytest.approx(PB.loo_combine(R, c), rel=1e-6)


@pytest.fixture(scope="module")
def probe_W():
    res = pretrain(PretrainConfig(ReferenceModel(16, 2), Algorithm(64, 2000, 2000, 32), seed=3,
                                  device="cpu", dtype="float64"))
    return res.W.numpy(), res.M.numpy()


def test_probe_steps_hold_on_simulation(probe_W):
    """LOO identity and the split inequality surely; the comparator and leverage steps in mean;
    the bound against the simulated clipped test risk."""
    W, M = probe_W
    n, lam = 64, 0.1
    val, info = PB.probe_bound_tight(W, M, n, lam, parts=True)
    st = PB.probe_sim_stats(W, M, n, lam, reps=200, seed=5, n_test=500)
    mean = lambda k: float(np.mean([s[k] for s in st]))
    se = lambda k: float(np.std([s[k] for s in st]) / math.sqrt(len(st)))
    assert max(s["ratio_split"] for s in st) <= 1 + 1e-9
    assert max(s["ratio_clip"] for s in st) <= 1 + 1e-9
    assert mean("mean_h") <= info["df"] / (n + 1) + 3 * se("mean_h")
    assert mean("mean_r2") <= info["R_star"] + 3 * se("mean_r2")
    assert mean("test_risk") <= val
    assert mean("loo_clip") <= val
    assert val <= 1.0                    # the clipped risk is at most 1: the bound is not vacuous


def test_probe_bound_deterministic_loo_identity():
    """e_j = r_j / (1 - h_j) equals the residual of the fit without sample j (penalty n lam)."""
    rng = np.random.default_rng(6)
    n, m, lam = 30, 5, 0.3
    F = rng.random((n + 1, m))
    y = rng.choice([-1.0, 1.0], n + 1)
    A = F.T @ F + n * lam * np.eye(m)
    beta = np.linalg.solve(A, F.T @ y)
    h = np.einsum("ij,ji->i", F, np.linalg.solve(A, F.T))
    for j in (0, 7, n):
        keep = np.arange(n + 1) != j
        bj = np.linalg.solve(F[keep].T @ F[keep] + n * lam * np.eye(m), F[keep].T @ y[keep])
        assert y[j] - F[j] @ bj == pytest.approx((y[j] - F[j] @ beta) / (1 - h[j]), rel=1e-9)


def test_probe_sample_and_width_bounds(probe_W):
    W, M = probe_W
    nb = PB.probe_sample_bound_tight([(W, M)], 0.5, 0.1)
    assert math.isfinite(nb)
    assert PB.probe_bound_tight(W, M, int(nb), 0.1) <= 0.5 + 1e-9
    # n* is the least n with the bound <= eps (the bound decreases in n): one sample fewer fails
    if nb > 1:
        assert PB.probe_bound_tight(W, M, int(nb) - 1, 0.1) > 0.5 - 1e-9
    widths = [2, 4, 8, 16, 32]
    exact = B.width_risk_curve(W, M, widths)
    for form in ("exact", "diag", "E_out"):
        bnd = PB.width_bound_curve_tight(W, M, widths, form=form)
        assert all(b >= e - 1e-7 for b, e in zip(bnd, exact))


def test_width_risk_curve_stops_at_its_first_crossing():
    """stop_below computes the curve up to its first width with risk <= the level (leading
    blocks of growing size): equal to the full curve there, None past it, the same crossing."""
    from mtlcheck.checks.complexity import crossing_status
    from mtlcheck.checks.profiles import geometric
    rng = np.random.default_rng(5)
    grid = geometric(4, 1024)
    for d, level in ((8, 0.5), (64, 0.5), (128, 0.6), (128, 0.0)):
        W = rng.standard_normal((1024, d))
        M = np.linalg.qr(rng.standard_normal((d, 2)))[0]
        full = B.width_risk_curve(W, M, grid)
        part = B.width_risk_curve(W, M, grid, stop_below=level)
        k = sum(v is not None for v in part)
        assert all(v is None for v in part[k:])
        assert np.allclose(part[:k], full[:k], rtol=0, atol=1e-12)
        if level > 0:                       # crosses: stops at the first crossing
            assert part[k - 1] <= level and all(v > level for v in full[:k - 1]) and k < len(grid)
        else:                               # never crosses: the whole curve
            assert k == len(grid)
        assert crossing_status(grid, part, level) == pytest.approx(crossing_status(grid, full, level))
    with pytest.raises(ValueError, match="increasing"):
        B.width_risk_curve(W, M, [8, 4], stop_below=0.5)
    # a sparse grid (the next width more than twice the last tried) still ends
    assert B.width_risk_curve(W, M, [1, 2, 600, 1000], stop_below=0.0)[-1] is not None


def test_remembered_grams_are_the_computed_ones_and_private():
    """arccos_kernel and the Gram eigenvalues are remembered by W's content: the same numbers as
    a fresh computation, a changed W gets its own, and a caller's edit does not leak."""
    from mtlcheck.theory import population as P
    rng = np.random.default_rng(0)
    W = rng.standard_normal((16, 5))
    fresh = P._arccos_kernel(P.check_matrix("W1", W, "t", "(m, d)"), None, 1)
    G = P.arccos_kernel(W)
    assert np.array_equal(G, fresh)
    G[0, 0] = -1.0
    assert np.array_equal(P.arccos_kernel(W), fresh)
    W2 = W.copy()
    W2[3, 1] += 1e-3
    assert not np.array_equal(P.arccos_kernel(W2), fresh)
    assert np.array_equal(P.arccos_kernel(W, degree=0),
                          P._arccos_kernel(W, None, 0))
    ev = PB._gram_eigs(W)
    ev[:] = 0
    fresh_unit = P._arccos_kernel(B.normalise_rows(W), None, 1)
    assert np.array_equal(PB._gram_eigs(W), np.clip(np.linalg.eigvalsh(fresh_unit), 0, None))


def test_content_memo_stays_within_its_byte_budget():
    from mtlcheck.theory.population import ContentMemo
    memo = ContentMemo(max_bytes=3 * 8 * 100)             # three 10 x 10 float64 results
    rng = np.random.default_rng(1)
    Ws = [rng.standard_normal((10, 3)) for _ in range(5)]
    calls = []
    f = lambda W: (calls.append(1), W @ W.T)[1]
    for W in Ws:
        assert np.array_equal(memo(lambda: f(W), W), W @ W.T)
    assert memo._bytes <= 3 * 800 and len(memo._items) == 3
    n = len(calls)
    memo(lambda: f(Ws[-1]), Ws[-1])                       # recent: remembered
    memo(lambda: f(Ws[0]), Ws[0])                         # evicted: computed again
    assert len(calls) == n + 1
    # a result above max_result_bytes is returned, not kept (the Grams memo: <= 512 rows)
    small = ContentMemo(max_result_bytes=8 * 100 - 1)
    assert np.array_equal(small(lambda: f(Ws[0]), Ws[0]), Ws[0] @ Ws[0].T)
    assert small._items == {} and small._bytes == 0
    from mtlcheck.theory import population as P
    before = len(P._GRAMS._items)
    wide = rng.standard_normal((513, 2))
    assert np.array_equal(P.arccos_kernel(wide), P._arccos_kernel(wide, None, 1))
    assert len(P._GRAMS._items) == before                 # 513 rows: computed, not kept
    P.arccos_kernel(wide[:512])
    assert len(P._GRAMS._items) == before + 1             # 512 rows: kept
