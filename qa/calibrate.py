"""`mtlcheck calibrate`: each decision rule's false-pass rate at its boundary, in every regime a
profile uses, and each claim's power; on synthetic data fitted to the real cells of a run
(checks/rules.py: each group's measured spread, the pooled shape of the residuals, the
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
import os
import sys

import numpy as np

from ..checks.claims import CLAIMS
from ..checks.context import derive_seed
from ..checks.profiles import ALPHA, NAMES as PROFILE_NAMES, profile
from ..checks.rules import effect_80, false_pass, slope_trend
from ..checks.stats import clopper_pearson_upper
from ..theory.params import ParameterError, validate

__all__ = ["calibrate", "main_calibrate"]

TOLERANCE = 1.25          # calibrated: upper95 <= TOLERANCE * alpha


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


def _rng(seed: int, *labels) -> np.random.Generator:
    """Each rule x profile draws from its own stream, so a row does not depend on which other
    rules were selected (--only)."""
    return np.random.default_rng(derive_seed(seed, "calibrate", *labels))


def _selected(name: str, only) -> bool:
    return not only or any(o.lower() in name.lower() for o in only)


def calibrate(claims: dict, N: int, seed: int = 0, only=None, progress=lambda m: None) -> dict:
    """Every rule x regime (whose name contains a word of ``only``, when given) of every
    registered claim at its boundary, N synthetic datasets each: the rules fitted to a run's
    data for the claims present in ``claims``, the exactly known (binomial) ones of every claim;
    and each claim's power at the quick and full designs."""
    rows = []
    for cid, check in CLAIMS.items():
        if cid not in claims:
            continue
        for cal in check.calibrations:
            if not _selected(cal.name, only):
                continue
            for prof in PROFILE_NAMES:
                rule, data, trend, regime = cal.build(claims[cid], profile(prof, cid))
                fp = false_pass(rule, data, trend, N, _rng(seed, cal.name, prof))
                rows.append(_row(cal.name, prof, regime, N, fp["passes"],
                                 note="" if prof == "quick" else
                                 "variance measured on quick-profile cells, full-profile design"))
                progress(f"calibrate: {cal.name} [{prof}]: {fp['passes']}/{N} passes "
                         f"(upper95 {rows[-1]['upper95']:.4f})")
    for cid, check in CLAIMS.items():
        # rules whose law is known exactly (binomial) need no run's data; kept by their names
        fixed = getattr(check.module, "calibration_rows", None)
        for prof in PROFILE_NAMES if fixed else ():
            made = fixed(profile(prof, cid), N, _rng(seed, cid, "rows", prof),
                         lambda rule, regime, *a, **k: _row(rule, prof, regime, *a, **k))
            rows += [r for r in made if _selected(r["rule"], only)]
    return {"rules": rows, "power": _power(claims, min(N, 4000), seed)}


def _power(claims, N, seed) -> list[dict]:
    """Each claim's power (as before --only existed: every claim of the results file)."""
    out = []
    for cid, check in CLAIMS.items():
        if cid not in claims:
            continue
        pw = getattr(check.module, "POWER", None)
        if pw is None:
            rec = claims[cid].get("power")
            if rec:
                out.append({"claim": cid, "profile": "quick", "regime": "as run",
                            "alternative": rec["alternative"], "effect_80": rec["effect_80"],
                            "datasets": rec["datasets"]})
            continue
        for prof in PROFILE_NAMES:
            rule, data, _, regime = pw.build(claims[cid], profile(prof, cid))
            base = float(np.mean([v for g in data.values for v in g]))
            e80 = effect_80(rule, data, slope_trend(data.xs, base), pw.lo, pw.hi, N,
                            _rng(seed, cid, "power", prof))
            out.append({"claim": cid, "profile": prof, "regime": regime,
                        "alternative": pw.alternative, "effect_80": e80, "datasets": N})
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
