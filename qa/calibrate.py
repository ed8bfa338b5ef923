"""`mtlcheck calibrate`: each decision rule's false-pass rate at its boundary, in every regime a
profile uses, and each claim's power; on synthetic data fitted to the real cells of a run
(checks/calibration.py: each group's measured spread, the pooled shape of the residuals, the
grid's censoring).

    mtlcheck calibrate [--datasets N] [--only RULE ...] [--results FILE] [--json]

The real cells come from a quick run's results.json (default mtlcheck-out/results.json; when
it is missing the quick profile is run first, into mtlcheck-out, which takes a few minutes).
The full profile's regimes use the same measured variance with the full profile's group
counts, replicates and grids (we have no full-profile cells on a CPU; said in every row). A rule
passes its calibration when the Clopper-Pearson 95% upper bound of its false-pass rate is at
most 1.25 alpha.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..checks.calibration import (BinomialRule, EquivalenceRule, GroupData, MeanRule, SlopeRule,
                                  effect_80, false_pass, slope_trend)
from ..checks.profiles import ALPHA, profile
from ..checks.stats import clopper_pearson_lower, clopper_pearson_upper
from ..theory.bounds import one_step_population_error
from ..theory.params import ParameterError, validate

__all__ = ["RULES", "calibrate", "main_calibrate"]

TOLERANCE = 1.25          # calibrated: upper95 <= TOLERANCE * alpha


@dataclass(frozen=True)
class Calibration:
    """One decision rule: how to build its regime (data and rule) from a run's claim records
    and a profile, and the trend that sits exactly on its boundary."""

    name: str
    claim: str
    build: Callable[[dict, str], tuple]       # (claims by id, profile) -> (rule, data, trend)
    note: str = ""


def _logs(values):
    return [math.log(v) for v in values if v is not None and v > 0]


def _sorted_groups(per_x: dict, f=lambda v: v) -> list[list[float]]:
    return [[f(v) for v in vals] for _, vals in sorted(per_x.items(), key=lambda kv: float(kv[0]))]


def _regime(groups, xs, sizes, lo=-math.inf, hi=math.inf) -> GroupData:
    """The synthetic-data model of a regime: the real groups' spreads and pooled shape, mapped
    onto the regime's xs (group i of the regime takes the real group at the same relative
    position when the counts differ), with the regime's replicates and censoring."""
    idx = np.linspace(0, len(groups) - 1, len(xs)).round().astype(int)
    return GroupData.of(xs, [groups[i] for i in idx], lo, hi, [sizes] * len(xs))


def _slope(groups, xs, sizes, threshold, lo=-math.inf, hi=math.inf):
    data = _regime(groups, xs, sizes, lo, hi)
    base = float(np.mean([v for g in groups for v in g]))
    return SlopeRule(threshold, "upper", ALPHA), data, slope_trend(xs, base)(threshold)


def _growth(cid):
    def build(claims, prof):
        P = profile(prof, cid)
        groups = _sorted_groups(claims[cid]["details"]["growth"]["pretrained"]["per_seed"],
                                lambda v: math.log(v))
        grid = P["probes"]["pretrained"]["n_grid"] if cid == "C2" else P["widths"]
        xs = [math.log(d) for d in P["d_grid"]]
        rule, data, trend = _slope(groups, xs, P["seeds"], P["slope_max"],
                                   math.log(min(grid)), math.log(max(grid)))
        return rule, data, trend, (f"{len(xs)} d x {P['seeds']} seeds, grid "
                                   f"[{min(grid)}, {max(grid)}]")
    return build


def _c1_slope(detail: str, grid_key: str, seeds_key: str, label: str):
    """C1's slope rule of mean log E_out against log T (or log n) at its boundary."""
    def build(claims, prof):
        P = profile(prof, "C1")
        groups = _sorted_groups(claims["C1"]["details"][detail], math.log)
        xs = [math.log(x) for x in P[grid_key]]
        rule, data, trend = _slope(groups, xs, P[seeds_key], P["slope_max"])
        return rule, data, trend, f"{len(xs)} {label} x {P[seeds_key]} seeds"
    return build


_c1_rate = _c1_slope("E_out_vs_T", "T_grid", "seeds", "T")
_c1_nrate = _c1_slope("E_out_vs_n", "n_grid", "control_seeds", "n")


def _mean(cid, values_of, side, threshold_of, size_key):
    """A Student-t mean rule at its boundary: the real values' spread and shape, the mean set
    exactly on the threshold."""
    def build(claims, prof):
        P = profile(prof, cid)
        vals = [float(v) for v in values_of(claims[cid]["details"])]
        thr = threshold_of(P)
        data = GroupData.of([0.0], [vals], sizes=[P[size_key]])
        return MeanRule(thr, side, ALPHA), data, [thr], f"{P[size_key]} replicates"
    return build


def _c1_prediction(claims, prof):
    """The agreement rule at the largest T of the prediction design: both Student-t bounds of
    mean E_out/prediction within 1 +- tol at alpha/(2k) each (k = number of T), the ratio's
    spread measured on the real runs, its mean put exactly at 1 + tol."""
    P = profile(prof, "C1")
    det = claims["C1"]["details"]
    T = max(det["prediction_design_E_out_vs_T"], key=int)
    pred = claims["C1"]["subchecks"][2]["per_T"][T]["prediction"]
    ratios = [e / pred for e in det["prediction_design_E_out_vs_T"][T]]
    k = len(P["pred_T_grid"])
    data = GroupData.of([0.0], [ratios], sizes=[P["pred_seeds"]])
    return (EquivalenceRule(1.0, P["pred_tol"], ALPHA / (2 * k)), data, [1.0 + P["pred_tol"]],
            f"{P['pred_seeds']} seeds at T = {T}, tolerance {P['pred_tol']}, "
            f"alpha/(2 x {k}) per side")


def _c5_growth(claims, prof):
    P = profile(prof, "C5")
    g = max(claims["C5"]["details"]["growth"], key=lambda x: x["K"])
    groups = [[math.log(v) for v in seeds] for seeds in g["m_star_rf_per_seed"]]
    lev = max(P["levels"], key=lambda L: L["target"] == g["target"])
    xs = [math.log(d) for d in lev["d_grid"]]
    data = _regime(groups, xs, P["seeds"])
    base = float(np.mean([v for grp in groups for v in grp]))
    return (SlopeRule(P["exponent_min"], "lower", ALPHA), data,
            slope_trend(xs, base)(P["exponent_min"]),
            f"{len(xs)} d x {P['seeds']} seeds ({g['target']}, eps = {g['eps']})")


def _bound_rule(cid):
    """The subcheck 'complexity below the derived bound' at one d: the Student-t upper bound of
    mean log x* (alpha / number of d) at most log(bound); boundary: the mean on log(bound)."""
    def build(claims, prof):
        P = profile(prof, cid)
        per = claims[cid]["details"]["growth"]["pretrained"]["per_seed"]
        vals = [math.log(v) for v in per[max(per, key=int)]]
        k = len(P["d_grid"])
        data = GroupData.of([0.0], [vals], sizes=[P["seeds"]])
        return (MeanRule(0.0, "upper", ALPHA / k), data, [0.0],
                f"{P['seeds']} seeds at one d, alpha/{k}")
    return build


def _c6_scale(claims, prof):
    P = profile(prof, "C6")
    data = GroupData.of([0.0], [claims["C6"]["details"]["c_hat"]], sizes=[P["seeds"]])
    return (EquivalenceRule(1.0, P["scale_tol"], ALPHA), data, [1.0 + P["scale_tol"]],
            f"{P['seeds']} seeds, tolerance {P['scale_tol']}")


def _c6_tol(P):
    Q = P["pop"]
    return P["pop_tol_factor"] * one_step_population_error(Q["d"], Q["r"], Q["T"], Q["n"], Q["n"])


def _last(per_T):
    return per_T[max(per_T, key=int)]


RULES: tuple[Calibration, ...] = (
    Calibration("C1 rate: UCB of the slope of mean log E_out vs log T <= -0.1", "C1", _c1_rate),
    Calibration("C1 n-rate: UCB of the slope of mean log E_out vs log n <= -0.1", "C1",
                _c1_nrate),
    Calibration("C1 prediction (a): both Student-t bounds of mean E_out/prediction within "
                "1 +- tol", "C1", _c1_prediction),
    Calibration("C1 isotropy: Student-t LCB of the mean isotropy >= tau", "C1",
                _mean("C1", lambda det: _last(det["isotropy_vs_T"]), "lower",
                      lambda P: P["iso_tau"], "seeds")),
    Calibration("C2 d-independence: UCB of the slope of mean log n* vs log d <= 0.25", "C2",
                _growth("C2")),
    Calibration("C3 d-independence: UCB of the slope of mean log m* vs log d <= 0.25", "C3",
                _growth("C3")),
    Calibration("C2 n* below the derived bound: Student-t UCB of mean log n* <= log bound",
                "C2", _bound_rule("C2")),
    Calibration("C3 m* below the derived bound: Student-t UCB of mean log m* <= log bound",
                "C3", _bound_rule("C3")),
    Calibration("C5 growth: LCB of the exponent of m*_RF in d >= exponent_min", "C5",
                _c5_growth),
    Calibration("C6 scale: both Student-t bounds of the mean c_hat within 1 +- tol", "C6",
                _c6_scale),
    Calibration("C6 population error: Student-t UCB of the mean log relative error <= log tol",
                "C6", _mean("C6", lambda det: [math.log(e) for e in det["population_errors"]],
                            "upper", lambda P: math.log(_c6_tol(P)), "seeds")),
)


def _binomial_rows(N, rng) -> list[dict]:
    """The Clopper-Pearson rules of C4, at their boundary (no real data needed: the law is
    binomial): the single-task rule at p = p_min, and the false-alarm rule of the derived bound
    at a violation rate exactly delta."""
    rows = []
    for prof in ("quick", "full"):
        P = profile(prof, "C4")
        K = P["K"]
        k = rng.binomial(K, P["p_min"], size=N)
        br = BinomialRule(P["p_min"], ALPHA, K)
        passes = int(sum(br.passes_k(int(x)) for x in k))
        rows.append(_row("C4 single task, and the shares of runs whose missed-direction task "
                         "fails / succeeds: Clopper-Pearson LCB of a share >= p_min", prof,
                         f"K = {K} task draws", N, passes, exact=br.pass_probability(P["p_min"])))
        v = rng.binomial(K, 0.05, size=N)
        alarms = int(sum(clopper_pearson_lower(int(x), K, ALPHA) > 0.05 for x in v))
        rows.append(_row("C4 derived isotropy bound: Clopper-Pearson LCB of the violation rate "
                         "> delta (false alarm)", prof, f"K = {K} task draws", N, alarms,
                         error="false alarm"))
    return rows


def _row(rule, prof, regime, N, k, exact=None, error="false pass", note=""):
    up = clopper_pearson_upper(k, N, 0.05)
    out = {"rule": rule, "regime": f"{prof}: {regime}", "alpha": ALPHA, "datasets": N,
           "false_pass": k / N, "upper95": up, "error": error,
           "calibrated": up <= TOLERANCE * ALPHA}
    if exact is not None:
        out["exact"] = exact
    if note:
        out["note"] = note
    return out


def calibrate(claims: dict, N: int, seed: int = 0, only=None, progress=lambda m: None) -> dict:
    """Every rule x regime at its boundary (N synthetic datasets each), and each claim's power
    at the quick and full designs."""
    rng = np.random.default_rng(seed)
    rows = []
    for cal in RULES:
        if only and not any(o.lower() in cal.name.lower() for o in only):
            continue
        for prof in ("quick", "full"):
            rule, data, trend, regime = cal.build(claims, prof)
            fp = false_pass(rule, data, trend, N, rng)
            rows.append(_row(cal.name, prof, regime, N, fp["passes"],
                             note="" if prof == "quick" else
                             "variance measured on quick-profile cells, full-profile design"))
            progress(f"calibrate: {cal.name} [{prof}]: {fp['passes']}/{N} passes "
                     f"(upper95 {rows[-1]['upper95']:.4f})")
    if not only or any("c4" in o.lower() for o in only):
        rows += _binomial_rows(N, rng)
    return {"rules": rows, "power": _power(claims, min(N, 4000), rng)}


def _power(claims, N, rng) -> list[dict]:
    out = []
    for cid, build in (("C2", _growth("C2")), ("C3", _growth("C3")), ("C1", _c1_rate)):
        for prof in ("quick", "full"):
            rule, data, _, regime = build(claims, prof)
            lo, hi = (0.0, 3.0) if cid != "C1" else (-2.0, 0.5)
            base = float(np.mean([v for g in data.values for v in g]))
            e80 = effect_80(rule, data, slope_trend(data.xs, base), lo, hi, N, rng)
            alt = ("E_out proportional to T^s (effect: s)" if cid == "C1" else
                   f"{'n*' if cid == 'C2' else 'm*'} proportional to d^gamma (effect: gamma)")
            out.append({"claim": cid, "profile": prof, "regime": regime, "alternative": alt,
                        "effect_80": e80, "datasets": N})
    for cid in ("C4", "C5", "C6"):
        rec = claims.get(cid, {}).get("power")
        if rec:
            out.append({"claim": cid, "profile": "quick", "regime": "as run",
                        "alternative": rec["alternative"], "effect_80": rec["effect_80"],
                        "datasets": rec["datasets"]})
    return out


def _claims_of(path: str, progress) -> dict:
    from ..reports.load import load_results
    if not os.path.exists(path):
        progress(f"calibrate: {path} not found: running the quick profile first (a few minutes)")
        from ..runner import main_run
        from types import SimpleNamespace
        out = os.path.dirname(os.path.abspath(path))
        with contextlib.redirect_stdout(sys.stderr):   # stdout carries only the result (--json)
            main_run(SimpleNamespace(profile="quick", seed=0, device="cpu", out=out, fresh=False,
                                     only=None, threads=None,
                                     executor="local", address=None))
    data = load_results(path, "calibrate")
    return {c["id"]: c for c in data["claims"]}


def main_calibrate(args) -> int:
    v = validate("calibrate", repeats=args.datasets, seed=args.seed)
    if v["repeats"] < 2000:
        raise ParameterError("datasets", "calibrate", "an int >= 2000 (the calibration's "
                             "resolution)", args.datasets)
    progress = lambda m: print(m, file=sys.stderr, flush=True)
    claims = _claims_of(args.results, progress)
    missing = [c for c in ("C1", "C2", "C3", "C4", "C5", "C6") if c not in claims]
    if missing:
        raise ParameterError("results", "calibrate", "a results.json holding claims C1 to C6",
                             f"{args.results!r} (lacks {', '.join(missing)})")
    out = calibrate(claims, v["repeats"], v["seed"], args.only, progress)
    if args.json:
        print(json.dumps(out, allow_nan=False))
    else:
        from tabulate import tabulate
        print(tabulate([[r["rule"][:60], r["regime"][:34], r["datasets"],
                         f"{r['false_pass']:.4f}", f"{r['upper95']:.4f}",
                         "yes" if r["calibrated"] else "NO"] for r in out["rules"]],
                       headers=["rule", "regime", "datasets", "false pass", "upper95",
                                f"<= {TOLERANCE * ALPHA:g}"]))
        print()
        print(tabulate([[p["claim"], p.get("profile", ""), p["alternative"], p["effect_80"],
                         p["datasets"]] for p in out["power"]],
                       headers=["claim", "profile", "alternative", "effect_80", "datasets"]))
    return 0 if all(r["calibrated"] for r in out["rules"]) else 1
