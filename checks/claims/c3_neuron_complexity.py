"""C3 downstream neuron complexity: the width m*(d, eps) that a linear probe on the learned
features needs does not grow with d.

Measured in the population limit of the downstream sample (n -> infinity), where the width is
what limits the probe: the risk of the best linear probe on the first m learned features,
averaged over halfspace downstream tasks, is computed exactly from the closed forms
(arc-cosine Gram, E[y relu(w.x)]: docs/derivations.md sections 2.2, 2.7, 6.3). Rows of one
pretraining run are exchangeable, so its first m rows are a width-m network.
"""
from __future__ import annotations

import math

import torch

from ...sim.samplers import generator, sphere
from ...theory.bounds import width_bound_curve, width_risk_curve
from ..common import ClaimResult, Timer, derive_seed, finite, negative_control, subcheck
from ..complexity import crossing_status
from ..executor import Cell
from ..profiles import ALPHA, profile
from ..stats import bootstrap_bound
from ..sweeps import bootstrap_slope, crossing_cis, shared_pretrained, slope_bounds

__all__ = ["decide", "pretrain_configs", "run_cell"]


def run_cell(P: dict, d: int, s: int, base_seed: int, device: str) -> dict:
    """One pretraining seed at dimension d: the exact population risk of the best probe on the
    first m learned rows and on m random features, and the derived width-bound curve."""
    res, n_pre = shared_pretrained(P, d, s, base_seed, device)
    W = res.W.double().cpu().numpy()
    M = res.M.double().cpu().numpy()
    rf = sphere(max(P["rf_widths"]), d, generator(derive_seed(base_seed, "C3-rf", d, s)),
                torch.float64).numpy()
    return {"E_out": res.metrics()["E_out"], "n_pre": n_pre,
            "pretrained": width_risk_curve(W, M, P["widths"]),
            "bound": width_bound_curve(W, M, P["widths"]),
            "random-features": width_risk_curve(rf, M, P["rf_widths"])}


def _cells(ctx, P):
    shared = {k: v for k, v in P.items() if k not in ("d_grid", "B")}
    return [Cell("C3", {"claim": "C3", "d": d, "s": s, "seed": ctx.seed, "device": ctx.device,
                        **shared}, run_cell, (shared, d, s, ctx.seed, ctx.device))
            for d in P["d_grid"] for s in range(P["seeds"])]


def pretrain_configs(P: dict) -> list[dict]:
    """The largest pretraining run (shared with C2; for the memory check before a run)."""
    from .c2_sample_complexity import pretrain_configs as shared
    return shared(P)


def decide(ctx) -> ClaimResult:
    P = profile(ctx.profile, "C3")
    gen = torch.Generator().manual_seed(derive_seed(ctx.seed, "C3", "bootstrap"))
    with Timer() as tm:
        values = iter(ctx.run("C3", _cells(ctx, P)))
        cells = {d: [next(values) for _ in range(P["seeds"])] for d in P["d_grid"]}
        for d in P["d_grid"]:
            ctx.progress(f"C3 d={d}: population risk at m={P['widths'][4]}: "
                         f"{sum(c['pretrained'][4] for c in cells[d]) / len(cells[d]):.4f}")
        # one cluster per pretraining seed, holding its single (exact) risk curve
        curves = {name: {d: [[c[name]] for c in cells[d]] for d in cells}
                  for name in ("pretrained", "random-features")}
        boot = bootstrap_slope(P["widths"], curves["pretrained"], P["eps"], P["B"], gen)
        lcb, ucb = slope_bounds(boot, ALPHA)
        # derived d-free bound (section 6.2, E_out form): the smallest m whose bound <= eps,
        # per pretraining run; m*(d) of the pooled curve must not exceed the largest of them
        mb = {d: max(crossing_status(P["widths"], c["bound"], P["eps"])[0] for c in cells[d])
              for d in cells}

        def ratio(a, b):
            return math.inf if not math.isfinite(b) else a / b

        worst = max(ratio(bootstrap_bound(boot["crossing_replicates"][d], ALPHA / len(cells), "upper"),
                          mb[d]) for d in cells)
        subs = [subcheck("m*(d) below the derived d-free width bound at every d (max over d of "
                         "UCB(m*)/bound)", max(ratio(boot["crossing"][d], mb[d]) for d in cells),
                         worst, 1.0, "upper", ALPHA, "percentile bootstrap, Bonferroni over d",
                         per_d={str(d): {"m_star": finite(boot["crossing"][d]),
                                         "bound": finite(mb[d])} for d in cells})]
        nboot = bootstrap_slope(P["rf_widths"], curves["random-features"], P["eps"], P["B"], gen)
        nl, nu = slope_bounds(nboot, ALPHA)
    nc = negative_control(
        "the d-independence rule (UCB of the slope of log m* vs log d <= slope_max) on random "
        "features (W at its initialisation), whose width must grow with d", not (nu <= P["slope_max"]),
        statistic=finite(nboot["slope"]), confidence_bound=finite(nu),
        m_star={str(d): finite(v) for d, v in nboot["crossing"].items()})
    details = {
        "widths": P["widths"], "rf_widths": P["rf_widths"],
        "m_star": {name: {str(d): finite(v) for d, v in b["crossing"].items()}
                   for name, b in (("pretrained", boot), ("random-features", nboot))},
        "m_star_ci": {name: crossing_cis(b, ALPHA) for name, b in (("pretrained", boot),
                                                                    ("random-features", nboot))},
        "censored": {name: {str(d): c for d, c in b["censored"].items()}
                     for name, b in (("pretrained", boot), ("random-features", nboot))},
        "m_star_bound": {str(d): finite(v) for d, v in mb.items()},
        "mean_risk": {name: {str(d): torch.tensor([c[0] for c in curves[name][d]]).mean(0).tolist()
                             for d in cells} for name in curves},
        "E_out": {str(d): [c["E_out"] for c in cells[d]] for d in cells},
        "slope_ci": [finite(lcb), finite(ucb)],
    }
    return ClaimResult(
        id="C3", parameters=dict(P), statistic_name="slope of log m* vs log d",
        statistic=boot["slope"], confidence_bound=ucb, side="upper", alpha=ALPHA,
        method="percentile bootstrap over pretraining seeds", bound=P["slope_max"],
        bound_provenance="derived here: docs/derivations.md section 6.2 (d-free width bound)",
        negative_control=nc, subchecks=subs,
        seeds=[derive_seed(ctx.seed, "pretrain", d, s) for d in cells for s in range(P["seeds"])],
        device=ctx.device, wall_s=tm.s, details=details)
