"""The C2 and C3 subchecks "n* (m*) below the derived d-free bound" can fail.

A deliberately degraded probe: one that keeps only one sample (C2) or one neuron (C3) in K.
Its error at a nominal n (width m) is exactly the real probe's error at n / K (m / K), so its
curve is the real curve on the grid scaled by K and its n* (m*) is K times the real one. The
main slope check is blind to it (a constant factor does not change a slope in log d); the bound
subcheck catches it once K exceeds the bound's slack. These tests measure both sides on real
pretraining runs: the real probe passes the subcheck, a degraded one fails it, and the slope
statistic is unchanged.
"""
import math

import numpy as np
import pytest

from mtlcheck.checks.claims import c2_sample_complexity as C2
from mtlcheck.checks.claims import c3_neuron_complexity as C3
from mtlcheck.checks.profiles import ALPHA, geometric
from mtlcheck.checks.rules import SlopeRule
from mtlcheck.checks.sweeps import growth_fit, pretrain_cell, seed_crossings
from mtlcheck.theory.bounds import budget_n

D_GRID, SEEDS, R, T, M_PRE = (8, 16), 8, 2, 64, 128


@pytest.fixture(scope="module")
def pre():
    out = {}
    for d in D_GRID:
        n = budget_n(d, R, T, 1e-3)
        for s in range(SEEDS):
            out[d, s] = pretrain_cell(d, R, T, n, M_PRE, 1000 * d + s, "cpu")
    return out


def _fit(grid, curves_by_d, eps):
    per_d, cens = {}, {}
    for d, curves in curves_by_d.items():
        per_d[d], cens[d] = seed_crossings(grid, curves, eps)
    return growth_fit(per_d, cens, SlopeRule("<=", 0.25, ALPHA))[0]


def test_c2_bound_subcheck_fails_for_a_probe_that_wastes_samples(pre):
    P = dict(d_grid=list(D_GRID), seeds=SEEDS, r=R, m=32, eps=0.40, lam=0.1, n_test=500,
             probes={"pretrained": dict(reps=12, n_grid=geometric(4, 512)),
                     "raw-linear": dict(reps=1, n_grid=[4, 8])})
    grid = P["probes"]["pretrained"]["n_grid"]
    curves = {d: [C2.run_cell(P, d, s, 7, pre[d, s], "cpu")["pretrained"]["mse"]
                  for s in range(SEEDS)] for d in D_GRID}
    real = _fit(grid, curves, P["eps"])
    sub, bounds = C2._bound_subcheck(P, pre, real)
    assert sub["verdict"] == "pass" and 0 < sub["ratio_ucb"] < 1
    slack = 1 / sub["ratio_ucb"]                 # the smallest K the subcheck can catch
    for K in (2.0 * slack, 4.0 * slack):
        deg = _fit([K * n for n in grid], curves, P["eps"])
        assert deg["slope"] == pytest.approx(real["slope"], abs=1e-9)      # blind slope
        assert deg["ucb"] == pytest.approx(real["ucb"], abs=1e-9)
        sub_deg, _ = C2._bound_subcheck(P, pre, deg)
        assert sub_deg["verdict"] == "fail", (K, sub_deg)
    assert all(math.isfinite(b) for b in bounds.values())


def test_c3_bound_subcheck_fails_for_a_probe_that_wastes_neurons(pre):
    widths = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64]
    P = dict(d_grid=list(D_GRID), seeds=SEEDS, widths=widths, rf_widths=[4, 8], eps=0.5)
    cells = {d: [C3.run_cell(P, d, s, 7, pre[d, s]) for s in range(SEEDS)]
             for d in D_GRID}
    curves = {d: [c["pretrained"] for c in cells[d]] for d in D_GRID}
    real = _fit(widths, curves, P["eps"])
    sub, mb = C3._bound_subcheck(P, cells, real)
    assert sub["verdict"] == "pass", sub
    # a probe that uses one neuron in K: its risk at width K m is the real risk at width m
    K = 2.0 / sub["ratio_ucb"]
    deg = _fit([K * w for w in widths], curves, P["eps"])
    assert deg["slope"] == pytest.approx(real["slope"], abs=1e-9)
    sub_deg, _ = C3._bound_subcheck(P, cells, deg)
    assert sub_deg["verdict"] == "fail", (K, sub_deg)
    assert np.isfinite(list(mb.values())).all()
