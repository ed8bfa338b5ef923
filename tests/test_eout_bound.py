"""Tests of theory/eout_bound.py (docs/derivations.md section 9): the projection inequality of
9.4b, the E_out and kappa bounds and their steps against pretraining runs, monotonicity, and a
deliberately broken constant that the simulated quantiles must catch. Single-threaded."""
import math

import numpy as np
import pytest
import torch

from mtlcheck.sim.pretrain import PretrainConfig, pretrain
from mtlcheck.theory import bounds as B
from mtlcheck.theory import eout_bound as EB
from mtlcheck.theory.model import Algorithm, ReferenceModel

torch.set_num_threads(1)


def _mc_quantile_ok(samples, bound, q):
    """The simulated q-quantile must lie below the bound (order statistic, no interpolation)."""
    x = np.sort(np.asarray(samples))
    return x[int(math.ceil(q * len(x))) - 1] <= bound


def test_kappa_projection_inequality_is_deterministic():
    """Section 9.4b: kappa = |H V|^2/|H|^2 >= lambda_min(V^T V) X/(X + Y) with X = (|A| - |E Q|)_+^2,
    Y = |E|^2, for H = A + E, A = G V^T (any G), Q an orthonormal basis of col(V): random cases."""
    rng = np.random.default_rng(14)
    for _ in range(300):
        m, T, r = rng.integers(3, 20), rng.integers(3, 40), rng.integers(1, 3)
        V = rng.standard_normal((T, r))
        A = rng.standard_normal((m, r)) @ V.T * rng.uniform(0.1, 3)
        E = rng.standard_normal((m, T)) * rng.uniform(0.01, 2)
        H = A + E
        Q = np.linalg.qr(V)[0]
        X = max(np.linalg.norm(A) - np.linalg.norm(E @ Q), 0.0) ** 2
        lb = np.linalg.eigvalsh(V.T @ V)[0] * X / (X + (E * E).sum())
        assert ((H @ V) ** 2).sum() / (H * H).sum() >= lb * (1 - 1e-12)


@pytest.fixture(scope="module")
def hp_runs():
    d, r, T, n1, n2, m = 8, 2, 256, 256, 256, 32
    out = []
    for s in range(60):
        res = pretrain(PretrainConfig(ReferenceModel(d, r), Algorithm(T, n1, n2, m), seed=s,
                                      device="cpu", dtype="float64"))
        out.append(tuple(x.numpy() for x in (res.W0, res.W, res.M, res.heads, res.tasks.params)))
    return (d, r, T, n1, n2, m), out


def test_e_out_hp_bounds_hold(hp_runs):
    (d, r, T, n1, n2, m), runs = hp_runs
    dl = 0.1
    val, info = EB.e_out_hp_bound_tight(d, r, T, n1, n2, m, dl, parts=True)
    stats = [EB.e_out_sim_stats(W0, W, M, H, V, n1, n2, info=info) for W0, W, M, H, V in runs]
    assert _mc_quantile_ok([s["E_out"] for s in stats], val, 1 - dl)
    for st in info["steps"]:
        q = st["delta"]
        vals = [s[st["sim"]] for s in stats]
        if st["kind"] == "upper":
            assert np.max(vals) <= st["proof"] or _mc_quantile_ok(vals, st["proof"], 1 - q), st
        else:
            assert np.min(vals) >= st["proof"], st
    ratios = [s["E_out"] / EB.e_out_hp_bound_given_s1(W0, M, H.T, V, n2, dl)
              for s, (W0, W, M, H, V) in zip(stats, runs)]
    assert _mc_quantile_ok(ratios, 1.0, 1 - dl)
    kap = [EB.kappa_lb_given_w0v(W0, M, V, n1, dl) for W0, W, M, H, V in runs[:30]]
    assert _mc_quantile_ok(-np.array([s["kappa"] for s in stats[:30]]) / np.array(kap), -1.0, 1 - dl)


def test_e_out_bound_monotone_in_T_and_n_numerically():
    b = [EB.e_out_hp_bound_tight(16, 2, T, 1024, 1024, 64, 0.05) for T in (256, 512, 1024, 2048)]
    assert all(x >= y for x, y in zip(b, b[1:]))
    k = [EB.kappa_lb_tight(16, 2, T, 512, 64, 0.05) for T in (64, 128, 256, 512, 1024)]
    assert all(x <= y for x, y in zip(k, k[1:]))


def test_broken_constant_is_detected(hp_runs, monkeypatch):
    """A wrong ind_sq = E[1{w.x>0}(e.x)^2] (1/4 instead of the derived 1/2) halves the expected
    out-of-span energy in the conditional bound of section 9.5; the simulated quantile of
    E_out / bound must then exceed 1, so the check has power."""
    (d, r, T, n1, n2, m), runs = hp_runs
    dl = 0.3          # a large delta: the Cantelli deviation is small, the constant dominates
    assert EB._ind() == float(B.derived_constants()["ind_sq"])

    def ratios():
        return [EB.e_out_sim_stats(W0, W, M, H, V, n1, n2)["E_out"]
                / EB.e_out_hp_bound_given_s1(W0, M, H.T, V, n2, dl) for W0, W, M, H, V in runs]
    assert _mc_quantile_ok(ratios(), 1.0, 1 - dl)
    monkeypatch.setattr(EB, "_ind", lambda: 0.25)
    assert not _mc_quantile_ok(ratios(), 1.0, 1 - dl)
