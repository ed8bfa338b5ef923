"""`mtlcheck audit`: the simulations behind the constants audit (theory/audit.py holds the pure
part). Every constant of docs/derivations.md sections 2-9 gets a row: proof value, smallest
value consistent with simulation, confidence interval, slack ratio, status."""
from __future__ import annotations

import json
import math
import sys
import time
from statistics import NormalDist

import numpy as np
import torch

from ..sim.device import resolve_device
from ..sim.pretrain import PretrainConfig, pretrain
from ..sim.probes import FeatureMap, probe_curve
from ..sim.samplers import gaussian, generator, haar, make_target, sphere
from ..theory import bounds as B
from ..theory import montecarlo as MC
from ..theory.audit import (AuditRow, exact_constant_row, lower_constant_row, table,
                            theory_sections, upper_constant_row)
from ..theory.model import Algorithm, ReferenceModel
from ..theory.params import validate

Z = 3.29          # two-sided 99.9% normal quantile for the identity constants
PROFILES = {
    "quick": dict(mc_N=2_000_000, grid=[(d, T, n) for d in (32, 128) for T in (1, 16, 256)
                                        for n in (32, 512)], grid_seeds=8, grid_m=64,
                  markov_cfg=(32, 2, 64, 256, 256, 64), markov_K=40,
                  hp_cfg=(16, 2, 2048, 2048, 2048, 256), hp_K=8,
                  single_cfg=(64, 3, 256, 4096, 128), single_K=40,
                  probe_cfg=(64, 2, 64), probe_reps=16, rf_d=(16, 64)),
    "full": dict(mc_N=20_000_000, grid=[(d, T, n) for d in (32, 128, 512) for T in (1, 16, 256)
                                        for n in (32, 256, 2048)], grid_seeds=24, grid_m=64,
                 markov_cfg=(64, 2, 256, 512, 512, 128), markov_K=200,
                 hp_cfg=(16, 2, 2048, 2048, 2048, 256), hp_K=40,
                 single_cfg=(64, 3, 256, 4096, 128), single_K=200,
                 probe_cfg=(128, 2, 64), probe_reps=32, rf_d=(16, 64, 256)),
}


def _quantile_ci(samples, q: float, z: float = 1.96):
    """Empirical q-quantile and an order-statistics confidence interval for it."""
    x = sorted(float(v) for v in samples)
    K = len(x)
    c = K * q
    h = z * math.sqrt(K * q * (1 - q))
    lo = x[max(0, min(K - 1, int(math.floor(c - h))))]
    hi = x[max(0, min(K - 1, int(math.ceil(c + h))))]
    return x[max(0, min(K - 1, int(math.ceil(c)) - 1))], lo, hi


def mc_constants(seed: int, N: int, progress) -> list[AuditRow]:
    """Monte Carlo estimates (theory/montecarlo.py) of the identity constants of sections 2
    and 4, at d = 32, r = 3, w.u = 0.6."""
    d, r = 32, 3
    rng = np.random.default_rng(seed)
    M = np.linalg.qr(rng.standard_normal((d, r)))[0]
    u = M @ (lambda v: v / np.linalg.norm(v))(rng.standard_normal(r))
    g = rng.standard_normal(d)
    perp = g - (g @ u) * u
    w = 0.6 * u + 0.8 * perp / np.linalg.norm(perp)                    # w.u = 0.6 exactly
    e = (lambda v: v / np.linalg.norm(v))(rng.standard_normal(d))
    seeds = rng.integers(0, 2 ** 31, size=5)
    k_relu = MC.ey_relu(w, u, N=N, seed=seeds[0])
    k_ind = MC.ey_indicator_x(w, u, N=N, seed=seeds[1])
    relu = MC.relu_moments(w, N=N, seed=seeds[2])
    est = {"k_relu": (k_relu[0] / 0.6, k_relu[1] / 0.6),
           "k_ind": (float(k_ind[0] @ u), float(np.sqrt((k_ind[1] ** 2) @ (u ** 2)))),
           "relu_sq": (relu[0][1], relu[1][1]),
           "ind_sq": MC.indicator_second_moment(w, e, N=N, seed=seeds[3]),
           "in_span_sq / r": MC.indicator_in_span(w, M, N=N, seed=seeds[4])}
    progress(f"audit: Monte Carlo of the identity constants ({N} samples each)")
    c = {k: float(v) for k, v in B.derived_constants().items()}
    rows = []
    for key, proof, sec, note in (
            ("k_relu", c["k_relu"], "2.2", "E[y relu(w.x)] / (w.u)"),
            ("k_ind", c["k_ind"], "2.3", "E[y 1{w.x>0} (u.x)]"),
            ("relu_sq", c["relu_sq"], "2.7", "E[relu(w.x)^2], |w| = 1"),
            ("ind_sq", c["ind_sq"], "4.3", "E[1{w.x>0} (e.x)^2], |e| = 1"),
            ("in_span_sq / r", c["ind_sq"], "4.3", "E[1{w.x>0} |M^T x|^2] / r")):
        mean, se = (float(x) for x in est[key])
        rows.append(exact_constant_row(key, sec, proof, mean, se, Z, {"d": d, "r": r, "N": N},
                                       note))
    return rows


def _run(device, d, r, T, n1, n2, m, seed, **kw):
    return pretrain(PretrainConfig(ReferenceModel(d, r), Algorithm(T, n1, n2, m, **kw), seed=seed,
                                   device=device))


def prediction_grid(P, base_seed, progress, device) -> tuple[list[AuditRow], dict]:
    """Prediction (a) against the simulated mean E_out on a grid (section 4)."""
    pred = B.e_out_prediction_fn()
    rows, worst = [], {"gap": 0.0}
    points = shown_points = 0
    k = len(P["grid"])
    zb = NormalDist().inv_cdf(1 - 0.05 / (2 * k))   # two-sided, Bonferroni over the grid
    for (d, T, n) in P["grid"]:
        r = 2
        vals = [_run(device, d, r, T, n, n, P["grid_m"], base_seed * 1000 + s).metrics()["E_out"]
                for s in range(P["grid_seeds"])]
        mean = float(np.mean(vals))
        se = float(np.std(vals, ddof=1) / math.sqrt(len(vals)))
        p = pred(d, r, T, n, n)
        gap = mean / p - 1
        lo, hi = mean - zb * se, mean + zb * se
        # a violation needs evidence that the gap exceeds 5%; agreement within 5% is *shown*
        # when the whole interval lies within 5% of the prediction (reported separately)
        ok = not (p * 1.05 < lo or p * 0.95 > hi)
        shown = lo >= p * 0.95 and hi <= p * 1.05
        rows.append(AuditRow(f"prediction (a), d={d} T={T} n1=n2={n}", "4", "exact", p, mean, lo,
                             (lo, hi), p / mean, "ok" if ok else "VIOLATION",
                             {"d": d, "r": r, "T": T, "n1": n, "n2": n, "m": P["grid_m"],
                              "seeds": P["grid_seeds"]},
                             f"relative gap {gap:+.3%}; within 5% {'shown' if shown else 'not resolved'}"))
        if abs(gap) > abs(worst["gap"]):
            worst = {"gap": gap, "se_rel": se / p, "config": rows[-1].config}
        points += 1
        shown_points += int(shown)
        progress(f"audit: prediction (a) d={d} T={T} n={n}: sim {mean:.4g} pred {p:.4g} "
                 f"({gap:+.2%})")
    worst.update(points=points, resolved_within_5pct=shown_points)
    return rows, worst


def markov_rows(P, base_seed, progress, device) -> list[AuditRow]:
    """The Markov constants of section 9 and the head-alignment lower bound kappa_lb."""
    d, r, T, n1, n2, m = P["markov_cfg"]
    c = {k: float(v) for k, v in B.derived_constants().items()}
    delta = 0.05
    dk = delta / len(B.HP_EVENTS)
    c_r = B.in_span_noise_constant(r)
    Rout, Rin, kap = [], [], []
    for s in range(P["markov_K"]):
        res = _run(device, d, r, T, n1, n2, m, base_seed * 1000 + s)
        W, M, H = (x.double().cpu() for x in (res.W, res.M, res.heads))  # H: T x m
        V = res.tasks.params.double().cpu()                               # T x r
        Y = W * (T * n2 / res.config.algo.eta_w)                          # section 9: Y
        P_ = torch.eye(d, dtype=torch.float64) - M @ M.T
        H2 = float((H * H).sum())
        Rout.append(float(((Y @ P_) ** 2).sum()) / (n2 * H2 * (d - r) * c["ind_sq"]))
        mean_in = n2 * c["k_ind"] * H.T @ V                               # m x r
        Rin.append(float(((Y @ M - mean_in) ** 2).sum()) / (n2 * H2 * c_r))
        kap.append(float(((H.T @ V) ** 2).sum()) / H2)
    _, parts = B.e_out_hp_bound(d, r, T, n1, n2, m, delta, parts=True)
    cfg = {"d": d, "r": r, "T": T, "n1": n1, "n2": n2, "m": m, "runs": P["markov_K"]}
    rows = []
    for name, samples, note in (("markov_out = 1/delta_1", Rout, "|W1 P|^2 / E[|W1 P|^2 | heads]"),
                                ("markov_in = 1/delta_2", Rin, "in-span noise / its conditional mean")):
        q, lo, hi = _quantile_ci(samples, 1 - dk)
        rows.append(upper_constant_row(name, "9", 1 / dk, q, lo, hi, cfg,
                                       f"{note}: its (1 - delta_k) quantile; delta_k = {dk:.4g}"))
    q, lo, hi = _quantile_ci(kap, 2 * dk)      # kappa_lb must be below the low quantile
    rows.append(lower_constant_row("kappa_lb (head alignment)", "9", parts["kappa_lb"], lo, cfg,
                                   f"||H V^T||^2/||H||^2: its {2 * dk:.3g} quantile {q:.4g}"))
    progress("audit: Markov constants and head alignment of section 9")
    return rows


def hp_bound_row(P, base_seed, progress, device) -> AuditRow:
    d, r, T, n1, n2, m = P["hp_cfg"]
    delta = 0.05
    bound = B.e_out_hp_bound(d, r, T, n1, n2, m, delta)
    e = [_run(device, d, r, T, n1, n2, m, base_seed * 1000 + s).metrics()["E_out"] for s in range(P["hp_K"])]
    q, lo, hi = _quantile_ci(e, 1 - delta)
    progress(f"audit: high-probability E_out bound (section 9): bound {bound:.4g}, "
             f"simulated {1 - delta:.0%} quantile {q:.4g}")
    return upper_constant_row("E_out high-probability bound (delta=0.05)", "9", bound, q, lo, hi,
                              {"d": d, "r": r, "T": T, "n1": n1, "n2": n2, "m": m,
                               "runs": P["hp_K"]}, "the bound vs the (1 - delta) quantile of E_out")


def single_task_row(P, base_seed, progress, device) -> AuditRow:
    d, r, n1, n2, m = P["single_cfg"]
    delta = 0.05
    iso = [_run(device, d, r, 1, n1, n2, m, base_seed * 1000 + s).metrics()["isotropy"]
           for s in range(P["single_K"])]
    q, lo, hi = _quantile_ci(iso, 1 - delta)
    bound = B.single_task_isotropy_bound(r, n2, delta)
    progress("audit: single-task isotropy bound (section 7)")
    return upper_constant_row("single-task isotropy bound (delta=0.05)", "7", bound, q, lo, hi,
                              {"d": d, "r": r, "T": 1, "n1": n1, "n2": n2, "m": m,
                               "runs": P["single_K"]}, "the bound vs the (1 - delta) quantile")


def probe_rows(P, base_seed, progress, device) -> list[AuditRow]:
    """Section 6: the Laurent-Massart radius and the probe bound against the probe's risk."""
    d, r, T = P["probe_cfg"]
    n = B.budget_n(d, r, T, 1e-3)
    res = _run(device, d, r, T, n, n, 64, base_seed)
    W = res.W.double().cpu()
    Wn = (W / W.norm(dim=1, keepdim=True)).numpy()
    M = res.M.double().cpu().numpy()
    g = generator(base_seed + 1)
    x = gaussian((200_000, d), g, torch.float64).numpy()
    sq = ((x @ Wn.T) ** 2).sum(1)
    rows = []
    cfg = {"d": d, "r": r, "T": T, "n1": n, "n2": n, "m": 64}
    for t in (2.0, 4.0):
        q, lo, hi = _quantile_ci(sq, 1 - math.exp(-t))
        rows.append(upper_constant_row(f"Laurent-Massart radius B_t^2 (t={t:g})", "6",
                                       B.lm_radius2(Wn, t), q, lo, hi, cfg,
                                       "|W x|^2: its (1 - e^-t) quantile"))
    lam = 0.1
    target = lambda gg: make_target("halfspace", r, gg)
    for nn in (256, 4096):
        c = probe_curve(FeatureMap.network("pre", res.W.cpu()), res.M.cpu(), target, [nn],
                        P["probe_reps"], 2000, lam, g)
        mse = c["mse"][:, 0].numpy()
        mean, se = float(mse.mean()), float(mse.std(ddof=1) / math.sqrt(len(mse)))
        bnd = min(B.probe_bound(Wn, M, nn, lam, t) for t in np.linspace(1, 30, 59))
        rows.append(upper_constant_row(f"probe risk bound (c), n={nn}, lambda={lam}", "6", bnd,
                                       mean, mean - 1.96 * se, mean + 1.96 * se, cfg,
                                       "bound on E R(clip f_n) vs the measured test risk"))
    progress("audit: probe bound (section 6)")
    return rows


def rf_rows(P, base_seed, progress) -> list[AuditRow]:
    """Section 8.1: the random-feature lower bound against the exact population risk."""
    rows = []
    for d in P["rf_d"]:
        g = generator(base_seed + d)
        M = haar(d, 2, g, torch.float64).numpy()
        for m in (max(1, d // 2), d, 2 * d):
            W = sphere(m, d, g, torch.float64).numpy()
            actual = B.width_risk_curve(W, M, [m])[0]
            rows.append(lower_constant_row(f"RF risk lower bound, d={d}, m={m}", "8.1",
                                           B.rf_risk_lower_bound(W, M), actual,
                                           {"d": d, "m": m, "r": 2},
                                           "1 - (2/pi)|P_W M|^2/r vs the exact best-probe risk"))
    progress("audit: random-feature lower bound (section 8)")
    return rows


def run_audit(profile: str = "quick", seed: int = 0, progress=lambda m: None,
              device: str = "auto") -> dict:
    P = PROFILES[profile]
    t0 = time.perf_counter()
    rows = mc_constants(seed, P["mc_N"], progress)
    grid_rows, worst = prediction_grid(P, seed, progress, device)
    rows += grid_rows
    rows += markov_rows(P, seed, progress, device)
    rows.append(hp_bound_row(P, seed, progress, device))
    rows.append(single_task_row(P, seed, progress, device))
    rows += probe_rows(P, seed, progress, device)
    rows += rf_rows(P, seed, progress)
    theory = theory_sections()
    progress("audit: interval-arithmetic lemmas and structural facts")
    violations = [r.record() for r in rows if r.status != "ok"]
    bad_lemmas = [l for l in theory["lemmas"] if l["certified"] is not True]
    bad_facts = [f for f in theory["structural_facts"] if f["decided"] is not True]
    return {"profile": profile, "seed": seed, "rows": [r.record() for r in rows],
            "prediction_worst_gap": worst, **theory, "violations": violations,
            "uncertified_lemmas": bad_lemmas, "undecided_or_false_facts": bad_facts,
            "wall_s": time.perf_counter() - t0, "_rows": rows}


def main_audit(args) -> int:
    v = validate("audit", profile=args.profile, seed=args.seed, device=args.device)
    resolve_device(v["device"], "audit")            # a missing GPU is reported before any work
    progress = lambda m: print(m, file=sys.stderr, flush=True)      # stderr: JSON stays clean
    out = run_audit(v["profile"], v["seed"], progress, v["device"])
    rows = out.pop("_rows")
    failed = out["violations"] or out["uncertified_lemmas"] or out["undecided_or_false_facts"]
    if args.json:
        print(json.dumps(out, default=str))
    else:
        print(table(rows))
        w = out["prediction_worst_gap"]
        print(f"\nprediction (a): worst relative gap {w['gap']:+.2%} "
              f"(SE {w.get('se_rel', 0):.2%}) at {w.get('config')}; agreement within 5% shown "
              f"at {w.get('resolved_within_5pct')} of {w.get('points')} grid points")
        print("\nlemmas (interval arithmetic over boxes):")
        for lem in out["lemmas"]:
            print(f"  [{'certified' if lem['certified'] else 'NOT CERTIFIED'}] section "
                  f"{lem['section']}: {lem['lemma']} ({lem['boxes']} boxes)")
        print("structural facts (symbolic, three-valued):")
        for f in out["structural_facts"]:
            print(f"  [{f['decided']}] section {f['section']}: {f['fact']}")
        if failed:
            print("\n" + "!" * 72)
            for vrow in out["violations"]:
                print(f"VIOLATION: {vrow['constant']} (section {vrow['section']}): proof "
                      f"{vrow['proof']:.6g} vs simulation {vrow['simulated']:.6g} "
                      f"CI {vrow['ci']} at {vrow['config']}")
            for lem in out["uncertified_lemmas"]:
                print(f"LEMMA NOT CERTIFIED: {lem['lemma']}: {lem}")
            for f in out["undecided_or_false_facts"]:
                print(f"STRUCTURAL FACT {f['decided']}: {f['fact']}")
            print("!" * 72)
        else:
            print(f"\nno violation ({len(rows)} rows, {out['wall_s']:.0f}s)")
    return 1 if failed else 0
