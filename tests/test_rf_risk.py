"""Tests of theory/rf_risk.py and its torch twin sim/rf_population.py (docs/derivations.md sections
8.7, 8.8): b(w) and the population risk against Monte Carlo and sampled risks, the two twins
against each other, and the crossing width."""
import math

import numpy as np
import pytest
import torch

from mtlcheck.sim import rf_population as RP
from mtlcheck.sim.samplers import generator, haar, sphere
from mtlcheck.theory import bounds
from mtlcheck.theory import rf_risk as RR
from mtlcheck.theory.population import arccos_kernel


F64 = torch.float64


def _model(d, m, seed, r=2):
    g = generator(seed)
    return haar(d, r, g, F64), sphere(m, d, g, F64)


@pytest.mark.parametrize("target", ["halfspace", "xor", "relu"])
def test_feature_correlation_against_monte_carlo(target):
    d, n = 6, 400_000
    M, W = _model(d, 5, 11)
    W = W * torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0], dtype=F64)[:, None]   # any norms
    b, err = RR.feature_correlation(W.numpy(), M.numpy(), target, max_degree=60)
    bt, _ = RP.feature_correlation(W, M, target, max_degree=60)
    assert np.allclose(b, bt.numpy(), atol=1e-13)
    g = generator(12)
    X = torch.randn(n, d, generator=g, dtype=F64)
    y = RP.target_values(X @ M, target)
    s = y[:, None] * torch.relu(X @ W.T)
    mc, se = s.mean(0).numpy(), (s.std(0) / math.sqrt(n)).numpy()
    assert np.all(np.abs(mc - b) <= 4.5 * se + err), (mc, b, se)
    assert np.all(err < 1e-6)


def test_population_risk_formula_against_sampled_risks():
    d, m = 8, 300
    M, W = _model(d, m, 21)
    widths = [5, 40, 300]
    mc = RP.optimal_head_risk_mc(W, M, "xor", widths, 300_000, generator(22))
    assert np.all(np.abs(mc["mc"] - mc["formula"]) <= 4 * mc["se"]), mc
    n = 40_000
    sr = RP.sampled_risk_curve(W, M, "xor", widths, n, 20_000, 1e-8, generator(23))
    for k, mse, se, R in zip(widths, sr["mse"], sr["se"], mc["formula"]):
        assert R - 4 * se <= mse <= R * (1 + 3 * k / n) + 4 * se, (k, mse, R, se)
    # numpy twin, exact leading-block property, monotone curve
    a = RR.rf_population_risk_curve(W.numpy(), M.numpy(), "xor", certify=True)
    t = RP.risk_curve(W, M, "xor")
    assert np.allclose(a["risk"], t["risk"], atol=1e-12) and t["cholesky_info"] == 0
    assert np.all(np.diff(a["risk"]) <= 1e-12) and np.all(a["risk_error_bound"] < 1e-6)
    G = arccos_kernel(W.numpy()[:40])
    b, _ = RR.feature_correlation(W.numpy()[:40], M.numpy(), "xor")
    assert np.isclose(a["risk"][39], 1 - b @ np.linalg.solve(G, b), atol=1e-12)
    assert RR.gram_min_eig_lower_bound(W.numpy()[:100]) <= np.linalg.eigvalsh(
        arccos_kernel(W.numpy()[:100]))[0]


def test_halfspace_family_average_matches_section_6_3():
    M, W = _model(10, 60, 31, r=3)
    a = RR.rf_population_risk_curve(W.numpy(), M.numpy(), "halfspace", average=True)
    assert np.isclose(a["risk"][-1], bounds.probe_population_risk(W.numpy(), M.numpy(), 0.0))
    t = RP.risk_curve(W, M, "halfspace", average=True)
    assert np.allclose(a["risk"], t["risk"], atol=1e-12)


def test_crossing_width():
    r = np.array([0.9, 0.8, 0.6, 0.4])
    out = RP.crossing_width(r, 0.7, widths=[1, 2, 4, 8])
    assert out["censored"] is None
    assert np.isclose(out["m_star"], math.exp(math.log(2) + 0.5 * math.log(2)))
    assert RP.crossing_width(r, 0.3)["censored"] == "right"
    assert RP.crossing_width(r, 0.95)["censored"] == "left"
