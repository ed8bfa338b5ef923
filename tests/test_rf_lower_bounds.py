"""Tests of theory/rf_lower_bounds.py (docs/derivations.md sections 8.5, 8.6): the degree-one
bound is section 8.1's, the lower bounds lie below the exact expected risk (sim/rf_population.py),
and the validation messages of the random-feature functions."""
import math

import numpy as np
import pytest
import torch

from mtlcheck.sim import rf_population as RP
from mtlcheck.sim.samplers import generator, haar, sphere
from mtlcheck.theory import bounds
from mtlcheck.theory import degree_energies as DE
from mtlcheck.theory import rf_lower_bounds as RL
from mtlcheck.theory import sphere_harmonics as SH
from mtlcheck.theory.params import ParameterError


F64 = torch.float64


def _model(d, m, seed, r=2):
    g = generator(seed)
    return haar(d, r, g, F64), sphere(m, d, g, F64)


def test_degree_one_bound_is_section_8_1():
    E = DE.target_energies("halfspace", 21)
    for d in (8, 64, 512):
        for eps in (0.4, 0.5, 0.9):
            want = bounds.rf_width_lower_bound(d, eps)
            assert np.isclose(RL.rf_width_lower_bound_lp(E, d, eps), want)
            assert np.isclose(RL.rf_width_lower_bound_lp(E, d, eps, "degrees"), want)
            assert np.isclose(RL.rf_width_lower_bound_explicit(E, d, eps)["value"], want)
            closed = RL.rf_width_lower_bound_explicit(E, d, eps, closed=True)
            assert np.isclose(closed["value"], want)
        m = np.arange(0, d + 1)
        assert np.allclose(RL.rf_risk_lower_bound_curve(E, d, m), 1 - (2 / np.pi) * m / d)
    assert RL.rf_width_lower_bound_lp(E, 16, 0.3) == math.inf
    assert RL.rf_asymptotic_risk(E, 16) == pytest.approx((1 - 2 / np.pi,) * 2)


@pytest.mark.parametrize("target", ["xor", "relu", "halfspace"])
def test_lower_bounds_below_the_exact_expected_risk(target):
    d, m, seeds = 8, 600, 8
    ws = np.array([1, 3, 10, 30, 100, 300, 600])
    E = DE.target_energies(target, 30)
    R = np.array([RP.risk_curve(*reversed(_model(d, m, 40 + s)), target)["risk"][ws - 1]
                  for s in range(seeds)])
    mean, se = R.mean(0), R.std(0, ddof=1) / math.sqrt(seeds)
    lbt = RL.rf_risk_lower_bound_curve(E, d, ws)
    lbd = RL.rf_risk_lower_bound_curve(E, d, ws, "degrees")
    assert np.all(lbt <= mean + 3 * se) and np.all(lbd <= mean + 3 * se), (mean, se, lbt, lbd)
    if target == "xor":
        assert np.all(lbt >= lbd - 1e-12)                     # the single-copy bound is tighter
        for eps in (0.65, 0.7):
            lp = RL.rf_width_lower_bound_lp(E, d, eps)
            assert RL.rf_width_lower_bound_explicit(E, d, eps)["value"] <= lp + 1e-9
            assert RL.rf_width_lower_bound_explicit(E, d, eps, closed=True)["value"] <= lp + 1e-9
        lo, hi = RL.rf_asymptotic_risk(E, d)
        assert lo <= mean[-1] + 3 * se[-1]
        p = RL.reach_probability_bound(E, d, 10, 0.65)
        assert 0 <= p < 1


def test_validation_messages():
    with pytest.raises(ParameterError, match="'max_degree' parameter of target_energies must be"):
        DE.target_energies("xor", 0)
    with pytest.raises(ParameterError, match="'target' parameter of target_energies"):
        DE.target_energies("parity", 4)
    with pytest.raises(ParameterError, match="'d' parameter of harmonic_dim"):
        SH.harmonic_dim(0, 2)
    with pytest.raises(ParameterError, match="'method' parameter"):
        RL.rf_risk_lower_bound_curve(DE.target_energies("xor", 4), 8, [1], method="x")
