"""C2 downstream sample complexity: n*(d, eps) of a ridge probe on the learned features does
not grow with d (pretraining cost may). Error = test squared error of the clipped probe on a
fresh halfspace task; each pretraining seed's n* is read off its mean error curve
(checks/complexity.py), and the slope of mean log n* against log d gets a one-sided
Welch-Satterthwaite bound (checks/sweeps.py)."""
from __future__ import annotations

import math

import numpy as np
import torch

from ...sim.device import resolve_device
from ...sim.probes import FeatureMap, probe_curve
from ...sim.samplers import generator, make_target
from ...theory.probe_bound import probe_bound_tight, probe_sample_bound_tight
from ..context import derive_seed
from ..record import ClaimResult, Timer, finite
from ..executor import Cell
from ..profiles import ALPHA, geometric, profile
from ..regimes import Calibration, groups_calibration, log_limits, points_calibration
from ..rules import Groups, MeanRule
from ..sequential import cell_params, run_rounds, sweep_count
from ..io import decode_array
from ..sweeps import (bound_rule, bound_subcheck, fit_data, growth_controls, growth_details,
                      growth_fit, growth_oc, growth_result, growth_rule, pretraining,
                      seed_crossings, sweep_pretrain_configs, tensor_lists, weights)

__all__ = ["decide", "pretrain_configs", "run_cell", "control_cell"]

ID = "C2"
STATEMENT_REF = "C2"           # theory/claims.py

#: this claim's parameters per profile (checks/profiles.py)
PROFILE = {
    "quick": dict(r=2, d_grid=[8, 16, 32, 64, 128, 256], m=64, m_pre=128, T=64, E_target=1e-3,
                  control_E=1.4e-3, seeds=10, control_seeds=40,
                  probes={"pretrained": dict(reps=24, n_grid=geometric(4, 512)),
                          "raw-linear": dict(reps=3, n_grid=geometric(4, 8192)),
                          "fixed-budget": dict(reps=24, n_grid=geometric(4, 4096))},
                  n_test=1000, eps=0.40, lam=0.1, slope_max=0.25, oc_datasets=1000,
                  sequential=dict(first=5, step=1, cap=24)),
    "full": dict(r=2, d_grid=[64, 256, 1024, 4096], m=64, m_pre=128, T=64, T_per_d=1.0,
                 E_target=1e-3, control_E=1.4e-3, seeds=8, control_seeds=32,
                 probes={"pretrained": dict(reps=96, n_grid=geometric(4, 1024)),
                         "raw-linear": dict(reps=12, n_grid=geometric(4, 65536)),
                         "fixed-budget": dict(reps=96, n_grid=geometric(4, 16384))},
                 n_test=2000, eps=0.40, lam=0.1, slope_max=0.25, oc_datasets=4000,
                 sequential=dict(first=5, step=1, cap=20)),
}

PROBES = ("pretrained", "raw-linear")


def _tensors(pre: dict, device: str):
    dev = resolve_device(device, ID)
    return (torch.from_numpy(decode_array(pre["W"])).to(dev),
            torch.from_numpy(decode_array(pre["M"])).to(dev))


def run_cell(P: dict, d: int, s: int, base_seed: int, pre: dict, device: str) -> dict:
    """One pretraining seed at dimension d (``pre``: its pretrain cell): curves of the
    pretrained and raw-linear probes on the same downstream draws."""
    W, M = _tensors(pre, device)
    target = lambda g: make_target("halfspace", P["r"], g)
    out = {}
    for name, fmap in (("pretrained", FeatureMap.network("pretrained", W[:P["m"]])),
                       ("raw-linear", FeatureMap.raw(d))):
        g = generator(derive_seed(base_seed, ID, d, s, "downstream", name), M.device)
        pp = P["probes"][name]
        c = probe_curve(fmap, M, target, pp["n_grid"], pp["reps"], P["n_test"], P["lam"], g)
        out[name] = {"mse": tensor_lists(c["mse"]), "err01": tensor_lists(c["err01"])}
    return out


def control_cell(P: dict, d: int, s: int, base_seed: int, pre: dict, device: str) -> dict:
    """The near-boundary control at (d, s): the pretrained probe's curve on features pretrained
    with a budget that is not grown with d (wider grid: its n* rises with d)."""
    W, M = _tensors(pre, device)
    pp = P["probes"]["fixed-budget"]
    g = generator(derive_seed(base_seed, ID, d, s, "downstream", "fixed-budget"), M.device)
    c = probe_curve(FeatureMap.network("fixed-budget", W[:P["m"]]), M,
                    lambda gg: make_target("halfspace", P["r"], gg), pp["n_grid"], pp["reps"],
                    P["n_test"], P["lam"], g)
    return {"mse": tensor_lists(c["mse"])}


def _cells(ctx, P, fn, label, pre, seeds):
    shared = {k: v for k, v in cell_params(P).items() if k != "d_grid"}
    return [Cell(ID, {"claim": ID, "cell": label, "d": d, "s": s, "seed": ctx.seed,
                        "device": ctx.device, **shared}, fn,
                 (shared, d, s, ctx.seed, pre[d, s], ctx.device))
            for d in P["d_grid"] for s in range(seeds)]


def pretrain_configs(profile_name: str) -> list[dict]:
    """The largest pretraining run of this claim (for the memory check before a run)."""
    return sweep_pretrain_configs(profile(profile_name, ID))


def _by_d(P, values, seeds):
    it = iter(values)
    return {d: [next(it) for _ in range(seeds)] for d in P["d_grid"]}


def _fit(P, grid, curves_by_d, key="seeds"):
    per_d, cens = {}, {}
    for d, curves in curves_by_d.items():
        per_d[d], cens[d] = seed_crossings(grid, curves, P["eps"])
    return growth_fit(per_d, cens, growth_rule(P), (min(grid), max(grid)), key=key)


def risk_rule(P=None) -> MeanRule:
    """The derived risk bound (c) at every (d, n), tested on one number per pretraining seed
    index s: the average over the d x n grid of (measured - bound). If the bound holds at every
    point, that average has mean <= 0, so a Student-t lower bound above 0 is evidence of a
    violation (fails only with evidence). One test at alpha: per point (d x n tests at
    alpha / 90) or per d (alpha / 6), the skewed per-seed differences gave false-alarm rates of
    22% and 8.5% at the boundary (docs/derivations.md section 10.3)."""
    return MeanRule("<=", 0.0, ALPHA, "false alarm")


def _bound_subcheck(P, pre, fit):
    """n*(d) below the derived d-free bound (docs/derivations.md section 6) at every d
    (sweeps.bound_subcheck)."""
    bounds = {}
    for d in P["d_grid"]:
        pairs = [(W[:P["m"]], M) for W, M in (weights(pre[d, s]) for s in range(P["seeds"]))]
        bounds[d] = probe_sample_bound_tight(pairs, P["eps"], P["lam"])
    return bound_subcheck(P, fit, bounds, "n_star", "n*(d) below the derived d-free bound "
                          "(section 6.4) at every d (max over d of the mean log(n*/bound) and "
                          "its upper bound)", key="seeds"), bounds


def _risk_subcheck(P, pre, cells):
    """The derived d-free risk bound (c) (section 6.1) at every d and n of the grid: per seed,
    the measured clipped test MSE (mean over the downstream repetitions, an unbiased estimate
    of E R(clip f_n) plus test noise) minus the bound for that seed's W (risk_rule). The
    largest ratio measured / bound is recorded."""
    grid = P["probes"]["pretrained"]["n_grid"]
    worst_ratio, per_d, per_seed = 0.0, {}, np.zeros(P["seeds"])
    for d in P["d_grid"]:
        ws = [weights(pre[d, s]) for s in range(P["seeds"])]
        meas = np.array([np.asarray(c["pretrained"]["mse"]).mean(axis=0) for c in cells[d]])
        bnd = np.array([[probe_bound_tight(W[:P["m"]], M, n, P["lam"]) for n in grid]
                        for W, M in ws])
        per_seed += (meas - bnd).mean(axis=1) / len(P["d_grid"])
        ratio = meas.mean(axis=0) / bnd.mean(axis=0)
        worst_ratio = max(worst_ratio, float(ratio.max()))
        per_d[str(d)] = {"measured_over_bound": ratio.tolist(), "bound": bnd.mean(0).tolist()}
    dec = risk_rule(P).judge(Groups.one(per_seed), key="seeds")
    return dec.component("the probe's test risk below the derived d-free risk bound (c) at "
                         "every d and n (lower bound of the mean over seeds of the average over "
                         "d and n of measured - bound; fails only with evidence)", "risk", max_ratio=worst_ratio, per_d=per_d)


def decide(ctx) -> ClaimResult:
    """In rounds of pretraining seeds (checks/sequential.py): every d gets the same seeds; the
    near-boundary control (its pretraining is cheap: a small fixed budget) four times as many."""
    with Timer() as tm:
        res = run_rounds(ctx, ID, profile(ctx.profile, ID), _decide_at,
                         keys=("seeds", "control_seeds"))
    res.wall_s = tm.s
    return res


#: the components that read each sweep (sequential.sweep_count): the pretraining seeds with
#: both probes' curves, and the fixed-budget pretraining with its control curves
READERS = {"seeds": ("primary", "bound", "risk", "raw-x probe"),
           "control_seeds": ("fixed pretraining budget",)}


def _decide_at(ctx, P_round, final) -> ClaimResult:
    # P: the round's parameters with each sweep's seeds as computed (fewer than the round's
    # count once every component reading the sweep is decided: sequential.sweep_count)
    P = {**P_round, **{k: sweep_count(P_round, k, readers) for k, readers in READERS.items()}}
    with Timer() as tm:
        pre = pretraining(ctx, P)
        nc = P["control_seeds"]
        pre_fixed = pretraining(ctx, P, fixed_budget=True, seeds=nc)
        cells = _by_d(P, ctx.run(ID, _cells(ctx, P, run_cell, "probes", pre, P["seeds"])),
                      P["seeds"])
        ctrl = _by_d(P, ctx.run("C2 control (fixed budget)",
                                _cells(ctx, P, control_cell, "fixed-budget", pre_fixed, nc)), nc)
        for d in P["d_grid"]:
            ctx.progress(f"C2 d={d}: pretraining n1=n2={pre[d, 0]['n_pre']}, E_out="
                         f"{np.mean([pre[d, s]['E_out'] for s in range(P['seeds'])]):.2e}")
        grid = {name: P["probes"][name]["n_grid"] for name in P["probes"]}
        fits = {name: _fit(P, grid[name], {d: [c[name]["mse"] for c in cells[d]] for d in cells})
                for name in PROBES}
        fits["fixed-budget"] = _fit(P, grid["fixed-budget"],
                                    {d: [c["mse"] for c in ctrl[d]] for d in ctrl},
                                    key="control_seeds")
        (main_fit, main), decs = fits["pretrained"], {k: v[1] for k, v in fits.items()}
        sub, bounds = _bound_subcheck(P, pre, main_fit)
        risk_sub = _risk_subcheck(P, pre, cells)
        controls = growth_controls(P, decs, ("raw-linear", "raw-x probe", "the d-independence "
                                   "rule on a ridge probe on raw x, whose n* grows like d"), "n*")
        oc = growth_oc(growth_rule(P), fit_data(main_fit, grid["pretrained"]), P, "n*",
                       derive_seed(ctx.seed, ID, "oc")) if final else None
        fits = {k: v[0] for k, v in fits.items()}
    details = {
        "n_grid": grid, "growth": fits,
        **growth_details(fits, "n_star"),
        "n_star_bound": {str(d): finite(v) for d, v in bounds.items()},
        "mean_mse": {name: {str(d): torch.tensor([r for c in cells[d] for r in c[name]["mse"]])
                            .mean(0).tolist() for d in P["d_grid"]} for name in PROBES},
        "E_out": {str(d): [pre[d, s]["E_out"] for s in range(P["seeds"])] for d in P["d_grid"]},
        "E_out_fixed_budget": {str(d): [pre_fixed[d, s]["E_out"] for s in range(nc)]
                               for d in P["d_grid"]},
        "n_pretrain": {str(d): pre[d, 0]["n_pre"] for d in P["d_grid"]},
    }
    return growth_result(
        ID, ctx, P_round, main, "n*",
        "derived here: docs/derivations.md section 6 (d-free bound on n*)",
        controls=controls, subchecks=[sub, risk_sub], operating_characteristic=oc, wall_s=tm.s,
        details=details)



# --- calibration (`mtlcheck calibrate`) and report ------------------------------------------

_GRID = lambda P: P["probes"]["pretrained"]["n_grid"]
CALIBRATIONS = (
    Calibration(f"{ID} d-independence: UCB of the slope of mean log n* vs log d <= slope_max",
                groups_calibration("primary", growth_rule, "seeds",
                                   lambda P: [math.log(d) for d in P["d_grid"]],
                                   log_limits(_GRID), label="d")),
    Calibration(f"{ID} n* below the derived bound at every d: Student-t UCB of mean "
                "log(n*/bound) <= 0",
                points_calibration("bound", bound_rule, "seeds", lambda P: len(P["d_grid"]),
                                   label="d")),
    Calibration(f"{ID} risk bound (c): Student-t LCB of the mean over seeds of the average over "
                "(d, n) of measured - bound > 0 (false alarm)",
                groups_calibration("risk", risk_rule, "seeds", label="group")),
)
REPORT = {"title": f"{ID}: downstream sample complexity",
          "tables": [("nstar.tex", "nstar_table",
                      f"{ID}: $n^*(d)$ (geometric mean over pretraining seeds, 90\\% intervals) for the probe on "
                      "pretrained features and on raw $x$ (control), the derived $d$-free bound "
                      "(section 6), and $E_{out}$ of the pretrained $W$ (budget grows with $d$ to "
                      "hold it).")],
          "figures": [("nstar_vs_d.pdf", "nstar_vs_d", ()), ("error_curves.pdf", "error_curves", ())]}
