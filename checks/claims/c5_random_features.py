"""C5 random features: how the width m*_RF(d, eps) that random ReLU features need grows with d,
decided for what the abstract's "exponential complexity in d" can mean on this model
(docs/derivations.md section 8).

Each target error eps sits on a degree floor K(eps) (theory/degree_energies.py): random features
learn the Hermite degrees of the target one staircase step at a time, and width about d^K is
needed to reach degree K (derived lower bound: section 8.6; the matching upper side is cited
from Ghorbani, Mei, Misiakiewicz and Montanari 2021 and Mei, Misiakiewicz and Montanari 2022).
For every level (target, eps) the population risk of the best linear head on m random features
is computed exactly for every m at once (sim/rf_population.py: arc-cosine Gram, b(w) by Mehler,
one Cholesky factor), per random-feature seed, without sampling x; m*_RF is read off it.

The decision: on the highest floor measured (K = 2), the growth exponent of m*_RF in d has a
lower confidence bound >= exponent_min (faster than linear: the K = 2 step of the staircase);
subchecks: every level's exponent agrees with its K (two-sided interval contains K), m*_RF stays
above the derived lower bound at every d, the pretrained features' m* is flat in d on the same
targets, and the population formula agrees with a Monte Carlo of the same head at small d.
The record states which reading of "exponential" the data support.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from ...sim.device import resolve_device
from ...sim.rf_population import crossing_width, optimal_head_risk_mc, risk_curve
from ...sim.samplers import generator, haar, sphere
from ...theory.degree_energies import degree_floor, target_energies
from ...theory.rf_lower_bounds import rf_width_lower_bound_lp
from ...theory.sphere_harmonics import harmonic_dim
from ..sequential import run_rounds, sweep_count
from ..rules import (EveryPoint, Groups, MeanRule, SlopeRule, ZRule,
                     operating_characteristic)
from ..context import derive_seed
from ..record import ClaimResult, Timer, finite
from ..executor import Cell
from ..profiles import ALPHA, profile
from ..regimes import Calibration, exact_calibration, groups_calibration, points_calibration
from ..sweeps import growth_data, growth_fit, pretraining, sweep_pretrain_configs, weights

__all__ = ["decide", "pretrain_configs", "rf_cell", "pretrained_cell", "STATEMENT"]

ID = "C5"
STATEMENT_REF = "C5"           # theory/claims.py

#: this claim's parameters per profile (checks/profiles.py)
PROFILE = {
    "quick": dict(r=2, seeds=6,
                  levels=[dict(target="halfspace", eps=0.5, width_factor=3.0, min_width=64,
                               d_grid=[16, 32, 64, 128, 256, 512, 1024]),
                          dict(target="xor", eps=0.7, width_factor=1.5, min_width=128,
                               d_grid=[8, 12, 16, 24, 32, 48, 64])],
                  exponent_min=1.5, exponent_tol=0.1, pre_slope_max=0.25, oc_datasets=1000,
                  sequential=dict(first=5, step=1, cap=16),
                  monte_carlo=dict(target="xor", d=8, m=48, widths=[4, 12, 24, 48], n=200000)),
    "full": dict(r=2, seeds=8,
                 levels=[dict(target="halfspace", eps=0.5, width_factor=3.0, min_width=64,
                              d_grid=[64, 128, 256, 512, 1024, 2048, 4096]),
                         dict(target="xor", eps=0.7, width_factor=1.5, min_width=128,
                              d_grid=[16, 24, 32, 48, 64, 96, 128])],
                 exponent_min=1.5, exponent_tol=0.1, pre_slope_max=0.25, oc_datasets=4000,
                 sequential=dict(first=5, step=1, cap=20),
                 monte_carlo=dict(target="xor", d=12, m=96, widths=[8, 24, 48, 96], n=1000000)),
}

#: what the measurements establish about "exponential complexity in d" (derivations section 8)
STATEMENT = (
    "For a fixed target error eps the width random ReLU features need grows polynomially in d, "
    "like d^K(eps) where K(eps) is the Hermite degree the target must be learned to (measured "
    "exponents below, each consistent with its K); the degree, and with it the exponent, grows as "
    "eps falls, and below the floor of a target (odd degrees >= 3 for halfspaces: eps < 1 - 2/pi) "
    "no width suffices. Growth faster than any polynomial follows only along a schedule "
    "eps(d) -> 0 (derived lower bound: m*_RF >= 0.08 K^(-1/2) d^K / K! for sign(z1 z2) with "
    "eps(d) = A(K-1)/2, K even, d >= 200 K + 7.2 K (K+1)^4; e.g. K ~ (d/7.2)^(1/5) gives "
    "exp(Omega(d^(1/5) log d))). A rate exp(Omega(d)) at fixed eps is NOT what these data show.")


@lru_cache(maxsize=None)
def _energies(target: str):
    """target_energies, once per target (each round asks for every level's again)."""
    return target_energies(target)


def _levels(P):
    out = []
    for lev in P["levels"]:
        E = _energies(lev["target"])
        out.append({**lev, "K": degree_floor(E, lev["eps"]), "energies": E})
    return out


def _width(lev, d):
    return int(max(lev["min_width"], math.ceil(lev["width_factor"]
                                                 * harmonic_dim(d, int(lev["K"])))))


def rf_cell(target: str, eps: float, d: int, r: int, m: int, seed: int, device: str) -> dict:
    """One random-feature draw at dimension d: W (m rows uniform on the sphere) and M (Haar)
    from ``seed``; the exact population risk for every width; m*_RF(eps) read off it."""
    dev = resolve_device(device, ID)
    g = generator(seed, dev)
    M = haar(d, r, g, torch.float64)
    W = sphere(m, d, g, torch.float64)
    rc = risk_curve(W, M, target, average=target == "halfspace")
    cr = crossing_width(rc["risk"], eps)
    return {"m_star": cr["m_star"], "censored": cr["censored"], "width": m,
            "risk_at_width": float(rc["risk"][-1]), "jitter": rc["jitter"]}


def pretrained_cell(target: str, eps: float, pre: dict) -> dict:
    """m*(eps) of the pretrained features of one pretraining cell on the same target."""
    W, M = weights(pre)
    W = W / np.linalg.norm(W, axis=1, keepdims=True)
    rc = risk_curve(torch.from_numpy(W), torch.from_numpy(M), target,
                    average=target == "halfspace")
    cr = crossing_width(rc["risk"], eps)
    return {"m_star": cr["m_star"], "censored": cr["censored"]}


def _rf_cells(ctx, P, levels):
    cells, index = [], []
    for li, lev in enumerate(levels):
        for d in lev["d_grid"]:
            m = _width(lev, d)
            for s in range(P["seeds"]):
                seed = derive_seed(ctx.seed, "C5-rf", lev["target"], d, s)
                key = {"claim": ID, "cell": "rf", "target": lev["target"], "eps": lev["eps"],
                       "d": d, "r": P["r"], "m": m, "seed": seed, "device": ctx.device}
                # its work: the m x m Gram of m features in R^d and its Cholesky factor
                cells.append(Cell(ID, key, rf_cell, (lev["target"], lev["eps"], d, P["r"], m,
                                                       seed, ctx.device),
                                  work=float(m) ** 2 * (d + m / 3)))
                index.append((li, d))
    return cells, index


def _by_level(levels, index, values):
    out = [{} for _ in levels]
    for (li, d), v in zip(index, values):
        out[li].setdefault(d, []).append(v)
    return out


def growth_rule(P) -> SlopeRule:
    """Random features need width growing with d: the lower bound of the exponent (slope of
    mean log m*_RF against log d) at least exponent_min."""
    return SlopeRule(">=", P["exponent_min"], ALPHA)


def consistency_rule(P) -> EveryPoint:
    """Every level's exponent agrees with its degree floor K within exponent_tol, on the data
    log m* - K log d (slope 0 = exactly K): fails only on evidence (a level whose interval
    excludes [K - tol, K + tol]), each level at alpha / levels (a union: Bonferroni)."""
    return EveryPoint(lambda a: SlopeRule("within", 0.0, a, "false alarm",
                                          tol=P["exponent_tol"]), ALPHA, "false alarm")


def lower_bound_rule(P=None) -> EveryPoint:
    """m*_RF above the derived lower bound at every level and d, on log(m*/bound): fails only on
    evidence of a violation (an upper bound below 0), each point at alpha / points."""
    return EveryPoint(lambda a: MeanRule(">=", 0.0, a, "false alarm"), ALPHA, "false alarm")


def flat_rule(P) -> SlopeRule:
    """Pretrained features stay flat: the upper bound of the slope of mean log m* <= pre_slope_max."""
    return SlopeRule("<=", P["pre_slope_max"], ALPHA)


def _exponent_data(per_d, shift: float = 0.0) -> Groups:
    """log m* - shift log d by log d (a censored or missing m* is NaN)."""
    ds = sorted(per_d)
    return Groups.of([math.log(d) for d in ds],
                     [[math.log(c["m_star"]) - shift * math.log(d)
                       if c["m_star"] and math.isfinite(c["m_star"]) else math.nan
                       for c in per_d[d]] for d in ds])


@lru_cache(maxsize=None)
def _lower_bound(target: str, eps: float, d: int) -> float:
    """rf_width_lower_bound_lp for a level's target at d (exact, and the same every round: a
    claim decided in rounds asks again each round; section 8.6)."""
    return rf_width_lower_bound_lp(_energies(target), d, eps)


def _growth_records(levels, rf, P):
    out = []
    for lev, per_d in zip(levels, rf):
        dec = growth_rule(P).judge(_exponent_data(per_d), key="seeds")
        ds = sorted(per_d)
        out.append({"target": lev["target"], "eps": lev["eps"], "K": lev["K"], "d": ds,
                    "m_star_rf": [finite(float(np.exp(np.mean(np.log([c["m_star"] for c in
                                                                       per_d[d]])))))
                                  for d in ds],
                    "m_star_rf_per_seed": [[finite(c["m_star"]) for c in per_d[d]] for d in ds],
                    "censored": {str(d): [c["censored"] for c in per_d[d] if c["censored"]]
                                 for d in ds if any(c["censored"] for c in per_d[d])},
                    "exponent": finite(dec.statistic),
                    "exponent_ci": [finite(dec.confidence_bound), finite(dec.refute_bound)],
                    "lower_bound": [finite(_lower_bound(lev["target"], float(lev["eps"]), d))
                                    for d in ds],
                    "width": [_width(lev, d) for d in ds]})
    return out


def _lower_bound_subcheck(growth, P):
    """m*_RF above the derived lower bound (section 8.6) at every level and d (lower_bound_rule);
    the smallest ratio of the geometric-mean m* to the bound is recorded."""
    data, worst = [], math.inf
    for g in growth:
        for i in range(len(g["d"])):
            lb = g["lower_bound"][i]
            data.append(Groups.one([math.log(v) - math.log(lb) if v and lb else math.nan
                                    for v in g["m_star_rf_per_seed"][i]]))
            worst = min(worst, g["m_star_rf"][i] / lb if lb else math.inf)
    dec = lower_bound_rule(P).judge(data, key="seeds")
    return dec.component("m*_RF above the derived lower bound (section 8.6) at every level and d "
                         "(min over points of mean log(m*/bound) and its upper bound; fails only "
                         "with evidence)", "lower-bound", min_ratio=finite(worst))


def _pretrained(ctx, P, levels):
    """m* of the pretrained features (the C2/C3 pretraining cells) on each level's target:
    (record, Decision of flat_rule) per level."""
    Pp = {**profile(ctx.profile, "C2"), "seeds": P["seeds"]}
    pre = pretraining(ctx, Pp)
    cells, index = [], []
    for li, lev in enumerate(levels):
        for (d, s), c in sorted(pre.items()):
            key = {"claim": ID, "cell": "pretrained", "target": lev["target"], "eps": lev["eps"],
                   "d": d, "s": s, "seed": ctx.seed, "device": ctx.device,
                   "pretraining": {k: Pp[k] for k in ("r", "T", "E_target", "m_pre")}}
            cells.append(Cell(ID, key, pretrained_cell, (lev["target"], lev["eps"], c)))
            index.append((li, d))
    per = _by_level(levels, index, ctx.run("C5 pretrained features", cells))
    fits = []
    for lev, per_d in zip(levels, per):
        vals = {d: [c["m_star"] if not c["censored"] else math.nan for c in per_d[d]]
                for d in per_d}
        cens = {d: [c["censored"] for c in per_d[d]] for d in per_d}
        fits.append(growth_fit(vals, cens, flat_rule(P), key="seeds"))
    return fits


def _monte_carlo_check(ctx, P):
    """At small d: the population formula R(m) against a Monte Carlo of the same optimal head
    (ZRule: fails only on evidence)."""
    mc = P["monte_carlo"]
    g = generator(derive_seed(ctx.seed, ID, "monte-carlo"))
    M = haar(mc["d"], P["r"], g, torch.float64)
    W = sphere(mc["m"], mc["d"], g, torch.float64)
    out = optimal_head_risk_mc(W, M, mc["target"], mc["widths"], mc["n"], g)
    z = (out["mc"] - out["formula"]) / out["se"]
    return ZRule(ALPHA).judge(z).component(
        f"population formula R(m) vs Monte Carlo of the same head ({mc['target']}, d={mc['d']}, "
        f"{mc['n']} samples; max |z| over widths minus its critical value, fails only with "
        "evidence)", "monte-carlo", formula=out["formula"].tolist(), mc=out["mc"].tolist())


def _oc(data: Groups, K: int, P, seed) -> dict:
    """The operating characteristic of the growth rule: the effect is the exponent's shortfall
    e (m*_RF proportional to d^(K - e)); null e = 0, the claim allows e <= K - exponent_min."""
    tol = K - P["exponent_min"]
    name = f"e (m*_RF proportional to d^(K - e) on the K = {K} floor)"
    plain = (f"the exponent of m*_RF in d may fall short of K = {K} by at most {tol:g} "
             f"(m*_RF must grow at least like d^{P['exponent_min']:g})")
    if not data.finite():
        return {"effect_name": name, "tolerance": tol, "tolerance_plain": plain,
                "p_pass_at_null": None, "effect_pass_80": None, "effect_fail_80": None,
                "datasets": 0, "method": "undefined: censored m*_RF"}
    return operating_characteristic(growth_rule(P), data, lambda e: K - e, 0.0, tol, float(K),
                                    P["oc_datasets"], seed, name, plain)


def pretrain_configs(profile_name: str) -> list[dict]:
    """C5 reuses C2's pretraining cells (its pretrained-feature comparison): their largest run,
    for the memory check before a run."""
    return sweep_pretrain_configs(profile(profile_name, "C2"))


def decide(ctx) -> ClaimResult:
    """In rounds of random-feature seeds (checks/sequential.py): every (level, d) gets the same
    seeds, and the pretrained-feature comparison reads as many of C2's pretraining seeds."""
    with Timer() as tm:
        res = run_rounds(ctx, ID, profile(ctx.profile, ID), _decide_at)
    res.wall_s = tm.s
    return res


def _readers(levels) -> dict:
    """The components that read each sweep (sequential.sweep_count): the random features'
    seeds, and the pretraining seeds whose features are compared on the same targets."""
    low = min(lev["K"] for lev in levels)
    return {"random features": ("primary", "consistency", "lower-bound",
                                f"the K = {low} floor (near the boundary)",
                                "a staircase one degree off"),
            "pretrained features": tuple(f"flat-{lev['target']}" for lev in levels)
            + ("pretrained features",)}


def _decide_at(ctx, P_round, final) -> ClaimResult:
    levels = _levels(P_round)
    # each sweep's seeds as computed: fewer than the round's once its readers are all decided
    n = {label: sweep_count(P_round, "seeds", readers, label)
         for label, readers in _readers(levels).items()}
    P = {**P_round, "seeds": n["random features"]}
    with Timer() as tm:
        cells, index = _rf_cells(ctx, P, levels)
        rf = _by_level(levels, index, ctx.run("C5 random features", cells))
        growth = _growth_records(levels, rf, P)
        top_i = max(range(len(levels)), key=lambda i: levels[i]["K"])
        low_i = min(range(len(levels)), key=lambda i: levels[i]["K"])
        K = levels[top_i]["K"]
        top_data = _exponent_data(rf[top_i])
        main = growth_rule(P).judge(top_data, key="seeds")
        pre = _pretrained(ctx, {**P, "seeds": n["pretrained features"]}, levels)
        cons = consistency_rule(P).judge([_exponent_data(per_d, lev["K"])
                                           for lev, per_d in zip(levels, rf)], key="seeds")
        subs = [cons.component(f"every level's exponent interval meets its degree floor K(eps) "
                               f"within {P['exponent_tol']} (fails only with evidence; finite-d "
                               "allowance)", "consistency"),
                _lower_bound_subcheck(growth, P),
                *[dec.component(f"pretrained features flat on {lev['target']} at "
                                f"eps={lev['eps']}: slope of mean log m* vs log d",
                                f"flat-{lev['target']}")
                  for lev, (_, dec) in zip(levels, pre)],
                _monte_carlo_check(ctx, P)]
        pre_top, pre_dec = pre[top_i]
        tol = K - P["exponent_min"]
        eff = lambda e: {"effect": finite(e), "effect_over_tolerance": finite(e / tol)}
        low = growth_rule(P).judge(_exponent_data(rf[low_i]), key="seeds")
        off = SlopeRule("within", float(K - 1), ALPHA, tol=P["exponent_tol"]).judge(
            top_data, key="seeds")
        controls = [
            growth_rule(P).judge(growth_data(
                {int(d): v for d, v in pre_top["per_seed"].items()}), key="seeds").control(
                "pretrained features", f"the growth rule (lower bound of the exponent >= "
                f"{P['exponent_min']}) on the pretrained features' m* for the same target",
                **eff(K - pre_dec.statistic)),
            low.control(
                f"the K = {levels[low_i]['K']} floor (near the boundary)",
                f"the growth rule for the K = {K} floor applied to the random features' widths "
                f"on the {levels[low_i]['target']} level (K = {levels[low_i]['K']}: a shortfall "
                f"of {K - levels[low_i]['K']} against the tolerance {tol:g})",
                **eff(K - levels[low_i]["K"]), effect_estimate=finite(K - low.statistic),
                effect_note="effect: the design's shortfall (the degree floors' difference); "
                            "effect_estimate: the measured one"),
            off.control(
                "a staircase one degree off", f"the consistency rule with K - 1 = {K - 1} in "
                f"place of K(eps) = {K} on the random features' exponent (rejected when the "
                "interval excludes K - 1 +- tol)")]
        oc = _oc(top_data, K, P, derive_seed(ctx.seed, ID, "oc")) if final else None
    lcb = main.confidence_bound
    dl = levels[top_i]["d_grid"]
    plain = (f"m*_RF grows at least like d^{lcb:.3g} over d = {min(dl)}..{max(dl)} on the K = {K} "
             f"floor: by at least {(max(dl) / min(dl)) ** lcb:.3g}x, {1 - ALPHA:.0%}"
             if math.isfinite(lcb) else "the growth of m*_RF is not bounded (censored)")
    details = {"growth": growth, "statement_of_growth": STATEMENT,
               "m_star": {"pretrained": pre_top["geometric_mean"]},
               "m_star_ci": {"pretrained": pre_top["interval"]},
               "growth_levels": growth,
               "pretrained_growth": [{"target": lev["target"], "eps": lev["eps"],
                                      "slope": finite(f["slope"]), "ucb": finite(f["ucb"]),
                                      "m_star": f["geometric_mean"], "per_seed": f["per_seed"]}
                                     for lev, (f, _) in zip(levels, pre)]}
    return ClaimResult(
        id=ID, parameters=dict(P_round),
        statistic_name=f"exponent of m*_RF in d on the K = {levels[top_i]['K']} floor "
                       f"({levels[top_i]['target']}, eps = {levels[top_i]['eps']})",
        primary=main, plain=plain,
        bound_provenance="derived here: docs/derivations.md section 8 (degree floors, the "
                         "random-feature lower bound by Hermite degree)",
        controls=controls, subchecks=subs, operating_characteristic=oc,
        seeds=[c.args[5] for c in cells], device=ctx.device, wall_s=tm.s, details=details)


# --- calibration (`mtlcheck calibrate`) and report ------------------------------------------

def _top_xs(P):
    lev = max(P["levels"], key=lambda L: L["target"] == "xor")
    return [math.log(d) for d in lev["d_grid"]]


CALIBRATIONS = (
    Calibration(f"{ID} growth: LCB of the exponent of m*_RF in d >= exponent_min",
                groups_calibration("primary", growth_rule, "seeds", _top_xs, label="d")),
    Calibration(f"{ID} exponents consistent with K: each level's interval meets K +- tol "
                "(false alarm)",
                points_calibration("consistency", consistency_rule, "seeds",
                                   lambda P: len(P["levels"]), label="levels")),
    Calibration(f"{ID} lower bound at every level and d: Student-t UCB of mean log(m*/bound) "
                "< 0 (false alarm)",
                points_calibration("lower-bound", lower_bound_rule, "seeds",
                                   lambda P: sum(len(L["d_grid"]) for L in P["levels"]),
                                   label="(level, d) points")),
    Calibration(f"{ID} pretrained features flat: UCB of the slope of mean log m* <= "
                "pre_slope_max",
                groups_calibration("flat-xor", flat_rule, None, label="d")),
    Calibration(f"{ID} Monte Carlo vs formula: max |z| beyond its Bonferroni critical value "
                "(false alarm)",
                exact_calibration(lambda P: ZRule(ALPHA),
                                  lambda P: len(P["monte_carlo"]["widths"]), "z-scores")),
)
REPORT = {"title": f"{ID}: random features",
          "tables": [("c5.tex", "c5_table", f"{ID}: random-feature width $m^*(d)$.")],
          "figures": [("c5_rf.pdf", "c5_rf", ())], "extra_detail": "statement_of_growth"}
