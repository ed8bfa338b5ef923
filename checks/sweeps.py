"""Sweep cells shared by the claim checks: pretraining with a budget that holds E_out at a
target (chosen with the derived prediction (a)), or held fixed (the near-boundary control), and
the growth of a per-seed complexity n*(d) or m*(d) with d.

The d-sweeps decide on per-seed statistics: each pretraining seed s at dimension d gives one
complexity x*_s(d) (read off that seed's mean error curve); log x*_s(d) are independent
replicates at log d, and the slope of their group means against log d gets a one-sided
Welch-Satterthwaite bound with a skew term (checks/rules.py: SlopeRule). A seed whose curve the grid does
not resolve (censored) makes the slope undefined, and the decision fails.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..sim.pretrain import PretrainConfig, pretrain
from ..theory.bounds import budget_n
from ..theory.model import Algorithm, ReferenceModel
from .rules import Decision, EveryPoint, Groups, MeanRule, SlopeRule, operating_characteristic
from .context import derive_seed
from .profiles import ALPHA
from .record import ClaimResult, finite
from .complexity import crossing_status
from .executor import Cell
from .io import decode_array, encode_array
from .stats import mean_bound

__all__ = ["budget_T", "fixed_budget_n", "sweep_pretrain_configs", "pretrained", "pretrain_cell", "pretraining", "weights",
           "tensor_lists", "seed_crossings", "growth_rule", "growth_data", "fit_data", "growth_fit",
           "growth_plain", "growth_oc", "bound_rule", "bound_subcheck", "growth_controls", "growth_details",
           "growth_result"]


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


def pretraining(ctx, P: dict, fixed_budget: bool = False, seeds: int | None = None) -> dict:
    """The pretraining runs of a d-sweep, {(d, s): pretrain_cell value}: width P['m_pre'],
    budget held at E_target (or, for the near-boundary control, fixed at
    :func:`fixed_budget_n`), seeds s < ``seeds`` (default P['seeds']) derived from (base seed,
    d, s)."""
    label = "pretrain-fixed-budget" if fixed_budget else "pretrain"
    cells, keys = [], []
    for d in P["d_grid"]:
        T = budget_T(P, d)
        n = fixed_budget_n(P) if fixed_budget else budget_n(d, P["r"], T, P["E_target"])
        for s in range(P["seeds"] if seeds is None else seeds):
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


def growth_rule(P: dict, key: str = "slope_max") -> SlopeRule:
    """The d-independence rule of a d-sweep: the upper confidence bound of the slope of mean
    log x* against log d at most P[key] (checks/rules.py)."""
    return SlopeRule("<=", P[key], ALPHA)


def growth_data(per_d: dict, limits: tuple[float, float] | None = None) -> Groups:
    """log x* by log d (a censored or non-positive value is NaN); ``limits``: the grid's ends,
    where synthetic data are censored."""
    ds = sorted(per_d, key=float)
    lo, hi = (math.log(limits[0]), math.log(limits[1])) if limits else (-math.inf, math.inf)
    return Groups.of([math.log(float(d)) for d in ds],
                     [[math.log(v) if v and v > 0 else math.nan for v in per_d[d]] for d in ds],
                     lo, hi)


def fit_data(fit: dict, grid) -> Groups:
    """The Groups a growth fit decided on, rebuilt from its record (per-seed values), with the
    grid's ends as censoring limits."""
    return growth_data({int(d): v for d, v in fit["per_seed"].items()}, (min(grid), max(grid)))


def growth_fit(per_d: dict, censored: dict, rule, limits=None, key: str | None = None
               ) -> tuple[dict, Decision]:
    """The growth of a per-seed complexity with d decided by ``rule`` (a SlopeRule): its
    Decision, and a record with the slope and its two one-sided bounds, the geometric mean and
    its (1 - 2 alpha) interval per d (descriptive, for tables and figures), the per-seed values
    and any censoring; ``key``: the profile entry counting the seeds (Rule.judge)."""
    ds = sorted(per_d)
    data = growth_data(per_d, limits)
    dec = rule.judge(data, key=key)
    up, lo = ((dec.confidence_bound, dec.refute_bound) if dec.relation == "<="
              else (dec.refute_bound, dec.confidence_bound))
    geo, ci = {}, {}
    for d, g in zip(ds, data.values):
        geo[str(d)] = finite(math.exp(np.mean(g))) if np.isfinite(g).all() else None
        ci[str(d)] = [finite(math.exp(mean_bound(g, rule.alpha, "lower"))),
                      finite(math.exp(mean_bound(g, rule.alpha, "upper")))]
    return dict(slope=finite(dec.statistic), ucb=finite(up), lcb=finite(lo),
                se=dec.extra.get("se"), df=dec.extra.get("df"), skew=dec.extra.get("skew"),
                threshold=rule.boundary, passes=dec.ok, geometric_mean=geo, interval=ci,
                per_seed={str(d): [finite(v) for v in per_d[d]] for d in ds},
                censored={str(d): [c for c in censored[d] if c] for d in ds
                          if any(censored[d])}), dec


def growth_plain(what: str, ds, bound: float, coverage: float) -> str:
    """A slope bound in plain words: 'n* grows at most like d^0.044 over d = 8..256: at most
    1.16x, 95%'."""
    if bound is None or not math.isfinite(bound):
        return f"the growth of {what} with d is not bounded (censored or undefined)"
    lo, hi = min(ds), max(ds)
    return (f"{what} grows at most like d^{bound:.3g} over d = {lo}..{hi}: at most "
            f"{(hi / lo) ** bound:.3g}x, {coverage:.0%}")


def growth_oc(rule, data: Groups, P: dict, what: str, seed: int) -> dict:
    """The operating characteristic of the d-independence rule at this run's spread: the
    effect is gamma in x* proportional to d^gamma (null: gamma = 0; the claim allows
    gamma <= slope_max)."""
    ds = [round(math.exp(x)) for x in data.xs]
    tol = rule.boundary
    plain = (f"{what} may grow by at most {(max(ds) / min(ds)) ** tol:.3g}x from d = {min(ds)} "
             f"to {max(ds)} (gamma <= {tol:g})")
    if not data.finite():
        return {"effect_name": f"gamma ({what} proportional to d^gamma)", "tolerance": tol,
                "tolerance_plain": plain, "p_pass_at_null": None, "effect_pass_80": None,
                "effect_fail_80": None, "datasets": 0, "method": "undefined: censored seeds"}
    return operating_characteristic(rule, data, lambda e: e, 0.0, tol, 3.0,
                                    P["oc_datasets"], seed,
                                    f"gamma ({what} proportional to d^gamma)", plain)


def bound_rule(P=None) -> EveryPoint:
    """x* below a derived bound at every d (C2, C3): per d, the Student-t upper bound of mean
    log(x*_s / bound(d)) <= 0, each d at alpha (an intersection: no Bonferroni)."""
    return EveryPoint(lambda a: MeanRule("<=", 0.0, a), ALPHA)


def bound_subcheck(P: dict, fit: dict, bounds: dict, what: str, name: str,
                   key: str | None = None) -> dict:
    """The component 'x* below the derived bound at every d' (bound_rule) on a growth fit's
    per-seed values and ``bounds`` {d: bound(d)}; ``what`` names x* in per_d ('n_star');
    ``key``: the profile entry counting the seeds (Rule.judge)."""
    per_d, data = {}, []
    for d in P["d_grid"]:
        b = bounds[d]
        data.append(Groups.one([math.log(v) - math.log(b) if v and math.isfinite(b) else math.nan
                                for v in fit["per_seed"][str(d)]]))
        per_d[str(d)] = {what: fit["geometric_mean"][str(d)], "bound": finite(b)}
    dec = bound_rule(P).judge(data, key=key)
    return dec.component(name, "bound", ratio=finite(math.exp(dec.statistic)),
                         ratio_ucb=finite(math.exp(dec.confidence_bound)), per_d=per_d)


def growth_controls(P: dict, decisions: dict, baseline: tuple[str, str, str], what: str) -> list:
    """The two controls of a d-independence claim, each rejected only on evidence (the lower
    bound of its slope above slope_max): the rule on a baseline whose complexity grows with d
    (``baseline`` = (key in decisions, name, description)), and on the fixed pretraining budget
    (near the boundary)."""
    key, name, description = baseline
    tol = P["slope_max"]
    eff = lambda d: {"effect": finite(d.statistic),
                     "effect_over_tolerance": finite(d.statistic / tol)}
    fb = decisions["fixed-budget"]
    return [decisions[key].control(name, description, **eff(decisions[key])),
            fb.control("fixed pretraining budget",
                       f"the rule on features pretrained with n1 = n2 = {fixed_budget_n(P)} "
                       f"at every d (not grown with d: E_out and {what} rise with d)", **eff(fb))]


def growth_details(fits: dict, what: str) -> dict:
    """Each fit's geometric mean per d and its interval, under keys what and what_ci."""
    return {what: {name: f["geometric_mean"] for name, f in fits.items()},
            f"{what}_ci": {name: f["interval"] for name, f in fits.items()}}


def growth_result(cid: str, ctx, P: dict, decision, what: str, provenance: str,
                  **record) -> ClaimResult:
    """The record of a d-independence claim (C2, C3): the Decision of the slope of mean log
    ``what`` against log d against P['slope_max']."""
    record["details"] = {**record["details"], "n_fixed_budget": fixed_budget_n(P)}
    up = decision.confidence_bound
    return ClaimResult(
        id=cid, parameters=dict(P), statistic_name=f"slope of mean log {what} vs log d",
        primary=decision, bound_provenance=provenance,
        plain=growth_plain(what, P["d_grid"], up, 1 - decision.alpha),
        seeds=[derive_seed(ctx.seed, "pretrain", d, s) for d in P["d_grid"]
               for s in range(P["seeds"])], device=ctx.device, **record)
