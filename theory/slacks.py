"""Per-step slacks of the derived bounds: how loose each inequality of a proof is on simulated
runs (docs/derivations.md sections 6.6, 7.5 and 9.6; the audit's rows with steps).

The bounds of theory/probe_bound.py, theory/isotropy_bound.py and theory/eout_bound.py return their
value and, with ``parts=True``, a per-step breakdown: a list of steps
``{"name", "kind", "proof", "delta", "sim"}``, one per inequality of the proof. ``kind`` is
"upper" (the proof bounds a random quantity from above), "lower" (from below) or
"deterministic" (an inequality that holds surely) or "mean_upper" (a bound on an expectation);
``sim`` names the per-run statistic of the
matching ``*_sim_stats`` function that the inequality bounds, normalised so that the proof value
of a run-dependent step is 1. :func:`step_slacks` turns the statistics of K runs into
``[{name, proof, simulated, slack}]``: for an upper step the slack is proof / (the simulated
(1 - delta_k) quantile), for a lower step (the simulated delta_k quantile) / proof, for a
mean_upper step proof / (the simulated mean), for a deterministic step (proof 1, statistic = left
side / right side) 1 / (the largest simulated ratio). :func:`step_slacks_conditional` does the
same for conditional bounds, whose proof values differ between runs.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["step_slacks", "step_slacks_conditional"]


def _quantile(x, q):
    x = np.sort(np.asarray(x, float))
    K_ = len(x)
    i = int(math.ceil(q * K_)) - 1
    return float(x[min(max(i, 0), K_ - 1)])


def step_slacks(steps: list[dict], stats: list[dict]) -> list[dict]:
    """Per-step slacks from the breakdown ``steps`` of a bound and per-run statistics ``stats``
    (a list of dicts, one per run, from the matching ``*_sim_stats``): for an 'upper' step the
    proof value over the simulated (1 - delta_k) quantile of its statistic; for a 'lower' step the
    simulated delta_k quantile over the proof value; for a 'deterministic' step (proof value 1,
    statistic = left side / right side of the inequality) 1 / the largest simulated ratio."""
    out = []
    for st in steps:
        key = st.get("sim")
        if key is None or key not in stats[0]:
            out.append({"name": st["name"], "proof": st["proof"], "simulated": None,
                        "slack": None})
            continue
        vals = [s_[key] for s_ in stats]
        dk = st.get("delta") or 0.0
        if st["kind"] == "upper":
            q = _quantile(vals, 1 - dk) if dk > 0 else float(np.max(vals))
            sl = st["proof"] / q if q > 0 else math.inf
        elif st["kind"] == "mean_upper":
            q = float(np.mean(vals))
            sl = st["proof"] / q if (st["proof"] is not None and q > 0) else None
        elif st["kind"] == "lower":
            q = _quantile(vals, dk) if dk > 0 else float(np.min(vals))
            sl = q / st["proof"] if st["proof"] > 0 else math.inf
        else:
            q = float(np.max(vals))
            sl = st["proof"] / q if q > 0 else math.inf
        out.append({"name": st["name"], "proof": st["proof"], "simulated": q, "slack": sl})
    return out


def step_slacks_conditional(runs: list[tuple[list[dict], dict]]) -> list[dict]:
    """Per-step slacks of a conditional bound over K runs: ``runs`` = [(steps of the run's
    bound, the run's statistics)]. For an upper step the ratio statistic / proof per run, slack
    = 1 / (its (1 - delta_k) quantile); for a lower step the ratio statistic / proof, slack = its
    delta_k quantile (the proof values differ between runs)."""
    out = []
    for i, st in enumerate(runs[0][0]):
        ratios = [stats[steps[i]["sim"]] / steps[i]["proof"] for steps, stats in runs]
        if st["kind"] == "lower":
            q = _quantile(ratios, st["delta"])
            sl = q
        else:
            q = _quantile(ratios, 1 - st["delta"])
            sl = 1 / q if q > 0 else math.inf
        out.append({"name": st["name"], "proof": float(np.median([s[i]["proof"] for s, _ in runs])),
                    "simulated_ratio_quantile": q, "slack": sl})
    return out
