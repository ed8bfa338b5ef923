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

import numpy as np
import torch
from scipy.stats import norm

from ...sim.device import resolve_device
from ...sim.rf_population import crossing_width, optimal_head_risk_mc, risk_curve
from ...sim.samplers import generator, haar, sphere
from ...theory.degree_energies import degree_floor, target_energies
from ...theory.rf_lower_bounds import rf_width_lower_bound_lp
from ...theory.sphere_harmonics import harmonic_dim
from ..rules import (GroupData, PowerRecord, SlopeRule, all_finite, effect_80,
                           slope_trend)
from ..context import derive_seed
from ..record import ClaimResult, Timer, finite, negative_control_record, subcheck
from ..executor import Cell
from ..profiles import ALPHA, profile
from ..regimes import Calibration, regime
from ..stats import group_slope_bound, mean_bound
from ..sweeps import growth_fit, pretraining, sweep_pretrain_configs, weights

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
                  exponent_min=1.5, exponent_tol=0.1, pre_slope_max=0.25, power_datasets=1000,
                  monte_carlo=dict(target="xor", d=8, m=48, widths=[4, 12, 24, 48], n=200000)),
    "full": dict(r=2, seeds=8,
                 levels=[dict(target="halfspace", eps=0.5, width_factor=3.0, min_width=64,
                              d_grid=[64, 128, 256, 512, 1024, 2048, 4096]),
                         dict(target="xor", eps=0.7, width_factor=1.5, min_width=128,
                              d_grid=[16, 24, 32, 48, 64, 96, 128])],
                 exponent_min=1.5, exponent_tol=0.1, pre_slope_max=0.25, power_datasets=4000,
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


def _levels(P):
    out = []
    for lev in P["levels"]:
        E = target_energies(lev["target"])
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
                cells.append(Cell(ID, key, rf_cell, (lev["target"], lev["eps"], d, P["r"], m,
                                                       seed, ctx.device)))
                index.append((li, d))
    return cells, index


def _by_level(levels, index, values):
    out = [{} for _ in levels]
    for (li, d), v in zip(index, values):
        out[li].setdefault(d, []).append(v)
    return out


def _exponent(per_d):
    """Exponent of m* in d: slope of mean log m* vs log d, two-sided (1 - 2 alpha) interval."""
    ds = sorted(per_d)
    xs = [math.log(d) for d in ds]
    groups = [[math.log(c["m_star"]) if c["m_star"] and math.isfinite(c["m_star"]) else math.nan
               for c in per_d[d]] for d in ds]
    lo = group_slope_bound(xs, groups, ALPHA, "lower")
    hi = group_slope_bound(xs, groups, ALPHA, "upper")
    return {"exponent": lo.slope, "ci": [lo.bound, hi.bound], "se": lo.se, "xs": xs,
            "groups": groups}


def _growth_records(levels, rf):
    out = []
    for lev, per_d in zip(levels, rf):
        e = _exponent(per_d)
        ds = sorted(per_d)
        out.append({"target": lev["target"], "eps": lev["eps"], "K": lev["K"], "d": ds,
                    "m_star_rf": [finite(float(np.exp(np.mean(np.log([c["m_star"] for c in
                                                                       per_d[d]])))))
                                  for d in ds],
                    "m_star_rf_per_seed": [[finite(c["m_star"]) for c in per_d[d]] for d in ds],
                    "censored": {str(d): [c["censored"] for c in per_d[d] if c["censored"]]
                                 for d in ds if any(c["censored"] for c in per_d[d])},
                    "exponent": finite(e["exponent"]),
                    "exponent_ci": [finite(e["ci"][0]), finite(e["ci"][1])],
                    "lower_bound": [finite(rf_width_lower_bound_lp(lev["energies"], d, lev["eps"]))
                                    for d in ds],
                    "width": [_width(lev, d) for d in ds]})
    return out


def _lower_bound_subcheck(growth):
    """m*_RF above the derived lower bound (section 8.6) at every level and d: the smallest
    ratio of the upper confidence bound of the geometric-mean m* (Bonferroni over all points)
    to the bound; a violation needs evidence (false alarm)."""
    points = [(g, i) for g in growth for i in range(len(g["d"]))]
    ratios, worst = [], math.inf
    for g, i in points:
        logs = [math.log(v) for v in g["m_star_rf_per_seed"][i] if v]
        lb = g["lower_bound"][i]
        ucb = math.exp(mean_bound(logs, ALPHA / len(points), "upper"))
        ratios.append(ucb / lb if lb else math.inf)
        worst = min(worst, g["m_star_rf"][i] / lb if lb else math.inf)
    return subcheck("m*_RF above the derived lower bound (section 8.6) at every level and d "
                    "(min over points of UCB(m*)/bound; fails only with evidence)", worst,
                    min(ratios), 1.0, "lower", ALPHA, "Student t on per-seed log m*, "
                    "Bonferroni over points", error="false alarm")


def _consistency(growth, tol, offset=0):
    """The largest distance between a level's exponent interval and [K + offset - tol,
    K + offset + tol] (0: every interval meets its K within tol, the allowance for the
    lower-order terms of m*_RF at finite d, section 8.9)."""
    dist = [max(0.0, g["exponent_ci"][0] - (g["K"] + offset + tol),
                (g["K"] + offset - tol) - g["exponent_ci"][1])
            if None not in g["exponent_ci"] else math.inf for g in growth]
    stat = max(abs(g["exponent"] - g["K"] - offset) if g["exponent"] is not None else math.inf
               for g in growth)
    return stat, max(dist)


def _pretrained(ctx, P, levels):
    """m* of the pretrained features (the C2/C3 pretraining cells) on each level's target."""
    Pp = profile(ctx.profile, "C2")
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
        fits.append(growth_fit(vals, cens, ALPHA, P["pre_slope_max"]))
    return fits


def _monte_carlo_check(ctx, P):
    """At small d: the population formula R(m) against a Monte Carlo of the same optimal head."""
    mc = P["monte_carlo"]
    g = generator(derive_seed(ctx.seed, ID, "monte-carlo"))
    M = haar(mc["d"], P["r"], g, torch.float64)
    W = sphere(mc["m"], mc["d"], g, torch.float64)
    out = optimal_head_risk_mc(W, M, mc["target"], mc["widths"], mc["n"], g)
    z = np.abs(out["mc"] - out["formula"]) / out["se"]
    crit = float(norm.ppf(1 - ALPHA / (2 * len(mc["widths"]))))
    return subcheck(f"population formula R(m) vs Monte Carlo of the same head ({mc['target']}, "
                    f"d={mc['d']}, {mc['n']} samples; max |z| over widths, fails only with "
                    "evidence)", float(z.max()), float(z.max()), crit, "upper",
                    ALPHA, "normal z-scores, two-sided, Bonferroni over widths",
                    error="false alarm", formula=out["formula"].tolist(), mc=out["mc"].tolist())


def _power(top, P, seed) -> dict:
    """The smallest shortfall e of the exponent (m*_RF proportional to d^(K - e)) that the
    growth rule detects with probability 0.8, at this run's spread."""
    K = top["K"]
    alt = (f"m*_RF proportional to d^(K - e) on the K = {K} floor (effect: the exponent's "
           "shortfall e)")
    if not all_finite(top["groups"]):
        return PowerRecord(alt, None, P["power_datasets"], "undefined: censored m*_RF").record()
    data = GroupData.of(top["xs"], top["groups"])
    rule = SlopeRule(P["exponent_min"], "lower", ALPHA)
    trend = slope_trend(top["xs"], float(np.mean([v for g in top["groups"] for v in g])))
    e80 = effect_80(rule, data, lambda e: trend(K - e), 0.0, K, P["power_datasets"],
                    np.random.default_rng(seed))
    return PowerRecord(alt, finite(e80), P["power_datasets"],
                       "synthetic per-seed log m*_RF with this run's spread by d "
                       "(checks/rules.py), common random numbers").record()


def pretrain_configs(profile_name: str) -> list[dict]:
    """C5 reuses C2's pretraining cells (its pretrained-feature comparison): their largest run,
    for the memory check before a run."""
    return sweep_pretrain_configs(profile(profile_name, "C2"))


def decide(ctx) -> ClaimResult:
    P = profile(ctx.profile, ID)
    levels = _levels(P)
    with Timer() as tm:
        cells, index = _rf_cells(ctx, P, levels)
        rf = _by_level(levels, index, ctx.run("C5 random features", cells))
        growth = _growth_records(levels, rf)
        top_i = max(range(len(levels)), key=lambda i: levels[i]["K"])
        top = {**_exponent(rf[top_i]), "K": levels[top_i]["K"]}
        stat, dist = _consistency(growth, P["exponent_tol"])
        pre = _pretrained(ctx, P, levels)
        subs = [subcheck(f"every level's exponent interval meets its degree floor K(eps) within "
                         f"{P['exponent_tol']} (largest distance; finite-d allowance)", stat, dist,
                         0.0, "upper",
                         2 * ALPHA * len(levels), "two-sided Welch-Satterthwaite intervals, one "
                         "per level", error="false alarm"),
                _lower_bound_subcheck(growth),
                *[subcheck(f"pretrained features flat on {lev['target']} at eps={lev['eps']}: "
                           "slope of mean log m* vs log d", f["slope"], f["ucb"],
                           P["pre_slope_max"], "upper", ALPHA, "Welch-Satterthwaite t bound")
                  for lev, f in zip(levels, pre)],
                _monte_carlo_check(ctx, P)]
        pre_top = pre[top_i]
        _, off_dist = _consistency([growth[top_i]], P["exponent_tol"], offset=-1)
        controls = [
            negative_control_record(
                "pretrained features", f"the growth rule (lower bound of the exponent >= "
                f"{P['exponent_min']}) on the pretrained features' m* for the same target",
                pre_top["slope"], pre_top["lcb"],
                rejected=not pre_top["lcb"] >= P["exponent_min"]),
            negative_control_record(
                "a staircase one degree off", f"the consistency rule with K - 1 = "
                f"{levels[top_i]['K'] - 1} in place of K(eps) = {levels[top_i]['K']} on the "
                "random features' exponent", growth[top_i]["exponent"], off_dist,
                rejected=off_dist > 0)]
        power = _power(top, P, derive_seed(ctx.seed, ID, "power"))
    details = {"growth": growth, "statement_of_growth": STATEMENT,
               "m_star": {"pretrained": pre_top["geometric_mean"]},
               "m_star_ci": {"pretrained": pre_top["interval"]},
               "growth_levels": growth,
               "pretrained_growth": [{"target": lev["target"], "eps": lev["eps"],
                                      "slope": finite(f["slope"]), "ucb": finite(f["ucb"]),
                                      "m_star": f["geometric_mean"]}
                                     for lev, f in zip(levels, pre)]}
    return ClaimResult(
        id=ID, parameters={k: v for k, v in P.items()},
        statistic_name=f"exponent of m*_RF in d on the K = {levels[top_i]['K']} floor "
                       f"({levels[top_i]['target']}, eps = {levels[top_i]['eps']})",
        statistic=top["exponent"], confidence_bound=top["ci"][0], side="lower", alpha=ALPHA,
        method="per-seed population m*_RF, Welch-Satterthwaite t bound on the slope of mean "
               "log m* vs log d", bound=P["exponent_min"],
        bound_provenance="derived here: docs/derivations.md section 8 (degree floors, the "
                         "random-feature lower bound by Hermite degree)",
        controls=controls, subchecks=subs, power=power,
        seeds=[c.args[5] for c in cells], device=ctx.device, wall_s=tm.s, details=details)


# --- calibration (`mtlcheck calibrate`) and report ------------------------------------------

def _growth_calibration(rec, P):
    """The exponent rule at its boundary: LCB of the slope of mean log m*_RF against log d at
    exponent_min, on the top level's per-seed spread."""
    g = max(rec["details"]["growth"], key=lambda x: x["K"])
    groups = [[math.log(v) for v in seeds] for seeds in g["m_star_rf_per_seed"]]
    lev = max(P["levels"], key=lambda L: L["target"] == g["target"])
    xs = [math.log(d) for d in lev["d_grid"]]
    data = regime(groups, xs, P["seeds"])
    base = float(np.mean([v for grp in groups for v in grp]))
    return (SlopeRule(P["exponent_min"], "lower", ALPHA), data,
            slope_trend(xs, base)(P["exponent_min"]),
            f"{len(xs)} d x {P['seeds']} seeds ({g['target']}, eps = {g['eps']})")


CALIBRATIONS = (
    Calibration(f"{ID} growth: LCB of the exponent of m*_RF in d >= exponent_min",
                _growth_calibration),
)
REPORT = {"title": f"{ID}: random features",
          "tables": [("c5.tex", "c5_table", f"{ID}: random-feature width $m^*(d)$.")],
          "figures": [("c5_rf.pdf", "c5_rf", ())], "extra_detail": "statement_of_growth"}
