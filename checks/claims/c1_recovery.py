"""C1 recovery: E_out falls as T (and n) grow, all r directions are covered, and the derived
prediction (a) of E[E_out] is consistent with simulation (docs/derivations.md section 4)."""
from __future__ import annotations

import math

from ...theory.bounds import e_out_prediction_fn
from ..common import ClaimResult, Timer, derive_seed, nanmax, negative_control, subcheck
from ..executor import Cell
from ..profiles import ALPHA, profile
from ..stats import mean_bound, ols_slope, ols_slope_bound
from ..sweeps import pretrained

__all__ = ["decide", "pretrain_configs", "rule", "run_cell"]


def run_cell(device: str, d: int, r: int, T: int, n: int, m: int, noise: float, seed: int,
             single_task: bool = False) -> dict:
    """One pretraining run of the C1 sweeps: E_out, isotropy and the spectrum of W M."""
    algo = {"single_task": True} if single_task else {}
    met = pretrained(device, d, r, T, n, n, m, seed, noise=noise, **algo).metrics()
    return {"E_out": met["E_out"], "isotropy": met["isotropy"], "spectrum": met["spectrum"]}


def _sweep_cells(ctx, P, label, xs, make, seeds, single_task=False):
    cells = []
    for x in xs:
        for s in range(seeds):
            d, r, T, n, noise = make(x)
            key = {"claim": "C1", "sweep": label, "x": x, "s": s, "d": d, "r": r, "T": T, "n": n,
                   "m": P["m"], "noise": noise, "seed": ctx.seed, "device": ctx.device,
                   **({"single_task": True} if single_task else {})}
            cells.append(((label, x), Cell("C1", key, run_cell,
                                           (ctx.device, d, r, T, n, P["m"], noise,
                                            derive_seed(ctx.seed, "C1", label, x, s), single_task))))
    return cells


def _slope(runs, key, alpha):
    """Least-squares slope of log(metric) against log x over all runs and its one-sided upper
    Student-t bound (exact for Gaussian errors on the log scale; calibrated at the boundary by
    `mtlcheck calibrate`). A non-positive or missing value makes both NaN."""
    X, Y = [], []
    for x in sorted(runs):
        for c in runs[x]:
            v = c[key]
            X.append(math.log(x))
            Y.append(math.log(v) if v is not None and v > 0 else math.nan)
    return ols_slope(X, Y), ols_slope_bound(X, Y, alpha, "upper")


def _prediction_subcheck(runs_T, P, alpha, pred, model):
    Ts = [T for T in sorted(runs_T) if T >= P["pred_T_min"]]
    k = len(Ts)
    bounds, gaps = [], {}
    for T in Ts:
        e = [c["E_out"] for c in runs_T[T]]
        p = pred(*model(T))
        lo = mean_bound(e, alpha / (2 * k), "lower")
        hi = mean_bound(e, alpha / (2 * k), "upper")
        # upper confidence bound on |E[E_out]/prediction - 1|: agreement must be shown
        bounds.append(max(hi / p - 1, 1 - lo / p))
        gaps[T] = {"mean": sum(e) / len(e), "prediction": p, "gap": sum(e) / len(e) / p - 1,
                   "gap_ucb": bounds[-1]}
    return subcheck(f"derived prediction (a) of E[E_out] agrees within {P['pred_tol']:.0%} (max "
                    f"over T >= {P['pred_T_min']} of the upper bound on |mean/prediction - 1|)",
                    nanmax(abs(g["gap"]) for g in gaps.values()), nanmax(bounds), P["pred_tol"],
                    "upper", alpha, "Student t over seeds, two-sided, Bonferroni over T",
                    per_T=gaps)


def rule(runs_T, runs_n, P, alpha, pred=None, model=None):
    """The C1 decision rule on a T sweep and an n sweep; returns (slope, ucb, subchecks)."""
    slope, ucb = _slope(runs_T, "E_out", alpha)
    subs = []
    if runs_n is not None:
        s_n, ucb_n = _slope(runs_n, "E_out", alpha)
        subs.append(subcheck("E_out falls with n1 = n2 (slope of log E_out vs log n)", s_n,
                             ucb_n, P["slope_max"], "upper", alpha,
                             "least squares, Student-t bound"))
    Tmax = max(runs_T)
    iso = [c["isotropy"] for c in runs_T[Tmax]]
    subs.append(subcheck(f"isotropy sigma_r/sigma_1 of W M at T={Tmax}", sum(iso) / len(iso),
                         mean_bound(iso, alpha, "lower"), P["iso_tau"], "lower", alpha,
                         "Student t over seeds"))
    if pred is not None:
        subs.append(_prediction_subcheck(runs_T, P, alpha, pred, model))
    return slope, ucb, subs


def _group(cells, values):
    out: dict = {}
    for ((label, x), _), v in zip(cells, values):
        out.setdefault(label, {}).setdefault(x, []).append(v)
    return out


def pretrain_configs(P: dict) -> list[dict]:
    """The largest pretraining runs of this claim (for the memory check before a run)."""
    return [dict(d=P["d"], r=P["r"], T=max(P["T_grid"]), n1=P["n"], n2=P["n"], m=P["m"]),
            dict(d=P["d"], r=P["r"], T=P["T_for_n"], n1=max(P["n_grid"]), n2=max(P["n_grid"]),
                 m=P["m"])]


def decide(ctx) -> ClaimResult:
    P = profile(ctx.profile, "C1")
    d, r, n = P["d"], P["r"], P["n"]
    with Timer() as tm:
        cells = (_sweep_cells(ctx, P, "T", P["T_grid"], lambda T: (d, r, T, n, 0.0), P["seeds"])
                 + _sweep_cells(ctx, P, "n", P["n_grid"], lambda nn: (d, r, P["T_for_n"], nn, 0.0),
                                P["control_seeds"])
                 + _sweep_cells(ctx, P, "noise", P["T_grid"], lambda T: (d, r, T, n, 0.5),
                                P["control_seeds"])
                 + _sweep_cells(ctx, P, "single", P["T_grid"], lambda T: (d, r, T, n, 0.0),
                                P["control_seeds"], single_task=True))
        runs = _group(cells, ctx.run("C1", [c for _, c in cells]))
        runs_T, runs_n, noise_T, one_T = runs["T"], runs["n"], runs["noise"], runs["single"]
        pred = e_out_prediction_fn()
        slope, ucb, subs = rule(runs_T, runs_n, P, ALPHA, pred, lambda T: (d, r, T, n, n))
        # negative controls: the same rule must reject (a) pure-noise labels, (b) one task
        ns, nucb, nsubs = rule(noise_T, None, P, ALPHA)
        os_, oucb, osubs = rule(one_T, None, P, ALPHA)
        rej_a = not (nucb <= P["slope_max"] and all(s["verdict"] == "pass" for s in nsubs))
        rej_b = not (oucb <= P["slope_max"] and all(s["verdict"] == "pass" for s in osubs))
    nc = negative_control(
        "the C1 rule on (a) tasks whose labels are pure noise (p = 1/2) and (b) T copies of one "
        "task; both must be rejected", rej_a and rej_b,
        pure_noise={"slope": ns, "slope_ucb": nucb, "isotropy_lcb": nsubs[-1]["confidence_bound"],
                    "rejected": rej_a},
        single_task={"slope": os_, "slope_ucb": oucb, "isotropy_lcb": osubs[-1]["confidence_bound"],
                     "rejected": rej_b})
    seeds = [derive_seed(ctx.seed, "C1", "T", T, s) for T in P["T_grid"] for s in range(P["seeds"])]
    return ClaimResult(
        id="C1", parameters=dict(P),
        statistic_name="slope of log E_out vs log T", statistic=slope, confidence_bound=ucb,
        side="upper", alpha=ALPHA, method="least squares over all runs, Student-t bound",
        bound=P["slope_max"],
        bound_provenance="", negative_control=nc, subchecks=subs, seeds=seeds,
        device=ctx.device, wall_s=tm.s,
        details={"E_out_vs_T": {str(T): [c["E_out"] for c in runs_T[T]] for T in runs_T},
                 "isotropy_vs_T": {str(T): [c["isotropy"] for c in runs_T[T]] for T in runs_T},
                 "single_task_E_out_vs_T": {str(T): [c["E_out"] for c in one_T[T]] for T in one_T},
                 "single_task_isotropy_vs_T": {str(T): [c["isotropy"] for c in one_T[T]] for T in one_T},
                 "spectrum_multi": [c["spectrum"] for c in runs_T[max(runs_T)]],
                 "spectrum_single": [c["spectrum"] for c in one_T[max(one_T)]],
                 "E_out_vs_n": {str(x): [c["E_out"] for c in runs_n[x]] for x in runs_n},
                 "prediction_vs_T": {str(T): pred(d, r, T, n, n) for T in runs_T}})
