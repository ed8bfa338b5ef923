"""`mtlcheck calibrate`: each decision rule's error rate at every boundary, in every regime a
profile uses, over a family of data shapes (docs/derivations.md section 10.3).

    mtlcheck calibrate [--datasets N] [--only RULE ...] [--results FILE] [--json]

Every rule is the object its claim decides with (checks/rules.py; the claim module builds both
from one function), applied through its ``decide``. The real data are the inputs each rule
consumed in a quick run (the record's components; default mtlcheck-out/results.json, run first
when missing). For each (rule, regime, side) the truth is put exactly on that boundary and N
synthetic datasets are drawn in each shape of checks/shapes.py; a false-pass rule's row counts
passes, a false-alarm rule's row counts failures. A row is calibrated when the Clopper-Pearson
95% upper bound of its rate is at most 1.25 alpha. The full profile's regimes use the quick
run's spreads with the full profile's group counts and replicates (said in every row).
Rules whose law at the boundary is exact (binomial counts, normal z-scores) have one shape.

A rule whose claim runs in rounds (a profile's ``sequential`` design) also gets rows with
``monitoring: "every round"``: the sequential rule simulated round by round to its cap
(sequential_rows), with the replicates it used at the boundary and at the run's estimate.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import sys

import numpy as np

from ..checks import sequential as seq
from ..checks.claims import CLAIMS
from ..checks.context import derive_seed
from ..checks.profiles import NAMES as PROFILE_NAMES, profile
from ..checks.rules import BinomialRule, ZRule
from ..checks.shapes import SHAPES
from ..checks.stats import clopper_pearson_upper
from ..theory.params import ParameterError, validate

__all__ = ["calibrate", "main_calibrate", "TOLERANCE"]

TOLERANCE = 1.25          # calibrated: upper95 <= TOLERANCE * alpha


def _rng(seed: int, *labels) -> np.random.Generator:
    """Each row draws from its own stream, so a row does not depend on which other rules were
    selected (--only)."""
    return np.random.default_rng(derive_seed(seed, "calibrate", *labels))


def _selected(name: str, only) -> bool:
    return not only or any(o.lower() in name.lower() for o in only)


def shapes_of(rule) -> tuple:
    """The data shapes a rule is calibrated on: every shape of checks/shapes.py, or the one
    exact law of a binomial count or of normal z-scores."""
    if isinstance(rule, BinomialRule):
        return ("binomial (exact law)",)
    if isinstance(rule, ZRule):
        return ("normal z-scores (CLT over the Monte Carlo samples)",)
    return SHAPES


def _row(name: str, rule, regime: str, prof: str, side: str, shape: str, truth: float, ok,
         monitoring: str) -> dict:
    """A calibration row from the verdicts ``ok`` of N synthetic datasets at ``truth``: a
    false-pass rule's error is a pass, a false-alarm rule's a failure."""
    N = len(ok)
    k = int(ok.sum()) if rule.error == "false pass" else int((~ok).sum())
    up = clopper_pearson_upper(k, N, 0.05)
    row = {"rule": name, "regime": f"{prof}: {regime}", "side": side, "shape": shape,
           "boundary": truth, "alpha": rule.alpha, "datasets": N, "rate": k / N,
           "upper95": up, "error": rule.error, "calibrated": up <= TOLERANCE * rule.alpha,
           "monitoring": monitoring}
    if prof != "quick":
        row["note"] = "spread measured on quick-profile cells, full-profile design"
    return row


def rows_of(name: str, rule, real, sizes, regime: str, prof: str, N: int, seed: int) -> list:
    """One row per (side, shape): the rule's error rate with the truth on that boundary."""
    out = []
    for side, truth in rule.boundaries():
        for shape in shapes_of(rule):
            data = rule.synthetic(real, truth, shape, N, _rng(seed, name, prof, side, shape),
                                  sizes)
            ok = np.array([rule.decide(x).ok for x in data])
            row = _row(name, rule, regime, prof, side, shape, truth, ok, "once (fixed design)")
            if isinstance(rule, BinomialRule):
                p = rule.ok_probability(truth, sizes)
                row["exact"] = p if rule.error == "false pass" else 1 - p
            out.append(row)
    return out


def _cap_sizes(sizes, factor: float):
    if isinstance(sizes, int):
        return max(2, int(round(sizes * factor)))
    return [max(2, int(round(x * factor))) for x in sizes]


def sequential_rows(name: str, rule, real, sizes, regime: str, prof: str, P: dict, N: int,
                    seed: int) -> list:
    """The sequential form of a rule whose claim runs in rounds (checks/sequential.py): each
    synthetic dataset drawn to the cap (the run's replicate counts scaled from the profile's
    fixed design to its cap) and looked at after every round; the error rate counts a pass
    (false alarm: a failure) at any look, and the replicates used are where it stopped. Also
    the replicates used with the truth at the run's estimate (within rules: at the centre)."""
    design = seq.Design.of(P["sequential"])
    capped = _cap_sizes(sizes, design.cap / P[P["sequential"].get("key", "seeds")])
    R = capped if isinstance(capped, int) else max(capped)
    looks = seq.component_looks(design, design.cap, R)
    exact = shapes_of(rule) != SHAPES         # an exact law: no run's data to estimate from
    est = (math.nan if exact else rule.boundary if rule.relation == "within"
           else rule.decide(real).statistic)
    out = []
    for side, truth in rule.boundaries():
        for shape in shapes_of(rule):
            rng = _rng(seed, name, prof, side, shape, "sequential")
            ok, used, _ = seq.outcomes(rule, rule.synthetic(real, truth, shape, N, rng, capped),
                                       looks)
            row = _row(name, rule, f"{regime} (cap {R})", prof, side, shape, truth, ok,
                       "every round")
            row.update(design=design.as_dict(), looks=looks,
                       replicates_mean=float(used.mean()),
                       replicates_median=float(np.median(used)),
                       replicates_p90=float(np.quantile(used, 0.9)))
            if math.isfinite(est):
                ok_e, used_e, _ = seq.outcomes(
                    rule, rule.synthetic(real, est, shape, N, _rng(seed, name, prof, side, shape,
                                                                   "estimate"), capped), looks)
                row.update(estimate=float(est), replicates_mean_at_estimate=float(used_e.mean()),
                           pass_rate_at_estimate=float(ok_e.mean()))
            out.append(row)
    return out


def calibrate(claims: dict, N: int, seed: int = 0, only=None, progress=lambda m: None) -> dict:
    """Every rule x regime x boundary x shape (rules whose name contains a word of ``only``,
    when given) of every registered claim present in ``claims``; N datasets each. ``worst``
    holds, per (rule, regime, side), the row of the largest upper bound."""
    rows = []
    for cid, check in CLAIMS.items():
        if cid not in claims:
            continue
        for cal in check.calibrations:
            if not _selected(cal.name, only):
                continue
            for prof in PROFILE_NAMES:
                P = profile(prof, cid)
                rule, real, sizes, regime = cal.build(claims[cid], P)
                made = rows_of(cal.name, rule, real, sizes, regime, prof, N, seed)
                if "sequential" in P and rule.sequential:
                    made += sequential_rows(cal.name, rule, real, sizes, regime, prof, P, N,
                                            seed)
                rows += made
                worst = max(made, key=lambda r: r["upper95"])
                progress(f"calibrate: {cal.name} [{prof}]: {len(made)} rows, worst "
                         f"{worst['rate']:.4f} (upper95 {worst['upper95']:.4f}, "
                         f"{worst['shape']}, {worst['side']})")
    worst: dict = {}
    for r in rows:
        k = (r["rule"], r["regime"], r["side"], r["monitoring"])
        if k not in worst or r["upper95"] > worst[k]["upper95"]:
            worst[k] = r
    return {"rules": rows, "worst": list(worst.values())}


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
    wanted = [c for c, chk in CLAIMS.items()
              if any(_selected(cal.name, args.only) for cal in chk.calibrations)]
    missing = [c for c in wanted if c not in claims]
    if missing:
        raise ParameterError("results", "calibrate", "a results.json holding the claims whose "
                             f"rules are selected ({', '.join(wanted)})",
                             f"{args.results!r} (lacks {', '.join(missing)})")
    out = calibrate(claims, v["repeats"], v["seed"], args.only, progress)
    if args.json:
        print(json.dumps(out, allow_nan=False))
    else:
        from tabulate import tabulate
        print(tabulate([[r["rule"][:56], r["regime"][:30], r["side"],
                         "rounds" if r["monitoring"] == "every round" else "once",
                         f"{r['replicates_mean']:.1f}" if "replicates_mean" in r else "",
                         r["shape"][:24], f"{r['rate']:.4f}", f"{r['upper95']:.4f}",
                         "yes" if r["calibrated"] else "NO"] for r in out["worst"]],
                       headers=["rule", "regime", "side", "looked", "mean reps",
                                "worst shape", "rate", "upper95",
                                f"<= {TOLERANCE:g} alpha"]))
        print(f"\n{len(out['rules'])} rows ({len(out['worst'])} rule x regime x side, each on "
              f"its shapes); the worst shape of each is shown.")
    return 0 if all(r["calibrated"] for r in out["rules"]) else 1
