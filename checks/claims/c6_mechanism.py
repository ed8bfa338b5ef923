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
from ..rules import EquivalenceRule, GroupData, PowerRecord, all_finite, effect_80
from ..context import derive_seed
from ..record import ClaimResult, Timer, finite, nanmax, negative_control_record, subcheck
from ..executor import Cell
from ..profiles import ALPHA, profile
from ..regimes import Calibration, mean_regime
from ..stats import mean_bound
from ..sweeps import pretrained

__all__ = ["decide", "pretrain_configs", "exact_part", "population_part", "population_cell",
           "multitask_loss_grad", "pc_split_loss_grad"]

ID = "C6"
STATEMENT_REF = "C6"           # theory/claims.py

#: this claim's parameters per profile (checks/profiles.py)
PROFILE = {
    "quick": dict(split=dict(d=12, r=2, T=5, n1=20, n2=17, m=7), tol=1e-10,
                  pop=dict(d=24, r=2, T=512, n=1024, m=16), seeds=16, pop_tol_factor=2.0,
                  scale_tol=0.02, power_datasets=1000),
    "full": dict(split=dict(d=40, r=3, T=9, n1=50, n2=60, m=13), tol=1e-10,
                 pop=dict(d=64, r=3, T=2048, n=4096, m=32), seeds=32, pop_tol_factor=2.0,
                 scale_tol=0.01, power_datasets=4000),
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
             "loss at W0": abs(Lmt - Lpc) / abs(Lpc), "loss at random W": abs(Lmt2 - Lpc2) / abs(Lpc2),
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


def _scale_rule(c, tol):
    """Equivalence: both one-sided t bounds of mean c within [1 - tol, 1 + tol] (each at
    ALPHA), i.e. the upper bound max(hi - 1, 1 - lo) of |E c - 1| is <= tol. Returns
    (|mean - 1|, that bound, passes)."""
    lo, hi = mean_bound(c, ALPHA, "lower"), mean_bound(c, ALPHA, "upper")
    ub = max(hi - 1, 1 - lo)
    return abs(float(np.mean(c)) - 1), ub, EquivalenceRule(1.0, tol, ALPHA).passes([0], [c])


def _power(c_hat, tol, N, seed) -> dict:
    """The smallest relative error of the constant (c = 1 + e) that the scale rule detects with
    probability 0.8, at this run's per-seed spread."""
    alt = "the population constant off by a relative error e (effect: e)"
    if not all_finite([c_hat]):
        return PowerRecord(alt, None, N, "undefined: a non-finite c_hat").record()
    data = GroupData.of([0.0], [c_hat])
    e80 = effect_80(EquivalenceRule(1.0, tol, ALPHA), data, lambda e: [1.0 + e], 0.0, 1.0, N,
                    np.random.default_rng(seed))
    return PowerRecord(alt, finite(e80), N, "synthetic per-seed c_hat with this run's spread "
                       "(checks/rules.py), bisection with common random numbers").record()


def _predicted_population_error(P) -> float:
    """The predicted RMS error of the population form at the profile's design (sections 4, 5)."""
    Q = P["pop"]
    return one_step_population_error(Q["d"], Q["r"], Q["T"], Q["n"], Q["n"])


def _population_tol(P) -> float:
    """The population subcheck's bound: pop_tol_factor x the predicted error (its decision and
    its calibration both read it here)."""
    return P["pop_tol_factor"] * _predicted_population_error(P)


def decide(ctx) -> ClaimResult:
    P = profile(ctx.profile, ID)
    with Timer() as tm:
        worst, diffs = exact_part(ctx, P)
        pop = population_part(ctx, P)
        errs = [c["rel_error"] for c in pop]
        c_hat = [c["c_hat"] for c in pop]
        pred_err = _predicted_population_error(P)
        tol = _population_tol(P)
        cm, cfar, cpass = _scale_rule(c_hat, P["scale_tol"])
        logs = [math.log(e) if e > 0 else math.nan for e in errs]
        subs = [subcheck(f"population: |W1 + (eta_a eta_W/2) grad L_PC(W0)|_F / |...|_F "
                         f"(geometric mean over seeds) within {P['pop_tol_factor']:g} x the "
                         f"predicted RMS error {pred_err:.3g} (sections 4, 5)",
                         math.exp(float(np.mean(logs))),
                         math.exp(mean_bound(logs, ALPHA, "upper")), tol, "upper", ALPHA,
                         "Student t on the log errors over seeds", errors=errs),
                subcheck(f"scale of W1: |c - 1| <= {P['scale_tol']:g} for c = <W1, U>/<U, U>, "
                         "U = -(eta_a eta_W/2) grad L_PC(W0) (E[W1 | W0] = U exactly, section "
                         "2.9)", cm, cfar, P["scale_tol"], "upper", 2 * ALPHA,
                         "two one-sided Student-t bounds over seeds (equivalence)", c_hat=c_hat)]
        # negative controls: the pair loss differentiated on both sides (exact form), and the
        # population constant off by a factor 2 and by 10%
        nworst, _ = exact_part(ctx, P, symmetric=True)
        controls = [negative_control_record(
            "both sides differentiated", "the exact identity against the pair loss "
            "differentiated on both sides (no stop on the head side)", nworst, nworst,
            rejected=not nworst <= P["tol"])]
        for factor, name in ((1.0, "population factor 1 instead of 1/2"),
                             (0.55, "population constant off by 10% (near the boundary)")):
            scaled = [c * 0.5 / factor for c in c_hat]
            m_, far, passes = _scale_rule(scaled, P["scale_tol"])
            controls.append(negative_control_record(
                name, f"the scale rule with U computed with the factor {factor:g} in place of "
                "1/2", m_, far, rejected=not passes))
        power = _power(c_hat, P["scale_tol"], P["power_datasets"],
                       derive_seed(ctx.seed, ID, "power"))
        ctx.progress(f"C6: exact max rel diff {worst:.2e}; population error "
                     f"{sum(errs) / len(errs):.3f}; scale {cm:.4f}")
    return ClaimResult(
        id=ID, parameters=dict(P),
        statistic_name="max relative difference, multi-task gradient vs sample-split PC gradient",
        statistic=worst, confidence_bound=worst, side="upper", alpha=0.0,
        method="exact identity in float64 (deterministic)", bound=P["tol"],
        bound_provenance="derived here: docs/derivations.md section 5 (sample-split identity)",
        controls=controls, subchecks=subs, power=power,
        seeds=[derive_seed(ctx.seed, ID, "split")] + [derive_seed(ctx.seed, ID, "pop", s)
                                                         for s in range(P["seeds"])],
        device=ctx.device, wall_s=tm.s, details={"exact": diffs, "population_errors": errs,
                                                  "c_hat": c_hat,
                                                  "negative_exact_max_rel_diff": nworst})


# --- calibration (`mtlcheck calibrate`) and report ------------------------------------------

def _scale_calibration(rec, P):
    data = GroupData.of([0.0], [rec["details"]["c_hat"]], sizes=[P["seeds"]])
    return (EquivalenceRule(1.0, P["scale_tol"], ALPHA), data, [1.0 + P["scale_tol"]],
            f"{P['seeds']} seeds, tolerance {P['scale_tol']}")


CALIBRATIONS = (
    Calibration(f"{ID} scale: both Student-t bounds of the mean c_hat within 1 +- tol",
                _scale_calibration),
    Calibration(f"{ID} population error: Student-t UCB of the mean log relative error <= log tol",
                mean_regime(lambda det: [math.log(e) for e in det["population_errors"]],
                            "upper", lambda P: math.log(_population_tol(P)), "seeds")),
)
REPORT = {"title": f"{ID}: the pseudo-contrastive mechanism", "tables": [], "figures": []}
