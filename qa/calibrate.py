"""Measured error rates of the checks' decisions.

1. Rejections under a correct implementation: rerun a claim's decision under many seeds and
   count how often each component fails. For a component whose alpha bounds a *false alarm*
   (it fails only with evidence of a violation) the rate must stay under alpha; for a component
   whose alpha bounds a *false pass* (it passes only with evidence), the rate is 1 - power.
2. Calibration at the boundary: each decision rule applied to synthetic data whose true value
   sits exactly on the rule's bound (a slope equal to the threshold, a mean equal to the bound,
   a proportion equal to p_min); the rule must pass at most alpha of the time (its false-pass
   rate), up to the bootstrap's approximation.

    python -m mtlcheck.falsealarm [--claims C4 C6 C1] [--seeds 20] [--calibration 200] [--json]
"""
from __future__ import annotations

import json
import sys
import time

from ..checks.claims import CLAIMS
from ..checks.common import Cache, Context
from ..checks.stats import clopper_pearson_upper


def measure(cid: str, seeds: list[int], profile: str = "quick", progress=lambda m: None) -> dict:
    """Rerun claim ``cid`` under ``seeds`` with the correct implementation; rejection counts per
    component, each with its alpha and the error it bounds."""
    fails, ctrl_accepted, comps = [], 0, {}
    t0 = time.time()
    for s in seeds:
        res = CLAIMS[cid].decide(Context(profile=profile, seed=s, device="cpu", cache=Cache(None)))
        fails.append(res.verdict == "fail")
        ctrl_accepted += res.negative_control["verdict"] != "rejected"
        parts = [("primary: " + res.statistic_name, res.alpha, "false pass", res.primary_pass)]
        parts += [(c["name"], c["alpha"], c.get("error", "false pass"), c["verdict"] == "pass")
                  for c in res.subchecks]
        for name, alpha, error, ok in parts:
            c = comps.setdefault(name, {"alpha": alpha, "error": error, "rejections": 0})
            c["rejections"] += not ok
        progress(f"{cid} seed {s}: {res.verdict}")
    k, n = sum(fails), len(seeds)
    for c in comps.values():
        c["rate"] = c["rejections"] / n
        c["rate_upper_95"] = clopper_pearson_upper(c["rejections"], n, 0.05)
        if c["error"] == "false alarm":
            c["within_alpha"] = c["rate_upper_95"] <= c["alpha"] or c["rejections"] == 0
    return {"claim": cid, "runs": n, "rejections": k, "rate": k / n,
            "rate_upper_95": clopper_pearson_upper(k, n, 0.05), "components": comps,
            "negative_control_accepted": ctrl_accepted,
            "failing_seeds": [s for s, f in zip(seeds, fails) if f], "wall_s": time.time() - t0}


def calibrate(datasets: int = 200, seed: int = 0, B: int = 200) -> list[dict]:
    """False-pass rates of the decision rules on synthetic data at their boundary."""
    import math

    import torch

    from ..checks.stats import clopper_pearson_lower, mean_bound, ols_slope_bound
    from ..checks.sweeps import bootstrap_slope, slope_bounds
    g = torch.Generator().manual_seed(seed)
    alpha = 0.05
    out = []

    # (a) the C2/C3 rule: true n*(d) = 10 (d/8)^0.25, exactly the threshold slope_max = 0.25;
    # error curves e(n) = 0.4 (n*/n)^0.5 plus cluster (seed) and repetition noise
    grid = [4 * 2 ** (k / 2) for k in range(14)]
    ds = [8, 16, 32, 64, 128]
    passes = 0
    for _ in range(datasets):
        clusters = {}
        for d in ds:
            nstar = 10 * (d / 8) ** 0.25
            cl = []
            for _s in range(8):
                shift = float(torch.randn((), generator=g)) * 0.15      # seed effect, log n*
                rows = []
                for _r in range(6):
                    base = [0.4 * (nstar * math.exp(shift) / n) ** 0.5 for n in grid]
                    rows.append([b + 0.02 * float(torch.randn((), generator=g)) for b in base])
                cl.append(rows)
            clusters[d] = cl
        boot = bootstrap_slope(grid, clusters, 0.4, B, g)
        _, ucb = slope_bounds(boot, alpha)
        passes += math.isfinite(ucb) and ucb <= 0.25
    out.append({"rule": "C2/C3: UCB(slope of log n* vs log d) <= 0.25, true slope 0.25",
                "alpha": alpha, "datasets": datasets, "passes": passes,
                "false_pass_rate": passes / datasets,
                "rate_upper_95": clopper_pearson_upper(passes, datasets, 0.05)})

    # (b) the C1 rule: log E_out = a - 0.1 log T + noise; pass iff UCB(slope) <= -0.1
    Ts = [4, 16, 64, 256]
    passes = 0
    for _ in range(datasets * 10):
        X = [math.log(T) for T in Ts for _s in range(24)]
        Y = [-1 - 0.1 * x + 0.1 * float(torch.randn((), generator=g)) for x in X]
        passes += ols_slope_bound(X, Y, alpha, "upper") <= -0.1
    out.append({"rule": "C1: UCB(slope of log E_out vs log T) <= -0.1, true slope -0.1",
                "alpha": alpha, "datasets": datasets * 10, "passes": passes,
                "false_pass_rate": passes / (datasets * 10),
                "rate_upper_95": clopper_pearson_upper(passes, datasets * 10, 0.05)})

    # (c) Student-t lower bound (C1 isotropy, C4 errors): Gaussian data with mean = bound
    passes = sum(mean_bound([0.5 + 0.1 * float(torch.randn((), generator=g)) for _ in range(24)],
                            alpha, "lower") >= 0.5 for _ in range(datasets * 10))
    out.append({"rule": "Student t: LCB(mean) >= bound, true mean = bound", "alpha": alpha,
                "datasets": datasets * 10, "passes": passes,
                "false_pass_rate": passes / (datasets * 10),
                "rate_upper_95": clopper_pearson_upper(passes, datasets * 10, 0.05)})

    # (d) Clopper-Pearson (C4): Binomial(30, 0.8), pass iff LCB >= 0.8
    passes = 0
    for _ in range(datasets * 10):
        k = int((torch.rand(30, generator=g) < 0.8).sum())
        passes += clopper_pearson_lower(k, 30, alpha) >= 0.8
    out.append({"rule": "Clopper-Pearson: LCB(p) >= 0.8, true p = 0.8", "alpha": alpha,
                "datasets": datasets * 10, "passes": passes,
                "false_pass_rate": passes / (datasets * 10),
                "rate_upper_95": clopper_pearson_upper(passes, datasets * 10, 0.05)})
    return out


def main_calibrate(args) -> int:
    """`mtlcheck calibrate` (rewritten with the calibration issue)."""
    cal = calibrate(args.datasets)
    print(json.dumps({"calibration": cal}) if args.json else "\n".join(
        f"{c['rule']}: {c['passes']}/{c['datasets']}" for c in cal))
    return 0
