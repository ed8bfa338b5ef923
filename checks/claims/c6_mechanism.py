"""C6 mechanism: the representation step after the head step is a gradient step on the
pseudo-contrastive loss (docs/model.md section 3; docs/derivations.md sections 2.8-2.9 and 5).

Sample-split form, exactly (float64): with a_t = one head step from 0 on S1_t, the multi-task
loss L(W) = (1/T) sum_t mean_{S2_t} [-y a_t . relu(W x)] equals
  L_split(W) = -(eta_a/T) sum_t mean_{j in S1_t} mean_{k in S2_t} y_j y_k <relu(W0 x_j), relu(W x_k)>
for every W, so their gradients agree; the gradient of L comes from autograd (heads by autograd
too), that of L_split from its explicit double sum, and the engine's W1 from sim/pretrain.py.
Population form: W1 -> -(eta_a eta_W / 2) grad L_PC(W0) (theory/population.py).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ...sim import pretrain as PT
from ...sim.samplers import FamilySampler, generator, haar, sphere
from ...theory import population as POP
from ...theory.bounds import one_step_population_error
from ...theory.model import ReferenceModel
from ..sequential import run_rounds
from ..rules import ExactRule, Groups, MeanRule, operating_characteristic
from ..context import derive_seed
from ..record import ClaimResult, Timer, finite, nanmax
from ..executor import Cell
from ..profiles import ALPHA, profile
from ..regimes import Calibration, groups_calibration
from ..sweeps import pretrained

__all__ = ["decide", "pretrain_configs", "exact_part", "population_part", "population_cell",
           "multitask_loss_grad", "pc_split_loss_grad"]

ID = "C6"
STATEMENT_REF = "C6"           # theory/claims.py

#: this claim's parameters per profile (checks/profiles.py)
PROFILE = {
    "quick": dict(split=dict(d=12, r=2, T=5, n1=20, n2=17, m=7), tol=1e-10,
                  pop=dict(d=24, r=2, T=512, n=1024, m=16), seeds=16, pop_tol_factor=2.0,
                  scale_tol=0.02, near_factor=1.75, oc_datasets=1000,
                  sequential=dict(first=5, step=3, cap=40)),
    "full": dict(split=dict(d=40, r=3, T=9, n1=50, n2=60, m=13), tol=1e-10,
                 pop=dict(d=64, r=3, T=2048, n=4096, m=32), seeds=32, pop_tol_factor=2.0,
                 scale_tol=0.01, near_factor=1.75, oc_datasets=4000,
                 sequential=dict(first=5, step=5, cap=80)),
}

def split_data(ctx, P, seed):
    g = generator(seed)
    d, r, T, n1, n2, m = (P[k] for k in ("d", "r", "T", "n1", "n2", "m"))
    dt = torch.float64
    M = haar(d, r, g, dt)
    W0 = sphere(m, d, g, dt)
    tasks = FamilySampler(ReferenceModel(d, r), g, dt).sample(T, g)
    X1, y1, X2, y2 = PT.sample_split(tasks, M, n1, n2, g)
    return M, W0, X1, y1, X2, y2


def multitask_loss_grad(W0, X1, y1, X2, y2, eta_a, W=None):
    """Heads by autograd (one step from 0 on S1), then grad_W of the multi-task loss on S2."""
    T, _, _ = X1.shape
    heads = []
    for t in range(T):
        a = torch.zeros(W0.shape[0], dtype=W0.dtype, requires_grad=True)
        loss = -(y1[t] * (PT.activation(X1[t] @ W0.t()) @ a)).mean()
        (g,) = torch.autograd.grad(loss, a)
        heads.append(-eta_a * g)
    W = (W0 if W is None else W).clone().requires_grad_(True)
    L = sum(-(y2[t] * (PT.activation(X2[t] @ W.t()) @ heads[t])).mean() for t in range(T)) / T
    (grad,) = torch.autograd.grad(L, W)
    return float(L.detach()), grad


def pc_symmetric_grad(W0, X1, y1, X2, y2, eta_a):
    """Gradient at W0 of the sample-split loss with W on BOTH sides of the pair (no stop on the
    head side): the wrong identity of the negative control (about twice the true gradient)."""
    W = W0.clone().requires_grad_(True)
    T, n1, _ = X1.shape
    n2 = X2.shape[1]
    F0 = torch.relu(torch.einsum("tjd,md->tjm", X1, W))
    F = torch.relu(torch.einsum("tkd,md->tkm", X2, W))
    L = -eta_a / T * torch.einsum("tj,tk,tjm,tkm->", y1, y2, F0, F) / (n1 * n2)
    (g,) = torch.autograd.grad(L, W)
    return g


def pc_split_loss_grad(W0, X1, y1, X2, y2, eta_a, W=None):
    """The sample-split pseudo-contrastive loss and its gradient, from the explicit double sum."""
    W = W0 if W is None else W
    T, n1, _ = X1.shape
    n2 = X2.shape[1]
    F0 = torch.relu(torch.einsum("tjd,md->tjm", X1, W0))            # relu(W0 x_j)
    Z = torch.einsum("tkd,md->tkm", X2, W)
    F = torch.relu(Z)
    pair = torch.einsum("tj,tk,tjm,tkm->", y1, y2, F0, F)           # sum_t sum_jk y y' <.,.>
    L = -eta_a / T * pair / (n1 * n2)
    # d/dW: -(eta_a/T)/(n1 n2) sum_t sum_jk y_j y_k (relu(W0 x_j) * 1{W x_k > 0}) x_k^T
    left = torch.einsum("tj,tjm->tm", y1, F0)                       # sum_j y_j relu(W0 x_j)
    coef = torch.einsum("tk,tm,tkm->tkm", y2, left, (Z > 0).to(Z.dtype))
    grad = -eta_a / T / (n1 * n2) * torch.einsum("tkm,tkd->md", coef, X2)
    return float(L.detach()), grad


def loss_scale(W0, X1, X2, eta_a, W=None) -> float:
    """The pair loss's double sum without the labels' signs, eta_a / (T n1 n2) sum_t sum_jk
    <relu(W0 x_j), relu(W x_k)> (every term >= 0): the scale a loss difference is measured
    against, since |L| itself can cancel to near 0 (3.8e-16 at one seed)."""
    W = W0 if W is None else W
    T, n1, _ = X1.shape
    F0 = torch.relu(torch.einsum("tjd,md->tjm", X1, W0)).sum(1)
    F = torch.relu(torch.einsum("tkd,md->tkm", X2, W)).sum(1)
    return eta_a / T * float((F0 * F).sum()) / (n1 * X2.shape[1])


def rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


def exact_part(ctx, P, eta_a=0.7, eta_w=1.3, symmetric=False):
    """Max relative difference over: gradients at W0, losses and gradients at a random W, and the
    engine's W1 vs -eta_W grad (NaN anywhere gives NaN). ``symmetric``: compare with the
    gradient of the pair loss differentiated on both sides (the negative control)."""
    S = P["split"]
    M, W0, X1, y1, X2, y2 = split_data(ctx, S, derive_seed(ctx.seed, ID, "split"))
    Lmt, gmt = multitask_loss_grad(W0, X1, y1, X2, y2, eta_a)
    Lpc, gpc = pc_split_loss_grad(W0, X1, y1, X2, y2, eta_a)
    if symmetric:
        return rel(gmt, pc_symmetric_grad(W0, X1, y1, X2, y2, eta_a)), {}
    Wr = sphere(S["m"], S["d"], generator(derive_seed(ctx.seed, ID, "W")), torch.float64) * 2.0
    Lmt2, gmt2 = multitask_loss_grad(W0, X1, y1, X2, y2, eta_a, W=Wr)
    Lpc2, gpc2 = pc_split_loss_grad(W0, X1, y1, X2, y2, eta_a, W=Wr)
    W1 = PT.one_step_from_data(W0, X1, y1, X2, y2, eta_a, eta_w, chunk=2)
    diffs = {"grad at W0": rel(gmt, gpc), "grad at random W": rel(gmt2, gpc2),
             "loss at W0": abs(Lmt - Lpc) / loss_scale(W0, X1, X2, eta_a),
             "loss at random W": abs(Lmt2 - Lpc2) / loss_scale(W0, X1, X2, eta_a, Wr),
             "engine W1 vs -eta_W grad": rel(W1, -eta_w * gpc)}
    return nanmax(diffs.values()), diffs


def population_cell(Q: dict, s: int, base_seed: int, device: str) -> dict:
    """One simulated W1 against the population update U = -(eta_a eta_W / 2) grad L_PC(W0)
    (section 2.9): the relative Frobenius error |W1 - U| / |U| and the scale c_hat =
    <W1, U> / <U, U>, whose conditional mean given W0 is exactly 1 (E[W1 | W0] = U, section 5)."""
    res = pretrained(device, Q["d"], Q["r"], Q["T"], Q["n"], Q["n"], Q["m"],
                     derive_seed(base_seed, ID, "pop", s))
    W0, M, W1 = (x.double().cpu().numpy() for x in (res.W0, res.M, res.W))
    algo = res.config.algo
    U = -0.5 * algo.eta_a * algo.eta_w * POP.pc_gradient(W0, M)
    return {"rel_error": float(np.linalg.norm(W1 - U) / np.linalg.norm(U)),
            "c_hat": float((W1 * U).sum() / (U * U).sum())}


def population_part(ctx, P) -> list[dict]:
    """:func:`population_cell` for every seed."""
    Q = P["pop"]
    return ctx.run("C6 population", [
        Cell(ID, {"claim": ID, "cell": "population", "s": s, "seed": ctx.seed,
                    "device": ctx.device, **Q}, population_cell, (Q, s, ctx.seed, ctx.device))
        for s in range(P["seeds"])])


def pretrain_configs(profile_name: str) -> list[dict]:
    """The pretraining runs of this claim (for the memory check before a run)."""
    P = profile(profile_name, ID)
    Q = P["pop"]
    return [dict(d=Q["d"], r=Q["r"], T=Q["T"], n1=Q["n"], n2=Q["n"], m=Q["m"])]


def exact_rule(P) -> ExactRule:
    """The sample-split identity holds to float64 rounding: max relative difference <= tol."""
    return ExactRule(P["tol"])


def scale_rule(P) -> MeanRule:
    """Equivalence: both one-sided t bounds of the mean c_hat within 1 +- scale_tol, each at
    alpha (two one-sided tests: an intersection-union test of size alpha)."""
    return MeanRule("within", 1.0, ALPHA, tol=P["scale_tol"])


def population_rule(P) -> MeanRule:
    """The population form within pop_tol_factor x its predicted RMS error: the Student-t upper
    bound of the mean log relative error <= log of that tolerance."""
    return MeanRule("<=", math.log(_population_tol(P)), ALPHA)


def _oc(c_hat, P, seed) -> dict:
    """The operating characteristic of the scale rule: the effect is the relative error e of
    the constant (mean c_hat = 1 + e, and 1 - e: the worse side is reported); null e = 0."""
    tol = P["scale_tol"]
    name = "e (the population constant off by a relative error: mean c_hat = 1 +- e)"
    plain = f"the absolute scale of W1 may be off by at most {tol:.0%} (|c - 1| <= {tol:g})"
    data = Groups.one(c_hat)
    if not data.finite():
        return {"effect_name": name, "tolerance": tol, "tolerance_plain": plain,
                "p_pass_at_null": None, "effect_pass_80": None, "effect_fail_80": None,
                "datasets": 0, "method": "undefined: a non-finite c_hat"}
    sides = [operating_characteristic(scale_rule(P), data, f, 0.0, tol, 1.0, P["oc_datasets"],
                                      seed, name, plain)
             for f in (lambda e: 1.0 + e, lambda e: 1.0 - e)]
    worst = lambda k, pick: (None if any(s_[k] is None for s_ in sides)
                             else pick(s_[k] for s_ in sides))
    return {**sides[0], "p_pass_at_null": min(s_["p_pass_at_null"] for s_ in sides),
            "effect_pass_80": worst("effect_pass_80", min),
            "effect_fail_80": worst("effect_fail_80", max),
            "method": sides[0]["method"] + "; both sides (1 + e and 1 - e), the worse reported"}


def _predicted_population_error(P) -> float:
    """The predicted RMS error of the population form at the profile's design (sections 4, 5)."""
    Q = P["pop"]
    return one_step_population_error(Q["d"], Q["r"], Q["T"], Q["n"], Q["n"])


def _population_tol(P) -> float:
    """The population subcheck's bound: pop_tol_factor x the predicted error (its decision and
    its calibration both read it here)."""
    return P["pop_tol_factor"] * _predicted_population_error(P)


def decide(ctx) -> ClaimResult:
    """In rounds of population seeds (checks/sequential.py); the exact identity is decided
    once (it is exact, not sampled)."""
    with Timer() as tm:
        res = run_rounds(ctx, ID, profile(ctx.profile, ID), _decide_at)
    res.wall_s = tm.s
    return res


def _decide_at(ctx, P, final) -> ClaimResult:
    with Timer() as tm:
        worst, diffs = exact_part(ctx, P)
        pop = population_part(ctx, P)
        errs = [c["rel_error"] for c in pop]
        c_hat = [c["c_hat"] for c in pop]
        pred_err = _predicted_population_error(P)
        main = exact_rule(P).judge(worst)
        logs = [math.log(e) if e > 0 else math.nan for e in errs]
        subs = [population_rule(P).judge(Groups.one(logs)).component(
                    f"population: |W1 + (eta_a eta_W/2) grad L_PC(W0)|_F / |...|_F (mean of log "
                    f"over seeds) within {P['pop_tol_factor']:g} x the predicted RMS error "
                    f"{pred_err:.3g} (sections 4, 5)", "population", errors=errs,
                    geometric_mean=finite(math.exp(float(np.mean(logs))))),
                scale_rule(P).judge(Groups.one(c_hat)).component(
                    f"scale of W1: |c - 1| <= {P['scale_tol']:g} for c = <W1, U>/<U, U>, "
                    "U = -(eta_a eta_W/2) grad L_PC(W0) (E[W1 | W0] = U exactly, section 2.9)",
                    "scale", c_hat=c_hat)]
        nworst, _ = exact_part(ctx, P, symmetric=True)
        controls = [exact_rule(P).judge(nworst).control(
            "both sides differentiated", "the exact identity against the pair loss "
            "differentiated on both sides (no stop on the head side)")]
        near = 1.0 + P["near_factor"] * P["scale_tol"]
        for mult, name, text in (
                (0.5, "population factor 1 instead of 1/2", "the scale rule with U computed "
                 "with the factor 1 in place of 1/2 (c halves)"),
                (near, f"population constant off by {near - 1:.1%} ({P['near_factor']:g}x the "
                       "tolerance, near the boundary)", f"the scale rule with U scaled by "
                 f"1/{near:.4g} (the constant off by {near - 1:.1%})")):
            d_ = scale_rule(P).judge(Groups.one([c * mult for c in c_hat]))
            controls.append(d_.control(name, text, effect=abs(mult - 1),
                                       effect_over_tolerance=abs(mult - 1) / P["scale_tol"]))
        oc = _oc(c_hat, P, derive_seed(ctx.seed, ID, "oc")) if final else None
        ctx.progress(f"C6: exact max rel diff {worst:.2e}; population error "
                     f"{sum(errs) / len(errs):.3f}; scale {float(np.mean(c_hat)):.4f}")
    return ClaimResult(
        id=ID, parameters=dict(P),
        statistic_name="max relative difference, multi-task gradient vs sample-split PC gradient",
        primary=main, plain=f"the sample-split identity holds to {worst:.2g} relative "
                            f"(float64 rounding; the bound is {P['tol']:g})",
        bound_provenance="derived here: docs/derivations.md section 5 (sample-split identity)",
        controls=controls, subchecks=subs, operating_characteristic=oc,
        seeds=[derive_seed(ctx.seed, ID, "split")] + [derive_seed(ctx.seed, ID, "pop", s)
                                                         for s in range(P["seeds"])],
        device=ctx.device, wall_s=tm.s, details={"exact": diffs, "population_errors": errs,
                                                  "c_hat": c_hat,
                                                  "negative_exact_max_rel_diff": nworst})


# --- calibration (`mtlcheck calibrate`) and report ------------------------------------------

CALIBRATIONS = (
    Calibration(f"{ID} scale: both Student-t bounds of the mean c_hat within 1 +- tol",
                groups_calibration("scale", scale_rule, "seeds", label="group")),
    Calibration(f"{ID} population error: Student-t UCB of the mean log relative error <= log tol",
                groups_calibration("population", population_rule, "seeds", label="group")),
)
REPORT = {"title": f"{ID}: the pseudo-contrastive mechanism", "tables": [], "figures": []}
