"""Sweep cells shared by the claim checks: pretraining with a budget that holds E_out at a
target (chosen with the derived prediction (a)), downstream curves, and the bootstrap of a
complexity curve's slope against d."""
from __future__ import annotations

import math
from functools import lru_cache

import torch

from ..sim.pretrain import PretrainConfig, pretrain
from ..theory.bounds import budget_n
from ..theory.model import Algorithm, ReferenceModel
from .common import derive_seed, finite
from .complexity import crossing_status
from .stats import bootstrap_bound, ols_slope


def budget_T(P: dict, d: int) -> int:
    """Tasks for the d-sweeps: P['T'], or T_per_d * d when the profile grows T with d."""
    return max(P["T"], int(round(P.get("T_per_d", 0) * d)))


def shared_pretrained(P: dict, d: int, s: int, base_seed: int, device: str):
    """The pretraining run (d, seed s) shared by C2 and C3: width P['m_pre'], budget held at
    E_target; C2 uses its first P['m'] rows (rows are exchangeable: a width-m network)."""
    T = budget_T(P, d)
    n = budget_n(d, P["r"], T, P["E_target"])
    return pretrained(device, d, P["r"], T, n, n, P["m_pre"],
                      derive_seed(base_seed, "pretrain", d, s)), n


def pretrained(device: str, d: int, r: int, T: int, n1: int, n2: int, m: int, seed: int,
               noise: float = 0.0, **algo):
    """A pretraining run, memoised within the process (C2 and C3 share runs)."""
    return _pretrained(ReferenceModel(d, r, noise=noise), Algorithm(T, n1, n2, m, **algo), seed,
                       device)


@lru_cache(maxsize=64)
def _pretrained(model: ReferenceModel, algo: Algorithm, seed: int, device: str):
    return pretrain(PretrainConfig(model, algo, seed=seed, device=device))


def tensor_lists(t: torch.Tensor) -> list:
    return t.detach().cpu().double().tolist()


def _curve_mean(rows) -> list[float]:
    return torch.tensor(rows, dtype=torch.float64).mean(0).tolist()


def bootstrap_slope(grid, clusters_by_d: dict, eps: float, B: int, gen: torch.Generator,
                    log_x: bool = True) -> dict:
    """Slope of log(crossing) against log d (or d) with a two-stage cluster bootstrap.

    ``clusters_by_d[d]`` is a list of clusters (one per pretraining seed), each a list of error
    curves (downstream repetitions). A replicate resamples the clusters of every d with
    replacement, then the curves within each drawn cluster, and recomputes the crossings and
    the slope. A censored crossing (sim/complexity.py) makes the point estimate undefined
    (NaN: the decision fails) and a replicate's slope NaN (counted against passing).
    """
    ds = sorted(clusters_by_d)
    xs = [math.log(d) if log_x else float(d) for d in ds]
    status = {d: crossing_status(grid, _curve_mean([r for c in clusters_by_d[d] for r in c]), eps)
              for d in ds}
    point = {d: v for d, (v, _) in status.items()}
    censored = {d: c for d, (_, c) in status.items() if c}
    ys = [math.log(point[d]) if math.isfinite(point[d]) else math.nan for d in ds]
    slope = math.nan if censored else ols_slope(xs, ys)
    mats = {d: [torch.tensor(c, dtype=torch.float64) for c in clusters_by_d[d]] for d in ds}
    reps, per_d = [], {d: [] for d in ds}
    for _ in range(B):
        yb = []
        for d in ds:
            cl = mats[d]
            pick = torch.randint(0, len(cl), (len(cl),), generator=gen).tolist()
            rows = []
            for i in pick:
                c = cl[i]
                rows.append(c[torch.randint(0, c.shape[0], (c.shape[0],), generator=gen)])
            v, cens = crossing_status(grid, torch.cat(rows).mean(0).tolist(), eps)
            per_d[d].append(math.nan if cens else v)
            yb.append(math.log(v) if not cens else math.nan)
        reps.append(ols_slope(xs, yb))
    return {"ds": ds, "crossing": point, "censored": censored, "slope": slope,
            "replicates": reps, "crossing_replicates": per_d}


def crossing_cis(boot: dict, alpha: float) -> dict:
    """Per-d (lower, upper) percentile-bootstrap bounds of the crossing (NaN replicates count
    against: the upper bound becomes inf)."""
    return {str(d): [finite(bootstrap_bound(boot["crossing_replicates"][d], alpha, "lower")),
                     finite(bootstrap_bound(boot["crossing_replicates"][d], alpha, "upper"))]
            for d in boot["ds"]}


def slope_bounds(boot: dict, alpha: float) -> tuple[float, float]:
    """(lower, upper) bootstrap bounds of the slope; both NaN when a point crossing is censored."""
    if boot["censored"]:
        return math.nan, math.nan
    return (bootstrap_bound(boot["replicates"], alpha, "lower"),
            bootstrap_bound(boot["replicates"], alpha, "upper"))
