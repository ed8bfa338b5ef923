"""theory.harmonics and sim.rf_population: Hermite coefficients and degree energies against
mpmath quadrature, the O(d) split against Gegenbauer expansions, b(w) and the population risk
against Monte Carlo, and the random-feature lower bounds against the exact expected risk
(docs/derivations-c5.md)."""
import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
import torch

from mtlcheck.sim import rf_population as RP
from mtlcheck.sim.samplers import generator, haar, sphere
from mtlcheck.theory import bounds
from mtlcheck.theory import harmonics as Hm
from mtlcheck.theory.population import arccos_kernel
from mtlcheck.theory.params import ParameterError

F64 = torch.float64


def _model(d, m, seed, r=2):
    g = generator(seed)
    return haar(d, r, g, F64), sphere(m, d, g, F64)


def _he(k, t):
    """Normalised probabilists' Hermite h_k(t) in mpmath."""
    return mp.hermite(k, t / mp.sqrt(2)) * mp.power(2, -mp.mpf(k) / 2) / mp.sqrt(mp.factorial(k))


# --- 1-D coefficients ------------------------------------------------------------------------

def test_relu_and_sign_coefficients_against_quadrature():
    mp.mp.dps = 30
    phi = lambda t: mp.exp(-t * t / 2) / mp.sqrt(2 * mp.pi)
    c, a = Hm.relu_hermite(9), Hm.sign_hermite(9)
    for k in range(10):
        qc = mp.quad(lambda t: t * _he(k, t) * phi(t), [0, mp.inf])
        qa = mp.quad(lambda t: _he(k, t) * phi(t), [0, mp.inf]) * (1 - (-1) ** k)
        assert abs(c[k] - float(qc)) < 1e-13 and abs(a[k] - float(qa)) < 1e-13
    assert all(c[k] == 0 for k in (3, 5, 7, 9)) and all(a[k] == 0 for k in (0, 2, 4, 6, 8))
    t = sp.symbols("t", real=True)
    for k in range(5):                         # the symbolic integral, twice by parts
        ex = sp.integrate(t * sp.hermite_prob(k, t) * sp.exp(-t ** 2 / 2), (t, 0, sp.oo)) \
            / sp.sqrt(2 * sp.pi * sp.factorial(k))
        assert sp.simplify(ex - Hm.relu_hermite_exact(k)) == 0
    assert [Hm.representable(k) for k in range(7)] == [True, True, True, False, True, False, True]
    assert abs(np.sum(Hm.relu_hermite(200) ** 2) - 0.5) < 1e-3       # E relu^2 = 1/2


def test_target_energies_and_floors():
    E = Hm.target_energies("halfspace", 41)
    assert np.isclose(E.energies[1], 2 / np.pi) and np.allclose(E.energies[::2], 0)
    assert np.isclose(np.sum(E.energies) + E.tail, 1.0) and E.tail > 0
    lo, hi = Hm.energy_floor(E)
    assert np.isclose(lo, 1 - 2 / np.pi) and lo == hi
    assert Hm.degree_floor(E, 0.5) == 1 and Hm.degree_floor(E, 0.36) == math.inf
    X = Hm.target_energies("xor", 40)
    assert np.isclose(X.energies[2], (2 / np.pi) ** 2) and np.allclose(X.energies[1::2], 0)
    a = Hm.sign_hermite(5)
    assert np.isclose(X.energies[4], 2 * a[1] ** 2 * a[3] ** 2)
    assert np.isclose(Hm.asymptotic_risk(X, 2), 1 - (2 / np.pi) ** 2)
    assert Hm.degree_floor(X, 0.6) == 2 and Hm.degree_floor(X, 0.5) == 4
    assert Hm.energy_floor(X) == (0.0, 0.0)
    R = Hm.target_energies("relu", 40)
    assert np.isclose(R.total, 0.5) and Hm.degree_floor(R, 0.01) == 4


def test_monte_carlo_family_energies_match_the_exact_halfspace():
    F = Hm.family_energies("halfspace", 2, max_degree=5, n_tasks=30, n_z=3000, seed=3)
    E = Hm.target_energies("halfspace", 5)
    assert np.all(np.abs(F.energies - E.energies) <= 4 * F.se + 1e-12)
    assert abs(F.tail - E.tail) <= 4 * F.tail_se
    # one direction: every contraction norm equals E_k
    for k in (3, 5):
        assert abs(F.cross[(k, k, k - 2)] - E.energies[k]) <= 4 * F.cross_se[(k, k, k - 2)]
    Q = Hm.family_energies("quadratic", 2, max_degree=4, n_tasks=5, n_z=2000, seed=1)
    assert np.all(Q.energies[1::2] == 0) and Hm.energy_floor(Q) == (0.0, 0.0)


# --- the O(d) split ------------------------------------------------------------------------

def test_harmonic_split_matches_gegenbauer_for_one_direction():
    """For f = g(u . x), the H_j piece of degree k carries E_k a_{k,j}, t^k = sum_j a_{k,j} P_j(t)
    (P_j Gegenbauer normalised to P_j(1) = 1), a_{k,j} = N_j E[t^k P_j(t)] under the law of w.w'."""
    mp.mp.dps = 30
    d = 7
    R = Hm.target_energies("relu", 8)
    split = Hm.harmonic_split(R, d)
    lam = mp.mpf(d - 2) / 2
    dens = lambda t: (1 - t * t) ** ((d - 3) / mp.mpf(2))
    Z = mp.quad(dens, [-1, 1])
    for k in (4, 6, 8):
        for i, j in enumerate(range(k, -1, -2)):
            P = lambda t: mp.gegenbauer(j, lam, t) / mp.gegenbauer(j, lam, 1)
            a = Hm.harmonic_dim(d, j) * mp.quad(lambda t: t ** k * P(t) * dens(t), [-1, 1]) / Z
            assert abs(split[k][i] - R.energies[k] * float(a)) < 1e-12
    assert sum(Hm.harmonic_dim(9, 4 - 2 * i) for i in range(3)) == math.comb(9 + 3, 4)  # Sym^4
    n, j, dd = sp.symbols("n j d")
    rec = lambda D, N, J: 0 if N < J else ((D + 2 * N) + sp.binomial(N, 2) * rec(D, N - 2, J)) \
        / sp.binomial(N + 2, 2)
    for N in range(7):
        for J in range(N % 2, N + 1, 2):
            assert sp.simplify(rec(dd, N, J) - Hm.contraction_eigenvalue(dd, N, J)) == 0


def test_top_energy_bound_and_nu_bound():
    X = Hm.target_energies("xor", 16)
    for d in (8, 32, 256):
        top = np.array([s[0] for s in Hm.harmonic_split(X, d)])
        assert np.all(Hm.top_energy_lower_bound(X, d, 2) <= top + 1e-14)
        assert np.allclose(top[2], X.energies[2])             # sign(z1 z2) is traceless at k = 2
    for d, j in ((16, 2), (64, 4), (64, 6)):
        b2, lo, hi, _ = Hm._beta(d, j, 10)
        assert sum(v for k, v in b2.items() if k > j) / lo <= Hm.nu_bound(d, j) + 1e-15


# --- b(w) and the population risk -------------------------------------------------------------

@pytest.mark.parametrize("target", ["halfspace", "xor", "relu"])
def test_feature_correlation_against_monte_carlo(target):
    d, n = 6, 400_000
    M, W = _model(d, 5, 11)
    W = W * torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0], dtype=F64)[:, None]   # any norms
    b, err = Hm.feature_correlation(W.numpy(), M.numpy(), target, max_degree=60)
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
    a = Hm.rf_population_risk_curve(W.numpy(), M.numpy(), "xor", certify=True)
    t = RP.risk_curve(W, M, "xor")
    assert np.allclose(a["risk"], t["risk"], atol=1e-12) and t["cholesky_info"] == 0
    assert np.all(np.diff(a["risk"]) <= 1e-12) and np.all(a["risk_error_bound"] < 1e-6)
    G = arccos_kernel(W.numpy()[:40])
    b, _ = Hm.feature_correlation(W.numpy()[:40], M.numpy(), "xor")
    assert np.isclose(a["risk"][39], 1 - b @ np.linalg.solve(G, b), atol=1e-12)
    assert Hm.gram_min_eig_lower_bound(W.numpy()[:100]) <= np.linalg.eigvalsh(
        arccos_kernel(W.numpy()[:100]))[0]


def test_halfspace_family_average_matches_section_6_3():
    M, W = _model(10, 60, 31, r=3)
    a = Hm.rf_population_risk_curve(W.numpy(), M.numpy(), "halfspace", average=True)
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


# --- the lower bounds --------------------------------------------------------------------------

def test_degree_one_bound_is_section_8_1():
    E = Hm.target_energies("halfspace", 21)
    for d in (8, 64, 512):
        for eps in (0.4, 0.5, 0.9):
            want = bounds.rf_width_lower_bound(d, eps)
            assert np.isclose(Hm.rf_width_lower_bound_lp(E, d, eps), want)
            assert np.isclose(Hm.rf_width_lower_bound_lp(E, d, eps, "degrees"), want)
            assert np.isclose(Hm.rf_width_lower_bound_explicit(E, d, eps)["value"], want)
            closed = Hm.rf_width_lower_bound_explicit(E, d, eps, closed=True)
            assert np.isclose(closed["value"], want)
        m = np.arange(0, d + 1)
        assert np.allclose(Hm.rf_risk_lower_bound_curve(E, d, m), 1 - (2 / np.pi) * m / d)
    assert Hm.rf_width_lower_bound_lp(E, 16, 0.3) == math.inf
    assert Hm.rf_asymptotic_risk(E, 16) == pytest.approx((1 - 2 / np.pi,) * 2)


@pytest.mark.parametrize("target", ["xor", "relu", "halfspace"])
def test_lower_bounds_below_the_exact_expected_risk(target):
    d, m, seeds = 8, 600, 8
    ws = np.array([1, 3, 10, 30, 100, 300, 600])
    E = Hm.target_energies(target, 30)
    R = np.array([RP.risk_curve(*reversed(_model(d, m, 40 + s)), target)["risk"][ws - 1]
                  for s in range(seeds)])
    mean, se = R.mean(0), R.std(0, ddof=1) / math.sqrt(seeds)
    lbt = Hm.rf_risk_lower_bound_curve(E, d, ws)
    lbd = Hm.rf_risk_lower_bound_curve(E, d, ws, "degrees")
    assert np.all(lbt <= mean + 3 * se) and np.all(lbd <= mean + 3 * se), (mean, se, lbt, lbd)
    if target == "xor":
        assert np.all(lbt >= lbd - 1e-12)                     # the single-copy bound is tighter
        for eps in (0.65, 0.7):
            lp = Hm.rf_width_lower_bound_lp(E, d, eps)
            assert Hm.rf_width_lower_bound_explicit(E, d, eps)["value"] <= lp + 1e-9
            assert Hm.rf_width_lower_bound_explicit(E, d, eps, closed=True)["value"] <= lp + 1e-9
        lo, hi = Hm.rf_asymptotic_risk(E, d)
        assert lo <= mean[-1] + 3 * se[-1]
        p = Hm.reach_probability_bound(E, d, 10, 0.65)
        assert 0 <= p < 1


def test_validation_messages():
    with pytest.raises(ParameterError, match="'max_degree' parameter of target_energies must be"):
        Hm.target_energies("xor", 0)
    with pytest.raises(ParameterError, match="'target' parameter of target_energies"):
        Hm.target_energies("parity", 4)
    with pytest.raises(ParameterError, match="'d' parameter of harmonic_dim"):
        Hm.harmonic_dim(0, 2)
    with pytest.raises(ParameterError, match="'method' parameter"):
        Hm.rf_risk_lower_bound_curve(Hm.target_energies("xor", 4), 8, [1], method="x")
