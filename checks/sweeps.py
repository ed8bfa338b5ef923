"""Sweep cells shared by the claim checks: pretraining with a budget that holds E_out at a
target (chosen with the derived prediction (a)), or held fixed (the near-boundary control), and
the growth of a per-seed complexity n*(d) or m*(d) with d.

The d-sweeps decide on per-seed statistics: each pretraining seed s at dimension d gives one
complexity x*_s(d) (read off that seed's mean error curve); log x*_s(d) are independent
replicates at log d, and the slope of their group means against log d gets a one-sided
Welch-Satterthwaite bound (checks/stats.py: group_slope_bound). A seed whose curve the grid does
not resolve (censored) makes the slope undefined, and the decision fails.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..sim.pretrain import PretrainConfig, pretrain
from ..theory.bounds import budget_n
from ..theory.model import Algorithm, ReferenceModel
from .rules import GroupData, PowerRecord, SlopeRule, effect_80, slope_trend
from .context import derive_seed
from .record import ClaimResult, finite, negative_control_record
from .complexity import crossing_status
from .executor import Cell
from .io import decode_array, encode_array
from .stats import group_slope_bound, mean_bound

__all__ = ["budget_T", "fixed_budget_n", "sweep_pretrain_configs", "pretrained", "pretrain_cell", "pretraining", "weights",
           "tensor_lists", "seed_crossings", "growth_fit", "growth_control", "growth_power",
           "fixed_budget_control", "log_mean_ucb", "growth_controls", "growth_details", "growth_result"]


def budget_T(P: dict, d: int) -> int:
    """Tasks for the d-sweeps: P['T'], or T_per_d * d when the profile grows T with d."""
    return max(P["T"], int(round(P.get("T_per_d", 0) * d)))


def fixed_budget_n(P: dict) -> int:
    """The near-boundary control's budget: n1 = n2 holding E_out at P['control_E'] at the
    smallest d, then NOT grown with d (so E_out, and with it n* and m*, rise with d)."""
    d0 = min(P["d_grid"])
    return budget_n(d0, P["r"], budget_T(P, d0), P["control_E"])


def sweep_pretrain_configs(P: dict) -> list[dict]:
    """The largest pretraining run of a d-sweep (C2, C3, and C5 that reuses C2's cells), for
    the memory check before a run."""
    d = max(P["d_grid"])
    T = budget_T(P, d)
    n = max(budget_n(d, P["r"], T, P["E_target"]), fixed_budget_n(P))
    return [dict(d=d, r=P["r"], T=T, n1=n, n2=n, m=P["m_pre"])]


def pretrained(device: str, d: int, r: int, T: int, n1: int, n2: int, m: int, seed: int,
               noise: float = 0.0, **algo):
    """One pretraining run of the reference model (theory/model.py) on ``device``."""
    return pretrain(PretrainConfig(ReferenceModel(d, r, noise=noise),
                                   Algorithm(T, n1, n2, m, **algo), seed=seed, device=device))


def pretrain_cell(d: int, r: int, T: int, n: int, m: int, seed: int, device: str) -> dict:
    """A pretraining run of the d-sweeps (n1 = n2 = n) as a cache value: W and M exactly
    (float32, base64), E_out and isotropy. C2, C3 and C5 read the same cells, so each run is
    computed once per cache, by any executor."""
    res = pretrained(device, d, r, T, n, n, m, seed)
    met = res.metrics()
    return {"W": encode_array(res.W.cpu().numpy()), "M": encode_array(res.M.cpu().numpy()),
            "E_out": met["E_out"], "isotropy": met["isotropy"], "n_pre": n, "T": T}


def pretraining(ctx, P: dict, fixed_budget: bool = False) -> dict:
    """The pretraining runs of a d-sweep, {(d, s): pretrain_cell value}: width P['m_pre'],
    budget held at E_target (or, for the near-boundary control, fixed at
    :func:`fixed_budget_n`), seeds derived from (base seed, d, s)."""
    label = "pretrain-fixed-budget" if fixed_budget else "pretrain"
    cells, keys = [], []
    for d in P["d_grid"]:
        T = budget_T(P, d)
        n = fixed_budget_n(P) if fixed_budget else budget_n(d, P["r"], T, P["E_target"])
        for s in range(P["seeds"]):
            seed = derive_seed(ctx.seed, label, d, s)
            key = {"cell": label, "d": d, "r": P["r"], "T": T, "n": n, "m": P["m_pre"],
                   "seed": seed, "device": ctx.device}
            cells.append(Cell("pretrain", key, pretrain_cell,
                              (d, P["r"], T, n, P["m_pre"], seed, ctx.device)))
            keys.append((d, s))
    return dict(zip(keys, ctx.run(f"pretraining{' (fixed budget)' if fixed_budget else ''}",
                                  cells)))


def weights(cell: dict):
    """(W, M) of a pretrain_cell value as float64 numpy arrays."""
    return (decode_array(cell["W"]).astype(np.float64), decode_array(cell["M"]).astype(np.float64))


def tensor_lists(t: torch.Tensor) -> list:
    return t.detach().cpu().double().tolist()


def seed_crossings(grid, seed_curves, eps: float) -> tuple[list[float], list[str | None]]:
    """Per seed: the crossing of its mean error curve (over its repetitions) and its censoring
    (None, 'left' or 'right'; checks/complexity.py). A censored seed's value is NaN."""
    vals, cens = [], []
    for rows in seed_curves:
        mean = np.asarray(rows, dtype=float).reshape(-1, len(grid)).mean(axis=0)
        v, c = crossing_status(grid, mean.tolist(), eps)
        vals.append(math.nan if c else v)
        cens.append(c)
    return vals, cens


def growth_fit(per_d: dict, censored: dict, alpha: float, threshold: float) -> dict:
    """The growth of a per-seed complexity with d: the slope of the mean log x* against log d
    with its one-sided bounds (the rule passes when the upper bound is <= threshold; the lower
    bound is evidence of growth), the geometric mean and its (1 - 2 alpha) interval per d, the
    per-seed values and any censoring."""
    ds = sorted(per_d)
    xs = [math.log(d) for d in ds]
    groups = [[math.log(v) if v > 0 else math.nan for v in per_d[d]] for d in ds]
    up = group_slope_bound(xs, groups, alpha, "upper")
    lo = group_slope_bound(xs, groups, alpha, "lower")
    geo, ci = {}, {}
    for d, g in zip(ds, groups):
        geo[str(d)] = finite(math.exp(np.mean(g))) if np.isfinite(g).all() else None
        ci[str(d)] = [finite(math.exp(mean_bound(g, alpha, "lower"))),
                      finite(math.exp(mean_bound(g, alpha, "upper")))]
    return dict(slope=up.slope, ucb=up.bound, lcb=lo.bound, se=up.se, df=up.df,
                     threshold=threshold, passes=bool(math.isfinite(up.bound)
                                                      and up.bound <= threshold),
                     geometric_mean=geo, interval=ci,
                     per_seed={str(d): [finite(v) for v in per_d[d]] for d in ds},
                     censored={str(d): [c for c in censored[d] if c] for d in ds
                               if any(censored[d])})


def growth_control(name: str, description: str, fit: dict) -> dict:
    """A control of the d-independence rule: rejected when the rule does not pass with a finite
    statistic and bound; 'undecided' when censored or NaN."""
    return negative_control_record(name, description, fit["slope"], fit["ucb"],
                                   rejected=not fit["passes"], lower=fit["lcb"])


def fixed_budget_control(P: dict, fit: dict, what: str) -> dict:
    """The near-boundary control of C2/C3: the d-independence rule on features pretrained with
    the fixed budget :func:`fixed_budget_n` (``what``: the complexity, 'n*' or 'm*')."""
    return growth_control("fixed pretraining budget",
                          f"the rule on features pretrained with n1 = n2 = {fixed_budget_n(P)} "
                          f"at every d (not grown with d: E_out and {what} rise with d)", fit)


def log_mean_ucb(values, alpha: float) -> float:
    """exp of the one-sided Student-t upper bound of the mean of log v (a geometric-mean
    bound); inf when a value is missing, zero or NaN."""
    logs = [math.log(v) if v and v > 0 else math.nan for v in values]
    return math.exp(mean_bound(logs, alpha, "upper")) if all(map(math.isfinite, logs)) \
        else math.inf


def growth_controls(P: dict, fits: dict, baseline: tuple[str, str, str], what: str) -> list:
    """The two controls of a d-independence claim: the rule on a baseline whose complexity
    grows with d (``baseline`` = (key in fits, name, description)), and on the fixed
    pretraining budget (near the boundary)."""
    key, name, description = baseline
    return [growth_control(name, description, fits[key]),
            fixed_budget_control(P, fits["fixed-budget"], what)]


def growth_details(fits: dict, what: str) -> dict:
    """Each fit's geometric mean per d and its interval, under keys what and what_ci."""
    return {what: {name: f["geometric_mean"] for name, f in fits.items()},
            f"{what}_ci": {name: f["interval"] for name, f in fits.items()}}


def growth_result(cid: str, ctx, P: dict, main: dict, what: str, provenance: str,
                  alpha: float, **record) -> ClaimResult:
    """The record of a d-independence claim (C2, C3): the slope of mean log ``what`` against
    log d with its upper bound, against P['slope_max']; the slope's interval joins the details."""
    record["details"] = {**record["details"], "n_fixed_budget": fixed_budget_n(P),
                         "slope_ci": [finite(main["lcb"]), finite(main["ucb"])]}
    return ClaimResult(
        id=cid, parameters=dict(P), statistic_name=f"slope of mean log {what} vs log d",
        statistic=main["slope"], confidence_bound=main["ucb"], side="upper", alpha=alpha,
        method=f"per-seed {what}, Welch-Satterthwaite t bound on the slope of the group means",
        bound=P["slope_max"], bound_provenance=provenance,
        seeds=[derive_seed(ctx.seed, "pretrain", d, s) for d in P["d_grid"]
               for s in range(P["seeds"])], device=ctx.device, **record)


def growth_power(fit: dict, grid_limits: tuple[float, float], alpha: float, N: int,
                 seed: int) -> dict:
    """Power of the slope rule at this run's design and variance: the smallest gamma of the
    family x* proportional to d^gamma that it detects with probability 0.8, the pass rate when
    gamma = 0, and the detection rate of x* proportional to log d."""
    ds = sorted(int(d) for d in fit["per_seed"])
    xs = [math.log(d) for d in ds]
    groups = [[math.log(v) if v and v > 0 else math.nan for v in fit["per_seed"][str(d)]]
              for d in ds]
    if not all(np.isfinite(g).all() for g in groups):
        return PowerRecord("x* proportional to d^gamma (effect: gamma)", None, N,
                           "undefined: censored seeds").record()
    data = GroupData.of(xs, groups, math.log(grid_limits[0]), math.log(grid_limits[1]))
    base = float(np.mean([np.mean(g) for g in groups]))
    rule = SlopeRule(fit["threshold"], "upper", alpha)
    rng = np.random.default_rng(seed)
    trend = slope_trend(xs, base)
    e80 = effect_80(rule, data, trend, 0.0, 3.0, N, rng)
    draws = data.draws(rng, N)
    pass0 = float(np.mean(rule.passes_batch(xs, data.datasets(draws, trend(0.0)))))
    logd = [base + math.log(math.log(d)) - np.mean([math.log(math.log(e)) for e in ds]) for d in ds]
    detect_log = 1.0 - float(np.mean(rule.passes_batch(xs, data.datasets(draws, logd))))
    return PowerRecord("x* proportional to d^gamma (effect: gamma)", finite(e80), N,
                       "synthetic per-seed data with this run's variance by d and pooled shape "
                       "(checks/rules.py), bisection with common random numbers",
                       {"pass_rate_gamma_0": pass0,
                        "detection_rate_log_d": detect_log}).record()
