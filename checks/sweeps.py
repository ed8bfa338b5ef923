"""Sweep cells shared by the claim checks: pretraining with a budget that holds E_out at a
target (chosen with the derived prediction (a)), downstream curves, and the bootstrap of a
complexity curve's slope against d."""
from __future__ import annotations

import math

import torch

from ..sim.pretrain import PretrainConfig, pretrain
from ..theory.bounds import e_out_prediction_fn
from ..theory.model import Algorithm, ReferenceModel
from .common import derive_seed
from .stats import bootstrap_bound, ols_slope

_MEMO: dict = {}


def budget_n(d: int, r: int, T: int, target: float, n0: int = 64) -> int:
    """Smallest n = n1 = n2 on a grid of ratio 1.1 with predicted E[E_out] <= target (section 4):
    the pretraining budget grows with d so that E_out stays at a fixed level."""
    pred = e_out_prediction_fn()
    n = n0
    while pred(d, r, T, n, n) > target:
        n = int(math.ceil(n * 1.1))
    return n


def budget_T(P: dict, d: int) -> int:
    """Tasks for the d-sweeps: P['T'], or T_per_d * d when the profile grows T with d."""
    return max(P["T"], int(round(P.get("T_per_d", 0) * d)))


def shared_pretrained(ctx, P: dict, d: int, s: int):
    """The pretraining run (d, seed s) shared by C2 and C3: width P['m_pre'], budget held at
    E_target; C2 uses its first P['m'] rows (rows are exchangeable: a width-m network)."""
    T = budget_T(P, d)
    n = budget_n(d, P["r"], T, P["E_target"])
    return pretrained(ctx, d, P["r"], T, n, n, P["m_pre"], derive_seed(ctx.seed, "pretrain", d, s)), n


def pretrained(ctx, d: int, r: int, T: int, n1: int, n2: int, m: int, seed: int, **algo):
    """A pretraining run, memoised within the process (C2, C3 and C5 share runs)."""
    key = (d, r, T, n1, n2, m, seed, ctx.device, tuple(sorted(algo.items())))
    if key not in _MEMO:
        if len(_MEMO) > 64:
            _MEMO.clear()
        _MEMO[key] = pretrain(PretrainConfig(ReferenceModel(d, r), Algorithm(T, n1, n2, m, **algo),
                                             seed=seed, device=ctx.device))
    return _MEMO[key]


def tensor_lists(t: torch.Tensor) -> list:
    return t.detach().cpu().double().tolist()


def crossing_by_d(grid, errors_by_d: dict, eps: float) -> dict:
    from ..sim.complexity import crossing
    return {d: crossing(grid, torch.tensor(e).mean(0).tolist(), eps) for d, e in errors_by_d.items()}


def bootstrap_slope(grid, errors_by_d: dict, eps: float, B: int, gen: torch.Generator,
                    log_x=True) -> dict:
    """Slope of log(crossing) against log d (or d), with bootstrap replicates that resample
    the rows (repetitions) of every d's error matrix independently."""
    from ..sim.complexity import crossing
    ds = sorted(errors_by_d)
    xs = [math.log(d) if log_x else float(d) for d in ds]
    point = crossing_by_d(grid, errors_by_d, eps)
    slope = ols_slope(xs, [math.log(point[d]) if math.isfinite(point[d]) else math.inf for d in ds])
    reps = []
    per_d = {d: [] for d in ds}
    mats = {d: torch.tensor(errors_by_d[d], dtype=torch.float64) for d in ds}
    idx = {d: torch.randint(0, mats[d].shape[0], (B, mats[d].shape[0]), generator=gen) for d in ds}
    for b in range(B):
        ys = []
        for d in ds:
            c = crossing(grid, mats[d][idx[d][b]].mean(0).tolist(), eps)
            per_d[d].append(c)
            ys.append(math.log(c) if math.isfinite(c) else math.inf)
        reps.append(ols_slope(xs, ys))
    return {"ds": ds, "crossing": point, "slope": slope, "replicates": reps,
            "crossing_replicates": per_d}


def slope_bounds(boot: dict, alpha: float) -> tuple[float, float]:
    return (bootstrap_bound(boot["replicates"], alpha, "lower"),
            bootstrap_bound(boot["replicates"], alpha, "upper"))
