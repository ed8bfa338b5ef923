"""C4 single-task failure: with high probability over the draw of one task, training on it
leaves some of the r directions unlearned (isotropy near 0), and a downstream task along the
least-learned direction fails; multi-task runs succeed, although each of their tasks gets far
fewer representation samples (n2 = n1 per task against n2 for the single task)."""
from __future__ import annotations

import torch
from scipy.optimize import brentq

from ...sim.probes import FeatureMap, probe_curve
from ...sim.samplers import Target, generator
from ...theory.isotropy_bound import single_task_isotropy_tight
from ..rules import BinomialRule, PowerRecord
from ..context import derive_seed
from ..record import ClaimResult, Timer, negative_control_record, subcheck
from ..executor import Cell
from ..profiles import ALPHA, profile
from ..stats import clopper_pearson_lower
from ..sweeps import pretrained

__all__ = ["decide", "pretrain_configs", "rule", "run_cell"]

ID = "C4"
STATEMENT_REF = "C4"           # theory/claims.py

#: this claim's parameters per profile (checks/profiles.py)
PROFILE = {
    "quick": dict(d=64, r=3, n1=256, n2=4096, m=128, K=30, tau=0.3, multi_T=64, few_T=4,
                  n_ds=1024, n_test=2000, lam=0.1, p_min=0.8, err_fail=0.2, err_ok=0.1),
    "full": dict(d=256, r=4, n1=1024, n2=16384, m=256, K=100, tau=0.3, multi_T=256, few_T=10,
                 n_ds=4096, n_test=4000, lam=0.1, p_min=0.8, err_fail=0.2, err_ok=0.1),
}

def _design(P: dict, kind: str) -> tuple[int, int]:
    """(T, n2) of a kind of run: one task with the representation budget n2; many tasks with
    n2 = n1 per task; a few tasks (the near-boundary control) with n2 per task."""
    return {"single": (1, P["n2"]), "multi": (P["multi_T"], P["n1"]),
            "few": (P["few_T"], P["n2"])}[kind]


def run_cell(P: dict, kind: str, k: int, base_seed: int, device: str) -> dict:
    """One run of a kind: isotropy, spectrum, E_out, and the 0-1 error of a downstream task
    along the least-learned direction of span(M)."""
    T, n2 = _design(P, kind)
    res = pretrained(device, P["d"], P["r"], T, P["n1"], n2, P["m"],
                     derive_seed(base_seed, ID, kind, k))
    WM = (res.W.double() @ res.M.double())
    _, _, Vh = torch.linalg.svd(WM, full_matrices=False)
    v_miss = Vh[-1].to(res.M.dtype)                 # least-learned direction of span(M)
    target = lambda g: Target("missed", lambda z: torch.where(z @ v_miss >= 0, 1.0, -1.0).to(z.dtype))
    g = generator(derive_seed(base_seed, ID, kind, k, "downstream"), res.M.device)
    c = probe_curve(FeatureMap.network(kind, res.W), res.M, target, [P["n_ds"]], 1,
                    P["n_test"], P["lam"], g)
    met = res.metrics()
    return {"isotropy": met["isotropy"], "missed_err01": float(c["err01"][0, 0]),
            "E_out": met["E_out"], "spectrum": met["spectrum"]}


KINDS = ("single", "multi", "few")


def _cells(ctx, P, kind):
    T, n2 = _design(P, kind)
    shared = {x: v for x, v in P.items() if x != "K"}
    return [Cell(ID, {"claim": ID, "kind": kind, "k": k, "T": T, "n2": n2, "seed": ctx.seed,
                        "device": ctx.device, **shared},
                 run_cell, (shared, kind, k, ctx.seed, ctx.device)) for k in range(P["K"])]


def rule(iso, P, alpha):
    """Fraction of runs with isotropy below tau, its Clopper-Pearson lower bound, and whether
    the rule passes (lower bound >= p_min)."""
    k = sum(1 for v in iso if v < P["tau"])
    lcb = clopper_pearson_lower(k, len(iso), alpha)
    return k / len(iso), lcb, lcb >= P["p_min"]


def pretrain_configs(profile_name: str) -> list[dict]:
    """The pretraining runs of this claim (for the memory check before a run)."""
    P = profile(profile_name, ID)
    return [dict(d=P["d"], r=P["r"], T=T, n1=P["n1"], n2=n2, m=P["m"])
            for T, n2 in (_design(P, kind) for kind in KINDS)]


def _share_subcheck(name, errs, P, succeed: bool):
    """The share of runs whose missed-direction 0-1 error is <= err_ok (succeed) or >= err_fail
    (fail): its Clopper-Pearson lower bound must reach p_min (exact binomial)."""
    k = sum(1 for e in errs if (e <= P["err_ok"] if succeed else e >= P["err_fail"]))
    return subcheck(name, k / len(errs), clopper_pearson_lower(k, len(errs), ALPHA), P["p_min"],
                    "lower", ALPHA, "Clopper-Pearson (exact binomial)",
                    mean_error=sum(errs) / len(errs))


def _subchecks(P, single, multi):
    serr = [c["missed_err01"] for c in single]
    merr = [c["missed_err01"] for c in multi]
    subs = [
        _share_subcheck("share of single-task runs where a downstream task along the "
                        "least-learned direction fails (0-1 error >= err_fail)", serr, P, False),
        _share_subcheck("share of multi-task runs where that downstream task succeeds (0-1 "
                        "error <= err_ok)", merr, P, True),
    ]
    # the derived single-task bound (section 7) must hold in at least 1 - delta of the runs
    delta = 0.05
    bnd = single_task_isotropy_tight(P["r"], P["n2"], delta)
    viol = sum(1 for c in single if not c["isotropy"] <= bnd)          # NaN is a violation
    subs.append(subcheck(f"fraction of single-task runs above the derived isotropy bound "
                         f"{bnd:.3g} (delta = {delta})", viol / len(single),
                         clopper_pearson_lower(viol, len(single), ALPHA), delta, "upper",
                         ALPHA, "Clopper-Pearson lower bound of the violation rate",
                         error="false alarm"))
    return subs, bnd


def _power(P) -> dict:
    """The smallest true share q of isotropic single-task runs (isotropy >= tau) that the rule
    detects (fails) with probability 0.8: exact binomial sums, bisection over q."""
    br = BinomialRule(P["p_min"], ALPHA, P["K"])
    q = brentq(lambda x: (1 - br.pass_probability(1 - x)) - 0.8, 0.0, 1.0, xtol=1e-10)
    return PowerRecord("a share q of single-task runs is isotropic (effect: q; the claim needs "
                       f"q <= {1 - P['p_min']:.2g})", q, P["K"],
                       "exact binomial probabilities of the Clopper-Pearson rule").record()


def decide(ctx) -> ClaimResult:
    P = profile(ctx.profile, ID)
    with Timer() as tm:
        cells = [c for kind in KINDS for c in _cells(ctx, P, kind)]
        runs = ctx.run(ID, cells)
        by = {kind: runs[i * P["K"]:(i + 1) * P["K"]] for i, kind in enumerate(KINDS)}
        frac, lcb, _ = rule([c["isotropy"] for c in by["single"]], P, ALPHA)
        subs, bnd = _subchecks(P, by["single"], by["multi"])
        controls = []
        for kind, name, text in (
                ("multi", "many tasks", f"the single-task rule applied to runs with "
                 f"T = {P['multi_T']} tasks"),
                ("few", "a few tasks (near the boundary)",
                 f"the single-task rule applied to runs with T = {P['few_T']} tasks, a few more "
                 f"than r = {P['r']}: most runs still miss a direction, but fewer than p_min")):
            f, b, passes = rule([c["isotropy"] for c in by[kind]], P, ALPHA)
            controls.append(negative_control_record(name, text, f, b, rejected=not passes))
    return ClaimResult(
        id=ID, parameters=dict(P),
        statistic_name=f"fraction of single-task runs with isotropy < {P['tau']}",
        statistic=frac, confidence_bound=lcb, side="lower", alpha=ALPHA,
        method="Clopper-Pearson (exact binomial)", bound=P["p_min"],
        bound_provenance="derived here: docs/derivations.md section 7 (single-task isotropy)",
        controls=controls, subchecks=subs, power=_power(P),
        seeds=[derive_seed(ctx.seed, ID, kind, k) for kind in KINDS for k in range(P["K"])],
        device=ctx.device, wall_s=tm.s,
        details={**{f"{kind}_isotropy": [c["isotropy"] for c in by[kind]] for kind in KINDS},
                 "single_missed_err01": [c["missed_err01"] for c in by["single"]],
                 "multi_missed_err01": [c["missed_err01"] for c in by["multi"]],
                 "single_spectrum": [c["spectrum"] for c in by["single"]],
                 "multi_spectrum": [c["spectrum"] for c in by["multi"]],
                 "derived_single_task_isotropy_bound_delta_0.05": bnd})


# --- calibration (`mtlcheck calibrate`) and report ------------------------------------------

def calibration_rows(P: dict, N: int, rng, row) -> list[dict]:
    """The Clopper-Pearson rules of this claim at their boundary (no real data needed: the law
    is binomial): the single-task rule at p = p_min, and the false-alarm rule of the derived
    bound at a violation rate exactly delta. ``row(rule, regime, N, k, exact=, error=)`` makes a
    calibration row (qa/calibrate.py)."""
    K = P["K"]
    k = rng.binomial(K, P["p_min"], size=N)
    br = BinomialRule(P["p_min"], ALPHA, K)
    passes = int(sum(br.passes_k(int(x)) for x in k))
    v = rng.binomial(K, 0.05, size=N)
    alarms = int(sum(clopper_pearson_lower(int(x), K, ALPHA) > 0.05 for x in v))
    return [row(f"{ID} single task, and the shares of runs whose missed-direction task "
                "fails / succeeds: Clopper-Pearson LCB of a share >= p_min",
                f"K = {K} task draws", N, passes, exact=br.pass_probability(P["p_min"])),
            row(f"{ID} derived isotropy bound: Clopper-Pearson LCB of the violation rate "
                "> delta (false alarm)", f"K = {K} task draws", N, alarms, error="false alarm")]


REPORT = {"title": f"{ID}: single-task failure", "tables": [], "figures": []}
