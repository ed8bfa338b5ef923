"""C3 downstream neuron complexity: the width m*(d, eps) that a linear probe on the learned
features needs does not grow with d.

Measured in the population limit of the downstream sample (n -> infinity), where the width is
what limits the probe: the risk of the best linear probe on the first m learned features,
averaged over halfspace downstream tasks, is computed exactly from the closed forms
(arc-cosine Gram, E[y relu(w.x)]: docs/derivations.md sections 2.2, 2.7, 6.3). Rows of one
pretraining run are exchangeable, so its first m rows are a width-m network. Each seed's m*
is read off its exact risk curve; the slope of mean log m* against log d gets a one-sided
Welch-Satterthwaite bound (checks/sweeps.py).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ...sim.samplers import generator, sphere
from ...theory.bounds import width_risk_curve
from ...theory.probe_bound import width_bound_curve_tight
from ..context import derive_seed
from ..record import ClaimResult, Timer, finite
from ..complexity import crossing_status
from ..executor import Cell
from ..profiles import geometric, profile
from ..regimes import Calibration, groups_calibration, log_limits, points_calibration
from ..sequential import cell_params, run_rounds, sweep_count
from ..sweeps import (bound_rule, bound_subcheck, fit_data, growth_controls, growth_details,
                      growth_fit, growth_oc, growth_result, growth_rule, pretraining,
                      seed_crossings, sweep_pretrain_configs, weights)

__all__ = ["decide", "pretrain_configs", "run_cell", "control_cell"]

ID = "C3"
STATEMENT_REF = "C3"           # theory/claims.py

#: this claim's parameters per profile (checks/profiles.py)
PROFILE = {
    "quick": dict(r=2, d_grid=[8, 16, 32, 64, 128, 256], m_pre=128, T=64, E_target=1e-3,
                  control_E=4e-3, seeds=10,
                  widths=[1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128],
                  rf_widths=geometric(4, 2048), eps=0.5, slope_max=0.25, oc_datasets=1000,
                  sequential=dict(first=5, step=1, cap=24)),
    "full": dict(r=2, d_grid=[64, 256, 1024, 4096], m_pre=128, T=64, T_per_d=1.0,
                 E_target=1e-3, control_E=4e-3, seeds=8,
                 widths=[1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128],
                 rf_widths=geometric(4, 16384, 2.0), eps=0.5, slope_max=0.25,
                 oc_datasets=4000, sequential=dict(first=5, step=1, cap=20)),
}

def run_cell(P: dict, d: int, s: int, base_seed: int, pre: dict) -> dict:
    """One pretraining seed at dimension d (its pretrain cell): the exact population risk of
    the best probe on the first m learned rows, and the derived width-bound curve."""
    W, M = weights(pre)
    return {"pretrained": width_risk_curve(W, M, P["widths"]),
            "bound": width_bound_curve_tight(W, M, P["widths"])}


def control_cell(P: dict, d: int, s: int, base_seed: int, pre: dict, pre_fixed: dict) -> dict:
    """The controls at (d, s): the exact population risk on m random features (with the task's
    M of seed s; computed up to its first width with risk <= eps, all that m* reads: None past
    it) and on the first m rows of the fixed-budget pretraining."""
    _, M = weights(pre)
    rf = sphere(max(P["rf_widths"]), d, generator(derive_seed(base_seed, "C3-rf", d, s)),
                torch.float64).numpy()
    return {"random-features": width_risk_curve(rf, M, P["rf_widths"], stop_below=P["eps"]),
            "fixed-budget": width_risk_curve(*weights(pre_fixed), P["widths"])}


def _cells(ctx, P, fn, label, seeds, *pres):
    shared = {k: v for k, v in cell_params(P).items() if k != "d_grid"}
    return [Cell(ID, {"claim": ID, "cell": label, "d": d, "s": s, "seed": ctx.seed,
                      "device": ctx.device, **shared}, fn,
                 (shared, d, s, ctx.seed, *(pre[d, s] for pre in pres)))
            for d in P["d_grid"] for s in range(seeds)]


#: the components that read each sweep (sequential.sweep_count): the learned rows' curves, and
#: the controls' (random features, fixed-budget pretraining)
READERS = {"seeds": ("primary", "bound"),
           "controls": ("random features", "fixed pretraining budget")}


def pretrain_configs(profile_name: str) -> list[dict]:
    """The largest pretraining run (for the memory check before a run)."""
    return sweep_pretrain_configs(profile(profile_name, ID))


def _bound_subcheck(P, cells, fit):
    """m*(d) below the derived d-free width bound (section 6.5) at every d, bound(d) the largest
    per-seed bound (sweeps.bound_subcheck)."""
    mb = {d: max(crossing_status(P["widths"], c["bound"], P["eps"])[0] for c in cells[d])
          for d in P["d_grid"]}
    return bound_subcheck(P, fit, mb, "m_star", "m*(d) below the derived d-free width bound "
                          "(section 6.5) at every d (max over d of the mean log(m*/bound) and "
                          "its upper bound)", key="seeds"), mb


def decide(ctx) -> ClaimResult:
    """In rounds of pretraining seeds (checks/sequential.py): every d gets the same seeds."""
    with Timer() as tm:
        res = run_rounds(ctx, ID, profile(ctx.profile, ID), _decide_at)
    res.wall_s = tm.s
    return res


def _decide_at(ctx, P_round, final) -> ClaimResult:
    # each sweep's seeds as computed: fewer than the round's once its readers are all decided
    n = {label: sweep_count(P_round, "seeds", readers, label) for label, readers in READERS.items()}
    P = {**P_round, "seeds": n["seeds"]}
    nc = n["controls"]
    with Timer() as tm:
        pre = pretraining(ctx, P, seeds=max(n.values()))
        pre_fixed = pretraining(ctx, P, fixed_budget=True, seeds=nc)
        values = iter(ctx.run(ID, _cells(ctx, P, run_cell, "widths", n["seeds"], pre)))
        cells = {d: [next(values) for _ in range(n["seeds"])] for d in P["d_grid"]}
        values = iter(ctx.run(f"{ID} controls", _cells(ctx, P, control_cell, "controls", nc, pre,
                                                       pre_fixed)))
        ctrl = {d: [next(values) for _ in range(nc)] for d in P["d_grid"]}
        for d in P["d_grid"]:
            ctx.progress(f"C3 d={d}: population risk at m={P['widths'][4]}: "
                         f"{sum(c['pretrained'][4] for c in cells[d]) / len(cells[d]):.4f}")
        grids = {"pretrained": P["widths"], "random-features": P["rf_widths"],
                 "fixed-budget": P["widths"]}
        fits = {}
        for name, grid in grids.items():
            per_d, cens = {}, {}
            src = cells if name == "pretrained" else ctrl
            for d in P["d_grid"]:
                per_d[d], cens[d] = seed_crossings(grid, [c[name] for c in src[d]], P["eps"])
            fits[name] = growth_fit(per_d, cens, growth_rule(P), (min(grid), max(grid)),
                                    key="seeds")
        (main_fit, main), decs = fits["pretrained"], {k: v[1] for k, v in fits.items()}
        fits = {k: v[0] for k, v in fits.items()}
        sub, mb = _bound_subcheck(P, cells, main_fit)
        controls = growth_controls(P, decs, ("random-features", "random features", "the "
                                   "d-independence rule on random features (W at its "
                                   "initialisation), whose width grows like d"), "m*")
        oc = growth_oc(growth_rule(P), fit_data(main_fit, P["widths"]), P, "m*",
                       derive_seed(ctx.seed, ID, "oc")) if final else None
    details = {
        "widths": P["widths"], "rf_widths": P["rf_widths"], "growth": fits,
        **growth_details(fits, "m_star"),
        "m_star_bound": {str(d): finite(v) for d, v in mb.items()},
        # mean over seeds; None at a width some seed's curve did not reach (random features:
        # computed up to the first crossing of eps)
        "mean_risk": {name: {str(d): [finite(v) for v in np.array(
            [[math.nan if v is None else v for v in c[name]]
             for c in (cells if name == "pretrained" else ctrl)[d]]).mean(0)]
            for d in P["d_grid"]} for name in grids},
        "E_out": {str(d): [pre[d, s]["E_out"] for s in range(P["seeds"])] for d in P["d_grid"]},
    }
    return growth_result(
        ID, ctx, P_round, main, "m*",
        "derived here: docs/derivations.md section 6.5 (d-free width bound)",
        controls=controls, subchecks=[sub], operating_characteristic=oc, wall_s=tm.s,
        details=details)


# --- calibration (`mtlcheck calibrate`) and report ------------------------------------------

CALIBRATIONS = (
    Calibration(f"{ID} d-independence: UCB of the slope of mean log m* vs log d <= slope_max",
                groups_calibration("primary", growth_rule, "seeds",
                                   lambda P: [math.log(d) for d in P["d_grid"]],
                                   log_limits(lambda P: P["widths"]), label="d")),
    Calibration(f"{ID} m* below the derived bound at every d: Student-t UCB of mean "
                "log(m*/bound) <= 0",
                points_calibration("bound", bound_rule, "seeds", lambda P: len(P["d_grid"]),
                                   label="d")),
)
REPORT = {"title": f"{ID}: downstream neuron complexity",
          "tables": [("mstar.tex", "mstar_table",
                      f"{ID}: $m^*(d)$ (population limit) for pretrained and random features, the derived "
                      "width bound and the random-feature lower bound.")],
          "figures": [("mstar_vs_d.pdf", "mstar_vs_d", ())]}
