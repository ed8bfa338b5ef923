"""The downstream ridge probe (result (c)): docs/derivations.md section 6. The d-free bound on the
clipped risk of the n-sample ridge probe by leave-one-out with leverages (6.1) and its sympy
forms (6.1, 6.2), the bounds on n*(eps) (6.4) and on m*(eps) (6.5), and the numpy simulation of
the steps of 6.1 (``pool_stats``, ``probe_sim_stats``; their slacks: theory/slacks.py). Derived
here for the reference model; none of it is the paper's theorem.

numpy / sympy only (no torch). Seeds are explicit; nothing global is mutable.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import sympy as sp

from . import bounds as B
from . import symbols as S
from .population import ContentMemo, arccos_kernel

__all__ = ["ridge_df", "ridge_objective", "loo_kappa", "loo_combine", "probe_bound_tight",
           "probe_bound_tight_expr", "R_star", "df_sym", "probe_sample_bound_tight",
           "width_bound_curve_tight", "pool_stats", "probe_sim_stats"]


_EIGS = ContentMemo()


def _gram_eigs(W) -> np.ndarray:
    """Eigenvalues of the unit rows' Gram, remembered by W's content (the subchecks ask for them
    at every n of a grid and in every round)."""
    Wn = B.normalise_rows(W)
    return _EIGS(lambda: np.clip(np.linalg.eigvalsh(arccos_kernel(Wn)), 0.0, None), Wn)


def ridge_df(W, lam: float, eigs: np.ndarray | None = None) -> float:
    """df(lam) = tr(G (G + lam I)^-1), G = E relu(W x) relu(W x)^T (unit rows; derivations.md 2.7 closed
    form). A function of W's Gram only (free of d)."""
    ev = _gram_eigs(W) if eigs is None else eigs
    return float(np.sum(ev / (ev + lam)))


def ridge_objective(W, M, lam: float) -> float:
    """R_lam = min_b E_v[R(b) + lam |b|^2] = 1 - tr((G + lam)^-1 E_v h h^T) (section 6.3)."""
    return B.probe_population_risk(W, M, lam)


def loo_kappa(alpha: float) -> float:
    """kappa(alpha) = max_{h in [0,1)} 4 (1 - alpha (1-h)^2)_+ / h = 8 sqrt(a)/(sqrt(a) + sqrt(a-1))
    (section 6.1): min(4, r^2/(1-h)^2) <= alpha r^2 + kappa(alpha) h for all r, all h in [0, 1)."""
    return 8 * math.sqrt(alpha) / (math.sqrt(alpha) + math.sqrt(max(alpha - 1, 0.0)))


def loo_combine(R: float, c: float) -> float:
    """min_{alpha >= 1} alpha R + kappa(alpha) c = ((sqrt(R) + sqrt(R + 16 c)) / 2)^2 (section
    6.1; with alpha = cosh^2 t the minimiser is exp(2t) = sqrt(1 + 16 c / R))."""
    R = max(R, 0.0)
    return ((math.sqrt(R) + math.sqrt(R + 16 * c)) / 2) ** 2


def probe_bound_tight(W, M, n: int, lam: float, parts: bool = False):
    """Section 6.1 (conditional on W, through its m x m Gram and W M only; free of d):

        E R(clip f_n) <= ((sqrt(R*) + sqrt(R* + 16 df(lam') / (n + 1))) / 2)^2,

    lam' = n lam / (n + 1), R* = min_b E_v[R(b) + (lam'/2) |b|^2] (population ridge objective at
    lam'/2), df(lam') = tr(G (G + lam')^-1). Steps: LOO identity with leverages h_j of the
    (n+1)-sample pool; min(4, r^2/(1-h)^2) <= alpha r^2 + kappa(alpha) h; E mean r_j^2 <= R* (strong
    convexity of the ridge objective); E mean h_j <= df(lam')/(n+1) (concavity of
    X -> tr X (X + lam')^-1); the optimal alpha."""
    lp = n * lam / (n + 1)
    Wn = B.normalise_rows(W)
    ev = _gram_eigs(Wn)
    df = ridge_df(Wn, lp, ev)
    Rs = ridge_objective(Wn, M, lp / 2)
    c = df / (n + 1)
    val = loo_combine(Rs, c)
    if not parts:
        return val
    omega = math.sqrt(1 + 16 * c / Rs) if Rs > 0 else math.inf
    alpha = ((omega + 1) / 2) ** 2 / omega if math.isfinite(omega) else math.inf   # cosh^2(u/2), e^u = omega
    steps = [
        {"name": "comparator (strong convexity): E mean_j r_j^2 <= R*(lam'/2)", "kind": "mean_upper",
         "proof": Rs, "delta": None, "sim": "mean_r2"},
        {"name": "leverage (trace concavity): E mean_j h_j <= df(lam')/(n+1)", "kind": "mean_upper",
         "proof": c, "delta": None, "sim": "mean_h"},
        {"name": "LOO split: mean min(4, e^2) <= alpha mean r^2 + kappa(alpha) mean h",
         "kind": "deterministic", "proof": 1.0, "delta": None, "sim": "ratio_split"},
        {"name": "clipping: (y - clip f)^2 <= min(4, (y - f)^2)", "kind": "deterministic",
         "proof": 1.0, "delta": None, "sim": "ratio_clip"},
        {"name": "probe risk bound (c)", "kind": "mean_upper", "proof": val, "delta": None,
         "sim": "test_risk"},
    ]
    return val, {"steps": steps, "R_star": Rs, "df": df, "alpha": alpha,
                 "kappa": loo_kappa(alpha) if math.isfinite(alpha) else 4.0, "lam_prime": lp}


#: the measured inputs of the symbolic probe bound
R_star = sp.Symbol("R_star", nonnegative=True)
df_sym = sp.Symbol("df", nonnegative=True)


@lru_cache(maxsize=None)
def probe_bound_tight_expr(form: str = "E_out") -> sp.Expr:
    """Sympy form of section 6. form='R': ((sqrt(R*) + sqrt(R* + 16 df/n))/2)^2 in the measured
    R* (ridge objective at lam/2) and df (at lam), using df(lam')/(n+1) <= df(lam)/n and
    R*(lam'/2) <= R*(lam/2). form='E_out': R* <= (sqrt(R_in) + |b| sqrt(m E_out))^2 + (lam/2)|b|^2
    (section 6.2). Neither has d among its symbols."""
    if form == "R":
        Rs = R_star
    else:
        Rs = (sp.sqrt(B.R_in) + B.bnorm * sp.sqrt(S.m * S.E_out)) ** 2 + S.lam / 2 * B.bnorm ** 2
    return ((sp.sqrt(Rs) + sp.sqrt(Rs + 16 * df_sym / S.n)) / 2) ** 2


def probe_sample_bound_tight(pairs, eps: float, lam: float) -> float:
    """Smallest n with mean_s bound_s(n) <= eps, bound_s(n) = ((sqrt(R_s) + sqrt(R_s + 16
    df_s(lam')/(n+1)))/2)^2 with R_s = R*(lam/2) >= R*(lam'/2) (so the bound decreases in n);
    inf if even n -> oo fails: the derived d-free bound on n*(eps) of the pooled curve
    (section 6.4)."""
    Ws = [B.normalise_rows(W) for W, _ in pairs]
    R = [ridge_objective(W, M, lam / 2) for W, (_, M) in zip(Ws, pairs)]
    E = [_gram_eigs(W) for W in Ws]

    def mean_bound(n):
        lp = n * lam / (n + 1)
        return float(np.mean([loo_combine(rr, ridge_df(None, lp, ev) / (n + 1))
                              for rr, ev in zip(R, E)]))

    if float(np.mean(R)) >= eps:
        return math.inf
    lo, hi = 0, 1
    while mean_bound(hi) > eps:
        lo, hi = hi, hi * 2
        if hi > 2 ** 60:
            return math.inf
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if mean_bound(mid) <= eps:
            hi = mid
        else:
            lo = mid
    return float(hi)


def _width_pieces(W, M, k: int):
    """Exact second moments for the first k unit rows: in-span rows W_in = W M M^T, G_in, h_in
    (E_v h h^T), and C = E (phi - phi_in)(phi - phi_in)^T (degree-1 arc-cosine kernel for vectors
    of any norm; derivations.md 2.7). All from the Gram of (W, W_in): free of d."""
    Wn = B.normalise_rows(W)[:k]
    Win = Wn @ M @ M.T
    r = M.shape[1]
    G_in = arccos_kernel(Win)
    H = (Win @ M) @ (Win @ M).T / (2 * np.pi * r)
    G_ww = arccos_kernel(Wn)
    G_wi = arccos_kernel(Wn, Win)
    C = G_ww - G_wi - G_wi.T + G_in
    C = (C + C.T) / 2
    return G_in, H, C, Wn - Win


def width_bound_curve_tight(W, M, widths, mus=None, form: str = "exact"):
    """Section 6.5: an upper bound on the population risk of the best linear probe on the first m
    unit rows (n -> oo), for m in ``widths``:

        min_A (sqrt(E_v R_in(A h_v)) + sqrt(E_v (A h_v)^T C (A h_v)))^2          (form 'exact')

    R_in the risk of the in-span features relu(W M M^T x), C = E[(phi - phi_in)(phi - phi_in)^T]
    exactly (Minkowski in L2, then over v); form 'diag' uses sqrt(b^T C b) <= sum_i |b_i|
    sqrt(C_ii), form 'E_out' the Lipschitz + Cauchy-Schwarz |b| sqrt(sum_i |P w_i|^2) of
    derivations.md 6.2. A runs over (G_in + C/tau + mu I)^-1 on a grid of (tau, mu) (tau = oo:
    the in-span ridge path); any A gives a valid bound. Free of d."""
    mus = np.asarray(mus if mus is not None else np.logspace(-7, 1, 41), dtype=float)
    taus = [np.inf] + list(np.logspace(-3, 3, 19))
    # The pieces of the first k rows are the leading k x k blocks of those of all rows (every
    # entry is a function of one pair of rows), so they are computed once; the mu grid is
    # evaluated as one batch per (k, tau).
    G_all, H_all, C_all, P_all = _width_pieces(W, M, max(widths))
    out = []
    for k in widths:
        G_in, H, C, Pout = G_all[:k, :k], H_all[:k, :k], C_all[:k, :k], P_all[:k]
        cdiag = np.sqrt(np.clip(np.diag(C), 0, None))
        mE = float((Pout ** 2).sum())
        ev, U = np.linalg.eigh(H)
        keep = ev > 1e-14 * max(ev.max(), 1e-300)
        L = U[:, keep] * np.sqrt(ev[keep])
        best = np.inf
        for tau in taus:
            Kt = G_in if not np.isfinite(tau) else G_in + C / tau
            lam, V = np.linalg.eigh((Kt + Kt.T) / 2)
            lam = np.clip(lam, 0, None)
            Lt = V.T @ L                                   # k x r
            Gt = V.T @ G_in @ V
            Bm = Lt[None] / (lam[None, :, None] + mus[:, None, None])   # per mu: (K + mu)^-1 L
            tAH = np.einsum("kr,ukr->u", Lt, Bm)           # tr(A H)
            tAGAH = np.einsum("ukr,ukr->u", Bm, Gt @ Bm)   # tr(A G A H)
            Rin = 1 - 2 * tAH + tAGAH
            if form == "exact":
                pert = np.einsum("ukr,ukr->u", Bm, (V.T @ C @ V) @ Bm)
            elif form == "diag":
                Eb2 = ((V @ Bm) ** 2).sum(2)               # E_v b_i^2, per mu
                pert = (np.sqrt(Eb2) @ cdiag) ** 2
            else:
                pert = (Bm * Bm).sum((1, 2)) * mE
            val = (np.sqrt(np.clip(Rin, 0.0, None)) + np.sqrt(np.clip(pert, 0.0, None))) ** 2
            best = min(best, float(val.min()))
        out.append(float(best))
    return out


def pool_stats(F, y, lam: float) -> dict:
    """A pool of n + 1 samples (features F, labels y) fitted with penalty n lam, so that each
    leave-one-out fit is the n-sample probe: residuals r, leverages h, leave-one-out residuals
    e = r / (1 - h) (Sherman-Morrison), and b_n, the n-sample probe on the first n samples."""
    n = len(y) - 1
    m = F.shape[1]
    A = F.T @ F + n * lam * np.eye(m)
    res = y - F @ np.linalg.solve(A, F.T @ y)
    h = np.einsum("ij,ji->i", F, np.linalg.solve(A, F.T))
    b_n = np.linalg.solve(F[:n].T @ F[:n] + n * lam * np.eye(m), F[:n].T @ y[:n])
    return {"r": res, "h": h, "e": res / (1 - h), "b_n": b_n}


def probe_sim_stats(W, M, n: int, lam: float, reps: int, seed: int, n_test: int = 2000) -> list[dict]:
    """Simulated counterparts of the steps of :func:`probe_bound_tight` (numpy, float64): per
    repetition a fresh halfspace task, a pool of n + 1 samples fitted with penalty n lam (so each
    leave-one-out fit is the n-sample probe), and: mean_r2 = mean_j r_j^2, mean_h = mean_j h_j,
    loo_clip = mean_j (y_j - clip(f_{-j}(x_j)))^2 (an unbiased estimate of E R(clip f_n)),
    ratio_clip = loo_clip / mean_j min(4, e_j^2) (<= 1),
    ratio_split = mean min(4, e_j^2) / (alpha mean r^2 + kappa mean h) at the proof's alpha,
    test_risk = the clipped test risk of the n-sample probe (first n of the pool) on n_test
    fresh points."""
    rng = np.random.default_rng(seed)
    Wn = B.normalise_rows(W)
    d, r = M.shape
    _, info = probe_bound_tight(Wn, M, n, lam, parts=True)
    al, ka = info["alpha"], info["kappa"]
    out = []
    for _ in range(reps):
        v = rng.standard_normal(r)
        v /= np.linalg.norm(v)
        X = rng.standard_normal((n + 1 + n_test, d))
        y = np.where(X @ (M @ v) >= 0, 1.0, -1.0)
        F = np.maximum(X @ Wn.T, 0.0)
        yp = y[:n + 1]
        st = pool_stats(F[:n + 1], yp, lam)
        res, h, e = st["r"], st["h"], st["e"]
        loo = yp - np.clip(yp - e, -1, 1)
        # the n-sample probe (first n of the pool), tested on fresh points
        pt = np.clip(F[n + 1:] @ st["b_n"], -1, 1)
        mr2, mh = float(np.mean(res ** 2)), float(np.mean(h))
        m4 = float(np.mean(np.minimum(4, e ** 2)))
        out.append({"mean_r2": mr2, "mean_h": mh, "loo_clip": float(np.mean(loo ** 2)),
                    "ratio_clip": float(np.mean(loo ** 2)) / m4,
                    "ratio_split": m4 / (al * mr2 + ka * mh),
                    "test_risk": float(np.mean((y[n + 1:] - pt) ** 2))})
    return out
