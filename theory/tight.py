"""Tight derived bounds: docs/derivations-tight.md sections 6, 7 and 9 (derived here, for the
reference model; none of it is the paper's theorem).

Every bound returns its value and, with ``parts=True``, a per-step breakdown: a list of steps
``{"name", "kind", "proof", "delta", "sim"}``, one per inequality of the proof. ``kind`` is
"upper" (the proof bounds a random quantity from above), "lower" (from below) or
"deterministic" (an inequality that holds surely) or "mean_upper" (a bound on an expectation);
``sim`` names the per-run statistic of the
matching ``*_sim_stats`` function that the inequality bounds, normalised so that the proof value
of a run-dependent step is 1. :func:`step_slacks` turns the statistics of K runs into
``[{name, proof, simulated, slack}]``: for an upper step the slack is proof / (the simulated
(1 - delta_k) quantile), for a lower step (the simulated delta_k quantile) / proof, for a
mean_upper step proof / (the simulated mean), for a deterministic step (proof 1, statistic = left
side / right side) 1 / (the largest simulated ratio). :func:`step_slacks_conditional` does the
same for conditional bounds, whose proof values differ between runs.

Conditional bounds (``*_given_*``) hold with the stated probability over the randomness that is
not conditioned on; they use quantities the audit computes from a run (W0, the heads, the
tasks, the Gram of W), and say which.

numpy / scipy / sympy only (no torch). Seeds are explicit; nothing global is mutable.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import sympy as sp

from . import bounds as B
from . import symbols as S
from .angles import pair_angles, vector_angle
from .population import arccos_kernel

__all__ = [
    # tools
    "cantelli_dev", "bernstein_dev", "matrix_bernstein_dev", "nonneg_lower_dev",
    "q_blocks_frob2", "s_blocks_frob2", "q_block", "s_block", "gram_lmax_bound",
    "circle_sum_dev", "beta_sum_lower", "gram_sq_trace_bound",
    "step_slacks",
    # section 6
    "ridge_df", "ridge_objective", "loo_kappa", "loo_combine", "probe_bound_tight", "probe_bound_tight_expr",
    "probe_sample_bound_tight", "width_bound_curve_tight", "pool_stats", "probe_sim_stats",
    # section 7
    "single_task_isotropy_tight", "single_task_isotropy_tight_expr",
    "single_task_isotropy_given_head", "single_task_sim", "single_task_sim_stats",
    # section 9
    "e_out_hp_bound_tight", "e_out_hp_bound_tight_expr", "e_out_hp_bound_given_s1",
    "e_out_sim_stats", "HP_TIGHT_WEIGHTS", "kappa_lb_tight", "kappa_lb_given_w0v",
    "step_slacks_conditional", "chernoff_eps_fast",
    # symbolic facts
    "structural_facts_tight",
]

@lru_cache(maxsize=None)
def _k() -> float:
    """k = k_relu = k_ind = 1/sqrt(2 pi), derived (docs/derivations.md 2.2, 2.3)."""
    c = B.derived_constants()
    assert c["k_relu"] == c["k_ind"], "the bounds of this module use k_relu = k_ind"
    return float(c["k_ind"])


@lru_cache(maxsize=None)
def _ind() -> float:
    """ind_sq = E[1{w.x>0} (e.x)^2] = 1/2, derived (docs/derivations.md 4.3)."""
    return float(B.derived_constants()["ind_sq"])


# ============================================================================================
# Generic tail inequalities (tools T1-T4 of docs/derivations-tight.md)
# ============================================================================================

def cantelli_dev(var: float, delta: float) -> float:
    """s with P(X - EX >= s) <= delta when Var X <= var (Cantelli: P(X - EX >= s) <=
    var / (var + s^2)): s = sqrt(var (1 - delta) / delta)."""
    return math.sqrt(max(var, 0.0) * (1.0 - delta) / delta)


def bernstein_dev(var_sum: float, L: float, delta: float) -> float:
    """s with exp(-s^2 / (2 (var_sum + L s / 3))) = delta: one-sided Bernstein for a sum of
    independent centred variables X_i <= L (in the direction of the tail) with sum Var <= var_sum.
    s = L l / 3 + sqrt((L l / 3)^2 + 2 l var_sum), l = log(1/delta)."""
    l = math.log(1.0 / delta)
    a = L * l / 3.0
    return a + math.sqrt(a * a + 2.0 * l * var_sum)


def matrix_bernstein_dev(var: float, L: float, dim: int, delta: float) -> float:
    """Tropp (2012, Theorem 1.4 / 6.1): for independent centred symmetric dim x dim X_k with
    lambda_max(X_k) <= L and ||sum E X_k^2|| <= var, P(lambda_max(sum X_k) >= s) <=
    dim exp(-s^2/2 / (var + L s/3)); the s that makes the right side delta."""
    return bernstein_dev(var, L, delta / dim)


def nonneg_lower_dev(second_moment_sum: float, delta: float) -> float:
    """For independent X_i >= 0: P(sum X_i <= E sum - s) <= exp(-s^2 / (2 sum E X_i^2))
    (Boucheron, Lugosi, Massart 2013, Exercise 2.9 / Maurer 2003); s = sqrt(2 sum E X^2 log(1/delta))."""
    return math.sqrt(2.0 * second_moment_sum * math.log(1.0 / delta))


def circle_sum_dev(T: int, delta: float) -> float:
    """s with P(|u_1 + ... + u_T| >= s) <= delta for i.i.d. u_t uniform on the unit circle of
    R^2 (T10, docs/derivations.md 12): E I0(l |S|) = I0(l)^T for every l > 0 (average
    E exp(l S.e) = I0(l)^T over a uniform direction e), so by Markov P(|S| >= s) <= I0(l)^T /
    I0(l s); s is the smallest such value over l (any l is valid), capped at T."""
    from scipy.optimize import brentq, minimize_scalar
    from scipy.special import i0e
    T = int(T)
    if T <= 0:
        return 0.0
    log_i0 = lambda x: x + math.log(i0e(x))
    rhs0 = math.log(1.0 / delta)

    def s_at(l):
        rhs = T * log_i0(l) + rhs0 + 1e-9          # need log I0(l s) >= rhs; 1e-9: rounding
        g = lambda s: log_i0(l * s) - rhs
        if g(float(T)) < 0:
            return float(T)
        s = brentq(g, 0.0, float(T), xtol=1e-13, rtol=1e-13)
        while g(s) < 0:                            # step to the conservative side of the root
            s = math.nextafter(s, math.inf)
        return min(s, float(T))

    res = minimize_scalar(lambda x: s_at(math.exp(x)), bounds=(-12.0, 4.0), method="bounded",
                          options={"xatol": 1e-6})
    return min(s_at(math.exp(res.x)), s_at(2.0 * math.sqrt(math.log(1 / delta) / T)), float(T))


def beta_sum_lower(m: int, a: float, b: float, delta: float) -> float:
    """s with P(X_1 + ... + X_m <= s) <= delta for i.i.d. X_i ~ Beta(a, b) (T11, docs/
    derivations.md 12): Chernoff with the exact Laplace transform E exp(-l X) = 1F1(a; a+b; -l),
    P(sum <= s) <= exp(l s) (E e^{-l X})^m, so every l > 0 gives the valid s(l) =
    (log delta - m log E e^{-l X}) / l; the largest over l (>= 0)."""
    from scipy.optimize import minimize_scalar
    from scipy.special import hyp1f1
    ld = math.log(delta)

    def s_at(l):
        phi = float(hyp1f1(a, a + b, -l))
        if not phi > 0:
            return -math.inf
        return (ld - m * (math.log(phi) + 1e-12)) / l     # 1e-12: rounding, conservative side

    res = minimize_scalar(lambda x: -s_at(math.exp(x)), bounds=(-6.0, 9.0), method="bounded",
                          options={"xatol": 1e-6})
    return max(s_at(math.exp(res.x)), 0.0)


def gram_sq_trace_bound(lmax_S: float, m: int) -> float:
    """T7b: tr(Gram^2) for the arc-cosine Gram of m unit rows with lambda_max(W W^T) <= lmax_S:
    4 Gram <= (2 - 2/pi) lmax_S I + (2/pi) 1 1^T (PSD order, the proof of T7 with (1.c)^2 kept),
    so tr(Gram^2) <= tr(Gram B) = ((2 - 2/pi) lmax_S m/2 + (2/pi) 1^T Gram 1)/4, with
    1^T Gram 1 <= min(m^2/2, 1^T B 1); and <= lambda_max(Gram) tr(Gram) (T7)."""
    c1 = (2 - 2 / math.pi) * lmax_S
    one_gram_one = min(m * m / 2.0, (c1 * m + (2 / math.pi) * m * m) / 4.0)
    return min((c1 * m / 2.0 + (2 / math.pi) * one_gram_one) / 4.0,
               gram_lmax_bound(lmax_S, m) * m / 2.0)


# ============================================================================================
# Two-halfspace second moments (T6): Q = E[1{w.x>0} 1{w'.x>0} x x^T],
# S = E[sign(w.x) sign(w'.x) x x^T], for unit w, w' at angle alpha.
# In the orthonormal basis (e1, e2) of span(w, w'), e1 = w:
#   Q = c0 I + U Kt U^T,  c0 = (pi - alpha)/(2 pi),
#   Kt = (1/(2 pi)) [[s c, s^2], [s^2, -s c]],  s = sin(alpha), c = cos(alpha),
#   S = 4 Q - I = (1 - 2 alpha/pi) I + 4 U Kt U^T.
# ============================================================================================

def q_block(w, w2, which: str = "Q") -> np.ndarray:
    """The d x d matrix Q (or S) of T6 for two unit vectors (for tests)."""
    w = np.asarray(w, float)
    w2 = np.asarray(w2, float)
    a, c, s = vector_angle(w, w2)                   # well conditioned (theory/angles.py)
    d = len(w)
    c0 = (math.pi - a) / (2 * math.pi)
    if s == 0.0:
        Kt = np.zeros((2, 2))
        U = np.stack([w, np.zeros(d)], 1)
    else:
        e2 = (w2 - c * w) / s
        U = np.stack([w, e2], 1)
        Kt = np.array([[s * c, s * s], [s * s, -s * c]]) / (2 * math.pi)
    Q = c0 * np.eye(d) + U @ Kt @ U.T
    return Q if which == "Q" else 4 * Q - np.eye(d)


def s_block(w, w2) -> np.ndarray:
    return q_block(w, w2, "S")


def _pair_geometry(Wn: np.ndarray, M: np.ndarray):
    """Arrays over all pairs (i, j) of unit rows: rho, s = sin(alpha), c0, and the projected
    2 x 2 Gram G_M = U^T M M^T U written with the unnormalised e2' = w_j - rho w_i = s e2:
    g11 = |M^T w_i|^2, g12 = (M^T w_i).(M^T e2'), g22 = |M^T e2'|^2 (<= s^2).
    Angles by the half-angle form (theory/angles.py), and M^T e2' = M^T w_j - rho M^T w_i formed
    as an r-vector, so g12 and g22 keep their absolute accuracy ~1e-16 as s -> 0 (expanding
    |M^T e2'|^2 into dot products would cancel to an error of ~1e-16 on a value of size s^2)."""
    alpha, rho, s = pair_angles(Wn)
    c0 = (np.pi - alpha) / (2 * np.pi)
    WM = Wn @ M
    nM = (WM * WM).sum(1)
    g11 = np.broadcast_to(nM[:, None], rho.shape)
    E2 = WM[None, :, :] - rho[:, :, None] * WM[:, None, :]     # M^T e2' for every pair
    g12 = np.einsum("ik,ijk->ij", WM, E2)
    g22 = np.einsum("ijk,ijk->ij", E2, E2)
    return rho, s, alpha, c0, g11, g12, g22


def _kg_entries(rho, s, g11, g12, g22):
    """(2 pi) Kt G in the (e1, e2) basis, with G written through the unnormalised e2'
    (entries that carry 1/s are multiplied out; g22 <= s^2 keeps them bounded)."""
    c = rho
    ss = np.where(s > 0.0, s, 1.0)
    k11 = s * c * g11 + s * g12
    k12 = c * g12 + g22
    k21 = s * s * g11 - c * g12
    k22 = np.where(s > 0.0, s * g12 - c * g22 / ss, 0.0)
    zero = s == 0.0
    for a in (k11, k12, k21):
        a[zero] = 0.0
    return k11, k12, k21, k22


def _frob2_from(cI, coefK, kdim, G_is_complement, geo):
    """||B^T (cI I + coefK U Kt U^T) B||_F^2 over all pairs, B with orthonormal columns spanning
    span(M) (G_is_complement False, kdim = r) or its complement (True, kdim = d - r):
    cI^2 kdim + 2 cI coefK tr(Kt G) + coefK^2 tr(Kt G Kt G), G = U^T B B^T U."""
    rho, s, alpha, c0, g11, g12, g22 = geo
    if G_is_complement:       # G_P = I - G_M (in the (e1, e2') basis: [[1 - g11, -g12], [-g12, s^2 - g22]])
        h11, h12, h22 = 1.0 - g11, -g12, s * s - g22
    else:
        h11, h12, h22 = g11, g12, g22
    k11, k12, k21, k22 = _kg_entries(rho, s, h11, h12, h22)
    tr1 = (k11 + k22) / (2 * np.pi)
    tr2 = (k11 * k11 + 2 * k12 * k21 + k22 * k22) / (2 * np.pi) ** 2
    return cI * cI * kdim + 2 * cI * coefK * tr1 + coefK * coefK * tr2


def q_blocks_frob2(W0: np.ndarray, M: np.ndarray, part: str) -> np.ndarray:
    """m x m array of ||B^T Q_ij B||_F^2 (T6), part 'in' (B = M) or 'out' (B = basis of
    the complement of span M). Needs unit rows (normalised here)."""
    Wn = B.normalise_rows(W0)
    d, r = M.shape
    geo = _pair_geometry(Wn, M)
    c0 = geo[3]
    if part == "in":
        return _frob2_from(c0, 1.0, r, False, geo)
    return _frob2_from(c0, 1.0, d - r, True, geo)


def s_blocks_frob2(W0: np.ndarray, M: np.ndarray, part: str) -> np.ndarray:
    """m x m array of ||B^T S_ij B||_F^2, S = E[sign(w_i.x) sign(w_j.x) x x^T] (T6)."""
    Wn = B.normalise_rows(W0)
    d, r = M.shape
    geo = _pair_geometry(Wn, M)
    cS = 1.0 - 2.0 * geo[2] / np.pi
    if part == "in":
        return _frob2_from(cS, 4.0, r, False, geo)
    return _frob2_from(cS, 4.0, d - r, True, geo)


def _q_quadratic(W0: np.ndarray, u: np.ndarray) -> np.ndarray:
    """m x m array of u^T Q_ij u for a unit vector u of R^d (T6)."""
    Wn = B.normalise_rows(W0)
    alpha, rho, s = pair_angles(Wn)                 # well conditioned (theory/angles.py)
    c0 = (np.pi - alpha) / (2 * np.pi)
    a = Wn @ u
    b = a[None, :] - rho * a[:, None]               # e2'.u = (w_j - rho w_i).u
    ai = np.broadcast_to(a[:, None], rho.shape)
    ss = np.where(s > 0.0, s, 1.0)
    quad = np.where(s > 0.0, s * rho * ai * ai + 2 * s * ai * b - rho * b * b / ss, 0.0)
    return c0 * (u @ u) + quad / (2 * np.pi)


def gram_lmax_bound(lmax_S: float, m: int) -> float:
    """T7: lambda_max(E relu(W x) relu(W x)^T) <= ((2 - 2/pi) lambda_max(W W^T)
    + (2/pi) m) / 4 for unit rows (relu = (t + |t|)/2, E|g||g'| <= 2/pi + (1 - 2/pi) rho^2,
    Schur's bound lambda_max(S o S) <= lambda_max(S)); and <= tr = m/2."""
    return min(m / 2.0, ((2 - 2 / math.pi) * lmax_S + (2 / math.pi) * m) / 4.0)


def _quantile(x, q):
    x = np.sort(np.asarray(x, float))
    K_ = len(x)
    i = int(math.ceil(q * K_)) - 1
    return float(x[min(max(i, 0), K_ - 1)])


def step_slacks(steps: list[dict], stats: list[dict]) -> list[dict]:
    """Per-step slacks from the breakdown ``steps`` of a bound and per-run statistics ``stats``
    (a list of dicts, one per run, from the matching ``*_sim_stats``): for an 'upper' step the
    proof value over the simulated (1 - delta_k) quantile of its statistic; for a 'lower' step the
    simulated delta_k quantile over the proof value; for a 'deterministic' step (proof value 1,
    statistic = left side / right side of the inequality) 1 / the largest simulated ratio."""
    out = []
    for st in steps:
        key = st.get("sim")
        if key is None or key not in stats[0]:
            out.append({"name": st["name"], "proof": st["proof"], "simulated": None,
                        "slack": None})
            continue
        vals = [s_[key] for s_ in stats]
        dk = st.get("delta") or 0.0
        if st["kind"] == "upper":
            q = _quantile(vals, 1 - dk) if dk > 0 else float(np.max(vals))
            sl = st["proof"] / q if q > 0 else math.inf
        elif st["kind"] == "mean_upper":
            q = float(np.mean(vals))
            sl = st["proof"] / q if (st["proof"] is not None and q > 0) else None
        elif st["kind"] == "lower":
            q = _quantile(vals, dk) if dk > 0 else float(np.min(vals))
            sl = q / st["proof"] if st["proof"] > 0 else math.inf
        else:
            q = float(np.max(vals))
            sl = st["proof"] / q if q > 0 else math.inf
        out.append({"name": st["name"], "proof": st["proof"], "simulated": q, "slack": sl})
    return out


# ============================================================================================
# Section 7: single-task isotropy (result (d))
# ============================================================================================

#: share of delta given to the numerator event (||N~||_F) of section 7; the rest goes to |N v|
ISO_SPLIT = 0.9


def _iso_fourth_nv(f: float) -> float:
    """((E|zeta|^4)^{1/4} / |a|)^4 for zeta = y (a o D)(z.v) - f k a: Minkowski,
    (E|a o D|^4 (z.v)^4)^{1/4} <= 3^{1/4} |a| and |f k a| = f k |a| (section 7.3)."""
    return (3 ** 0.25 + f * _k()) ** 4


def single_task_isotropy_tight(r: int, n2: int, delta: float, p: float = 0.0,
                               split: float = ISO_SPLIT, parts: bool = False):
    """Section 7 (unconditional; free of d, m and n1): with probability >= 1 - delta,

        isotropy(W1) <= sqrt(r (1 + s1) / (4 (r - 1))) / (f k sqrt(n2) - sqrt((1/2 - f^2 k^2)(1 + s2)))

    s1 = sqrt(V1 (1 - d1)/d1), V1 = 2/r + 2/(r n2)       (Cantelli on ||N~||_F^2, N~ = Y M - a psi^T/2)
    s2 = sqrt(V2 (1 - d2)/d2), V2 = 2 + (3^{1/4} + f k)^4 / (n2 (1/2 - f^2 k^2)^2)   (Cantelli on |N v|^2)
    d1 = split delta, d2 = (1 - split) delta, f = 1 - 2p, k = 1/sqrt(2 pi). inf when the
    denominator is <= 0. Needs r >= 2."""
    if r < 2:
        raise ValueError("single_task_isotropy_tight needs r >= 2")
    f = 1.0 - 2.0 * p
    d1, d2 = split * delta, (1 - split) * delta
    V1 = 2.0 / r + 2.0 / (r * n2)
    s1 = cantelli_dev(V1, d1)
    c2 = _ind() - f * f * _k() * _k()
    V2 = 2.0 + _iso_fourth_nv(f) / (n2 * c2 * c2)
    s2 = cantelli_dev(V2, d2)
    num = math.sqrt(r * (1 + s1) / (4.0 * (r - 1)))
    den = f * _k() * math.sqrt(n2) - math.sqrt(c2 * (1 + s2))
    val = num / den if den > 0 else math.inf
    if not parts:
        return val
    steps = [
        {"name": "Cantelli: ||N~||_F^2 <= (n2 |a|^2 r/4)(1 + s1)", "kind": "upper",
         "proof": 1 + s1, "delta": d1, "sim": "R_Ntilde"},
        {"name": "Weyl + Frobenius: sigma_r(YM) <= ||N~||_F / sqrt(r - 1)", "kind": "deterministic",
         "proof": 1.0, "delta": None, "sim": "ratio_weyl"},
        {"name": "Cantelli: |N v|^2 <= n2 |a|^2 (1/2 - f^2 k^2)(1 + s2)", "kind": "upper",
         "proof": 1 + s2, "delta": d2, "sim": "R_Nv"},
        {"name": "sigma_1(YM) >= |YM v| >= n2 f k |a| - |N v|", "kind": "deterministic",
         "proof": 1.0, "delta": None, "sim": "ratio_sigma1"},
        {"name": "isotropy bound", "kind": "upper", "proof": val, "delta": delta,
         "sim": "isotropy"},
    ]
    return val, {"steps": steps, "s1": s1, "s2": s2, "V1": V1, "V2": V2, "numerator": num,
                 "denominator": den}


@lru_cache(maxsize=None)
def single_task_isotropy_tight_expr() -> sp.Expr:
    """Sympy form of :func:`single_task_isotropy_tight` in r, n2, delta, p (split = ISO_SPLIT
    as an exact rational). No d, m or n1."""
    r, n2, dl, p = S.r, S.n2, S.delta, S.p
    f = 1 - 2 * p
    k = 1 / sp.sqrt(2 * sp.pi)
    w = sp.Rational(ISO_SPLIT).limit_denominator(1000)
    d1, d2 = w * dl, (1 - w) * dl
    V1 = 2 / r + 2 / (r * n2)
    s1 = sp.sqrt(V1 * (1 - d1) / d1)
    c2 = sp.Rational(1, 2) - f ** 2 * k ** 2
    V2 = 2 + (sp.root(3, 4) + f * k) ** 4 / (n2 * c2 ** 2)
    s2 = sp.sqrt(V2 * (1 - d2) / d2)
    return sp.sqrt(r * (1 + s1) / (4 * (r - 1))) / (f * k * sp.sqrt(n2) - sp.sqrt(c2 * (1 + s2)))


def single_task_isotropy_given_head(W0, M, a, v, n2: int, delta: float, p: float = 0.0,
                                    split: float = ISO_SPLIT, parts: bool = False):
    """Section 7.4, conditional on W0, the task v and the head a (probability over the n2
    representation-step samples only): the bound of :func:`single_task_isotropy_tight` with the
    exact conditional variances
        V1 = 2/(r n2) + 2 (1 - 1/n2) sum_ij a_i^2 a_j^2 ||M^T S_ij M||_F^2 / (|a|^4 r^2),
        V2 = E|zeta|^4-term/n2 + 2 (1 - 1/n2) tr(C^2)/(tr C)^2,
        C_ij = a_i a_j u^T Q_ij u - f^2 k^2 a_i a_j (u = M v),
    (T6 closed forms for Q, S). Uses W0 (m x d), M, a (m,), v (r,)."""
    W0 = B.normalise_rows(np.asarray(W0, float))
    M = np.asarray(M, float)
    a = np.asarray(a, float).ravel()
    v = np.asarray(v, float).ravel()
    v = v / np.linalg.norm(v)
    r = M.shape[1]
    if r < 2:
        raise ValueError("needs r >= 2")
    f = 1.0 - 2.0 * p
    d1, d2 = split * delta, (1 - split) * delta
    a2 = a * a
    na2 = float(a2.sum())
    S2 = s_blocks_frob2(W0, M, "in")
    V1 = 2.0 / (r * n2) + 2.0 * (1 - 1.0 / n2) * float(a2 @ S2 @ a2) / (na2 * na2 * r * r)
    s1 = cantelli_dev(V1, d1)
    u = M @ v
    C = np.outer(a, a) * (_q_quadratic(W0, u) - f * f * _k() * _k())
    C = (C + C.T) / 2
    trC = float(np.trace(C))
    trC2 = float((C * C).sum())
    V2 = _iso_fourth_nv(f) * na2 * na2 / (n2 * trC * trC) + 2.0 * (1 - 1.0 / n2) * trC2 / trC ** 2
    s2 = cantelli_dev(V2, d2)
    num = math.sqrt(r * (1 + s1) / (4.0 * (r - 1)))
    den = f * _k() * math.sqrt(n2) - math.sqrt(trC / na2 * (1 + s2))
    val = num / den if den > 0 else math.inf
    if not parts:
        return val
    steps = [
        {"name": "Cantelli (exact conditional variance): ||N~||_F^2 <= (n2 |a|^2 r/4)(1 + s1)",
         "kind": "upper", "proof": 1 + s1, "delta": d1, "sim": "R_Ntilde"},
        {"name": "Weyl + Frobenius: sigma_r(YM) <= ||N~||_F / sqrt(r - 1)", "kind": "deterministic",
         "proof": 1.0, "delta": None, "sim": "ratio_weyl"},
        {"name": "Cantelli (exact conditional variance): |N v|^2 <= n2 tr C (1 + s2)", "kind": "upper",
         "proof": (trC / na2) * (1 + s2) / (_ind() - f * f * _k() * _k()), "delta": d2, "sim": "R_Nv"},
        {"name": "sigma_1(YM) >= n2 f k |a| - |N v|", "kind": "deterministic", "proof": 1.0,
         "delta": None, "sim": "ratio_sigma1"},
        {"name": "isotropy bound (conditional)", "kind": "upper", "proof": val, "delta": delta,
         "sim": "isotropy"},
    ]
    return val, {"steps": steps, "s1": s1, "s2": s2, "V1": V1, "V2": V2, "numerator": num,
                 "denominator": den}


def single_task_sim(d: int, r: int, n1: int, n2: int, m: int, p: float = 0.0, seed: int = 0,
                    chunk: int = 8192) -> dict:
    """One single-task run of the one-step algorithm in numpy (float64), keeping what the steps
    of section 7 need: W0, M, v, the head a (eta_a = 1), Y M = sum_k y_k (a o D_k) z_k^T,
    psi = sum_k y_k z_k, and the isotropy of W1 = Y / n2. All randomness from ``seed``."""
    rng = np.random.default_rng(seed)
    M = np.linalg.qr(rng.standard_normal((d, r)))[0]
    W0 = rng.standard_normal((m, d))
    W0 /= np.linalg.norm(W0, axis=1, keepdims=True)
    v = rng.standard_normal(r)
    v /= np.linalg.norm(v)
    u = M @ v

    def labels(X):
        y = np.where(X @ u >= 0, 1.0, -1.0)
        if p > 0:
            y = np.where(rng.random(len(y)) < p, -y, y)
        return y

    a = np.zeros(m)
    for i0 in range(0, n1, chunk):
        X = rng.standard_normal((min(chunk, n1 - i0), d))
        a += (labels(X)[:, None] * np.maximum(X @ W0.T, 0)).sum(0)
    a /= n1
    Y = np.zeros((m, d))
    psi = np.zeros(r)
    for i0 in range(0, n2, chunk):
        X = rng.standard_normal((min(chunk, n2 - i0), d))
        y = labels(X)
        coef = (X @ W0.T > 0) * a[None, :] * y[:, None]
        Y += coef.T @ X
        Z = X @ M
        psi += y @ Z
    YM = Y @ M
    return {"W0": W0, "M": M, "v": v, "a": a, "Y": Y, "YM": YM, "psi": psi, "n2": n2, "p": p}


def single_task_sim_stats(run: dict) -> dict:
    """The per-run statistics that the steps of section 7 bound (see ``steps``): R_Ntilde =
    ||N~||_F^2 / (n2 |a|^2 r / 4) (needs psi: from :func:`single_task_sim`; from a pretraining run
    without psi the projection bound min_psi ||YM - a psi^T/2||_F is used, which is <= ||N~||_F),
    ratio_weyl = sigma_r(YM) sqrt(r-1) / ||N~||_F, R_Nv = |N v|^2 / (n2 |a|^2 (1/2 - f^2 k^2)),
    ratio_sigma1 = (n2 f k |a| - |N v|) / sigma_1(YM), isotropy = sigma_r / sigma_1.
    For a pretraining run: run = {"YM": W M * n2 / eta_W, "a": heads[0] / eta_a, "v": tasks[0],
    "n2": n2, "p": p} (W1 = (eta_W / n2) Y for T = 1)."""
    YM = np.asarray(run["YM"], float)
    a = np.asarray(run["a"], float).ravel()
    v = np.asarray(run["v"], float).ravel()
    v = v / np.linalg.norm(v)
    n2, p = run["n2"], run.get("p", 0.0)
    f = 1 - 2 * p
    r = YM.shape[1]
    na = float(np.linalg.norm(a))
    if run.get("psi") is not None:
        Nt = YM - 0.5 * np.outer(a, run["psi"])
    else:
        P_a = np.eye(len(a)) - np.outer(a, a) / na ** 2
        Nt = P_a @ YM
    sv = np.linalg.svd(YM, compute_uv=False)
    N = YM - n2 * f * _k() * np.outer(a, v)
    Nv = float(np.linalg.norm(N @ v))
    fNt = float(np.linalg.norm(Nt))
    return {"R_Ntilde": fNt ** 2 / (n2 * na * na * r / 4),
            "ratio_weyl": sv[r - 1] * math.sqrt(r - 1) / fNt,
            "R_Nv": Nv ** 2 / (n2 * na * na * (_ind() - f * f * _k() * _k())),
            "ratio_sigma1": (n2 * f * _k() * na - Nv) / sv[0],
            "isotropy": float(sv[r - 1] / sv[0])}


# ============================================================================================
# Section 6: the downstream ridge probe (result (c)), its n* and m* bounds
# ============================================================================================

def _gram_eigs(W) -> np.ndarray:
    Wn = B.normalise_rows(W)
    return np.clip(np.linalg.eigvalsh(arccos_kernel(Wn)), 0.0, None)


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
    mus = np.asarray(mus if mus is not None else np.logspace(-7, 1, 41))
    taus = [np.inf] + list(np.logspace(-3, 3, 19))
    out = []
    for k in widths:
        G_in, H, C, Pout = _width_pieces(W, M, k)
        cdiag = np.sqrt(np.clip(np.diag(C), 0, None))
        mE = float((Pout ** 2).sum())
        ev, U = np.linalg.eigh(H)
        L = U[:, ev > 1e-14 * max(ev.max(), 1e-300)] * np.sqrt(ev[ev > 1e-14 * max(ev.max(), 1e-300)])
        best = np.inf
        for tau in taus:
            Kt = G_in if not np.isfinite(tau) else G_in + C / tau
            lam, V = np.linalg.eigh((Kt + Kt.T) / 2)
            lam = np.clip(lam, 0, None)
            Lt = V.T @ L                                   # k x r
            Gt = V.T @ G_in @ V
            Ct = V.T @ C @ V
            for mu in mus:
                Bm = Lt / (lam + mu)[:, None]               # (_k() + mu)^-1 L in the eigenbasis
                tAH = float((Lt * Bm).sum())                # tr(A H)
                tAGAH = float((Bm * (Gt @ Bm)).sum())       # tr(A G A H)
                Rin = 1 - 2 * tAH + tAGAH
                if form == "exact":
                    pert = float((Bm * (Ct @ Bm)).sum())
                elif form == "diag":
                    Eb2 = ((V @ Bm) ** 2).sum(1)             # E_v b_i^2
                    pert = float(np.sum(cdiag * np.sqrt(Eb2))) ** 2
                else:
                    pert = float((Bm * Bm).sum()) * mE
                val = (math.sqrt(max(Rin, 0.0)) + math.sqrt(max(pert, 0.0))) ** 2
                best = min(best, val)
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


# ============================================================================================
# Section 9: a high-probability upper bound on E_out (result (b))
# ============================================================================================

#: the events of section 9 and the default share of delta each gets (sympy form and fallback);
#: the numeric bound optimises the shares for its parameters (any fixed split is valid)
HP_TIGHT_WEIGHTS = {"out": 0.55, "in": 0.05, "head_VT": 0.08, "head_norm": 0.08,
                    "V_min": 0.08, "V_max": 0.04, "G_low": 0.08, "S_max": 0.04}


def chernoff_eps_fast(mu: float, dim: int, delta: float, side: str) -> float:
    """The epsilon of bounds.chernoff_eps (Tropp 2012, Thm 1.1: dim [e^{-+e}/(1-+e)^{1-+e}]^mu =
    delta), by Brent's method on the log tail (decreasing in e: lemmas chernoff-*-exponent-
    decreasing); inf if no e in (0, 1) (lower side) solves it."""
    from scipy.optimize import brentq
    target = math.log(delta) - math.log(dim)
    if side == "lower":
        g = lambda e: mu * (-e - (1 - e) * math.log1p(-e)) - target
        hi = 1 - 1e-12
    else:
        g = lambda e: mu * (e - (1 + e) * math.log1p(e)) - target
        hi = 1.0
        while g(hi) > 0:
            hi *= 2
            if hi > 1e12:
                return math.inf
    if g(hi) > 0:
        return math.inf
    e = brentq(g, 0.0, hi, xtol=1e-14, rtol=1e-14)
    while g(e) > 0:                  # step to the conservative side of the root
        e = math.nextafter(e, math.inf)
    return e


def _v_min(T, r, dk, chernoff=True):
    """lambda_min(V V^T) >= T/r - s (matrix Bernstein, L = 1/r, var = T (1/r - 1/r^2)), or the
    matrix Chernoff (1 - e) T/r (Tropp 2012, Thm 1.1), whichever is larger (section 9.3)."""
    if r == 1:
        return float(T)
    lo = T / r - matrix_bernstein_dev(T * (1 / r - 1 / r ** 2), 1 / r, r, dk)
    if chernoff:
        e = chernoff_eps_fast(T / r, r, dk, "lower")
        if math.isfinite(e):
            lo = max(lo, (1 - e) * T / r)
    if r == 2:                       # exact law: lambda_min = T/2 - |sum_t exp(2 i theta_t)|/2 (T10)
        lo = max(lo, T / 2 - circle_sum_dev(T, dk) / 2)
    return max(lo, 0.0)


def _rank_one_sum_max(n, k, dk, chernoff=True):
    """lambda_max of a sum of n i.i.d. u u^T, u uniform on the unit sphere of R^k (mean I/k):
    <= n/k + s (matrix Bernstein on u u^T - I/k, L = 1 - 1/k, var = n (1/k - 1/k^2)) or the
    matrix Chernoff (1 + e) n/k (Tropp 2012, Thm 1.1), whichever is smaller, and <= n."""
    if k == 1:
        return float(n)
    hi = n / k + matrix_bernstein_dev(n * (1 / k - 1 / k ** 2), 1 - 1 / k, k, dk)
    if chernoff:
        e = chernoff_eps_fast(n / k, k, dk, "upper")
        if math.isfinite(e):
            hi = min(hi, (1 + e) * n / k)
    return min(hi, float(n))


def _v_max(T, r, dk, chernoff=True):
    """lambda_max(V V^T) for T task vectors uniform on the sphere of R^r (section 9.3); for r = 2
    also T/2 + |sum_t exp(2 i theta_t)|/2 with T10."""
    hi = _rank_one_sum_max(T, r, dk, chernoff)
    if r == 2:
        hi = min(hi, T / 2 + circle_sum_dev(T, dk) / 2)
    return hi


def _g_low(d, r, m, dk):
    """|W0 M|_F^2 = sum of m i.i.d. Beta(r/2, (d-r)/2) >= m r/d - t (section 9.3): t the smaller
    of the nonnegative lower tail (sum E X^2 = m r (r+2)/(d (d+2))) and Bernstein with
    E X - X <= r/d, var = 2 r (d-r)/(d^2 (d+2)); or the exact-Laplace Chernoff bound (T11) if larger."""
    if d == r:
        return float(m)
    t1 = nonneg_lower_dev(m * r * (r + 2) / (d * (d + 2)), dk)
    t2 = bernstein_dev(m * 2 * r * (d - r) / (d * d * (d + 2)), r / d, dk)
    return max(m * r / d - min(t1, t2), beta_sum_lower(m, r / 2, (d - r) / 2, dk), 0.0)


def _s_max(d, m, dk, chernoff=True):
    """lambda_max(W0^T W0) <= m/d + s (matrix Bernstein on w_i w_i^T - I/d, L = 1 - 1/d) or the
    matrix Chernoff (1 + e) m/d, and <= m (section 9.3)."""
    return _rank_one_sum_max(m, d, dk, chernoff)


def _kappa_pieces(d, r, T, n1, m, deltas, p, chernoff=True):
    """kappa_lb of section 9.4 and its ingredients, for the failure probabilities ``deltas``
    (keys V_min, V_max, G_low, S_max, head_VT, head_norm)."""
    f = 1.0 - 2.0 * p
    fk = f * _k()
    lam_lo = _v_min(T, r, deltas["V_min"], chernoff)
    lam_hi = _v_max(T, r, deltas["V_max"], chernoff)
    Q_lo = _g_low(d, r, m, deltas["G_low"])
    Lam_S = _s_max(d, m, deltas["S_max"], chernoff)
    Lam_G = gram_lmax_bound(Lam_S, m)
    beta2 = (m * m * ((1.5) ** 0.25 + fk) ** 4 + m * n1 * Lam_G) / n1 ** 3
    U1 = T * m / (2 * n1) + cantelli_dev(T * beta2 + Lam_G * m * max(lam_hi - 1, 0.0) * T / n1 ** 2,
                                          deltas["head_VT"])
    cd = math.sqrt((1 - deltas["head_norm"]) / deltas["head_norm"])
    a = fk * math.sqrt(lam_lo * Q_lo)                       # |A| >= a
    num_amp = math.sqrt(lam_lo) * a - math.sqrt(U1)
    den = a * a * (1 - 1 / n1) + T * m / (2 * n1) + cd * (2 * math.sqrt(Lam_G / n1) * a
                                                          + math.sqrt(T * beta2))
    kappa_tri = max(num_amp, 0.0) ** 2 / den if den > 0 else 0.0
    # the projection form (section 9.4b): kappa >= lam_min X / (X + Y), X = |A + E Q Q^T|^2 >=
    # (|A| - |E Q|)_+^2, Y = |E (I - Q Q^T)|^2 <= |E|^2, Q an orthonormal basis of col(V)
    tau = gram_sq_trace_bound(Lam_S, m)
    z4 = m * m * ((1.5) ** 0.25 + fk) ** 4                  # >= E|zeta|^4 (9.4)
    U_Q = m * r / (2 * n1) + cantelli_dev(r * z4 / n1 ** 3 + 2 * r * tau / n1 ** 2,
                                          deltas["head_VT"])
    U_E = (T * m / 2 - a * a) / n1 + cantelli_dev(T * z4 / n1 ** 3 + 2 * T * tau / n1 ** 2,
                                                  deltas["head_norm"])
    X = max(a - math.sqrt(U_Q), 0.0) ** 2
    kappa_proj = lam_lo * X / (X + U_E) if X > 0 else 0.0
    form = "projection" if kappa_proj >= kappa_tri else "triangle"
    return {"lam_lo": lam_lo, "lam_hi": lam_hi, "Q_lo": Q_lo, "Lam_S": Lam_S, "Lam_G": Lam_G,
            "beta2": beta2, "U1": U1, "A_lo": a, "kappa_lb": max(kappa_tri, kappa_proj),
            "num_amp": num_amp if form == "triangle" else a - math.sqrt(U_Q),
            "cd_head": cd, "fk": fk, "form": form, "kappa_triangle": kappa_tri,
            "kappa_projection": kappa_proj, "tau": tau, "U_Q": U_Q, "U_E": U_E, "X_lo": X}


def _hp_pieces(d, r, T, n1, n2, m, deltas, p, chernoff=True):
    info = _kappa_pieces(d, r, T, n1, m, deltas, p, chernoff)
    fk = info["fk"]
    c_r = r * _ind() - fk * fk
    kappa = info["kappa_lb"]
    vO = 2.0 / (d - r) + 4.0 * (d - r + 2) / ((d - r) * n2) if d > r else 0.0
    sO = cantelli_dev(vO, deltas["out"])
    vI = 1.0 / c_r + ((r * (r + 2)) ** 0.25 + fk) ** 4 / (n2 * c_r * c_r)
    sI = cantelli_dev(vI, deltas["in"])
    amp = math.sqrt(n2) * fk * math.sqrt(kappa) - math.sqrt(c_r * (1 + sI))
    Iv = max(amp, 0.0) ** 2
    N = (d - r) * (1 + sO) * _ind()
    bound = 1.0 / (1.0 + Iv / N) if N > 0 else 0.0
    info.update({"s_out": sO, "s_in": sI, "v_out": vO, "v_in": vI, "I": Iv, "N": N,
                 "c_r": c_r, "I_amp": amp})
    return bound, info


def _split(weights, delta):
    tot = sum(weights.values())
    return {k: delta * w / tot for k, w in weights.items()}


def _best_two_way_split(delta, shares, evaluate, maximise=False):
    """The best of evaluate(w delta, (1 - w) delta) over the grid ``shares`` of w (a two-event
    union bound; the grid is fixed, so any choice is valid). ``evaluate`` returns a tuple whose
    first entry is the bound; the smallest (or, with ``maximise``, the largest) wins."""
    cands = [evaluate(w * delta, (1 - w) * delta) for w in shares]
    return (max if maximise else min)(cands, key=lambda c: c[0])


def _optimise_shares(keys, x0w, value):
    """Nelder-Mead on the log-shares of delta (a deterministic function of the parameters; any
    split is valid). ``value(shares) -> float`` is minimised."""
    from scipy.optimize import minimize
    x0 = np.log([x0w[k] for k in keys])

    def obj(x):
        return value(dict(zip(keys, np.exp(x - x.max()))))

    res = minimize(obj, x0, method="Nelder-Mead", options={"maxiter": 800, "xatol": 1e-3,
                                                           "fatol": 1e-8})
    x = res.x if res.fun <= obj(x0) else x0
    return dict(zip(keys, np.exp(x - x.max())))


def _optimise_weights(d, r, T, n1, n2, m, delta, p):
    """Shares of delta for :func:`e_out_hp_bound_tight`: minimise log(bound); where the bound is
    vacuous, maximise the head-alignment numerator, then kappa_lb, then I."""

    def value(w):
        b, inf = _hp_pieces(d, r, T, n1, n2, m, _split(w, delta), p)
        if inf["I"] > 0:
            return math.log(max(b, 1e-300))
        if inf["kappa_lb"] > 0:
            return 10.0 - inf["I_amp"] / (1 + abs(inf["I_amp"]))
        return 20.0 - inf["num_amp"] / (1 + abs(inf["num_amp"]))

    return _optimise_shares(list(HP_TIGHT_WEIGHTS), HP_TIGHT_WEIGHTS, value)


KAPPA_KEYS = ("V_min", "V_max", "G_low", "S_max", "head_VT", "head_norm")


def kappa_lb_tight(d: int, r: int, T: int, n1: int, m: int, delta: float, p: float = 0.0,
                   weights: dict | None = None, parts: bool = False):
    """Section 9.4 on its own: with probability >= 1 - delta over W0, the tasks and the
    head-step samples, kappa = |H V|^2 / |H|^2 >= kappa_lb (the six events of the head alignment,
    their shares optimised for the parameters unless ``weights``)."""
    keys = list(KAPPA_KEYS)
    if weights is None:
        def value(w):
            inf = _kappa_pieces(d, r, T, n1, m, _split(w, delta), p)
            if inf["kappa_lb"] > 0:
                return -math.log(inf["kappa_lb"])
            return 50.0 - inf["num_amp"] / (1 + abs(inf["num_amp"]))
        weights = _optimise_shares(keys, {k: HP_TIGHT_WEIGHTS[k] for k in keys}, value)
    deltas = _split(weights, delta)
    info = _kappa_pieces(d, r, T, n1, m, deltas, p)
    if not parts:
        return info["kappa_lb"]
    info["steps"] = _kappa_steps(info, deltas)
    info["deltas"] = deltas
    return info["kappa_lb"], info


def _kappa_steps(info, deltas):
    """The steps of kappa_lb (9.4 or 9.4b, whichever ``info["form"]`` says won): the tails of V and
    W0 that both forms use, then the head-noise events of the form, then kappa itself."""
    lam_lo = {"name": "matrix Chernoff / circle tail (T10): lambda_min(V^T V) >= lam_lo",
              "kind": "lower", "proof": info["lam_lo"], "delta": deltas["V_min"], "sim": "lam_min"}
    q_lo = {"name": "Beta lower tail (T11): |W0 M|_F^2 >= Q_lo", "kind": "lower",
            "proof": info["Q_lo"], "delta": deltas["G_low"], "sim": "Q"}
    lam_s = {"name": "matrix Bernstein/Chernoff: lambda_max(W0^T W0) <= Lam_S", "kind": "upper",
             "proof": info["Lam_S"], "delta": deltas["S_max"], "sim": "lmax_S"}
    kappa = {"name": "head alignment kappa >= kappa_lb", "kind": "lower", "proof": info["kappa_lb"],
             "delta": sum(deltas[k] for k in KAPPA_KEYS), "sim": "kappa"}
    if info.get("form") == "projection":
        return [lam_lo, q_lo, lam_s,
                {"name": "T7b: tr(Gram^2) <= tau (deterministic given Lam_S)", "kind": "upper",
                 "proof": info["tau"], "delta": deltas["S_max"], "sim": "tr_gram2"},
                {"name": "Cantelli: |E Q|^2 <= U_Q (head noise in the span of V)", "kind": "upper",
                 "proof": info["U_Q"], "delta": deltas["head_VT"], "sim": "EQ2"},
                {"name": "Cantelli: |E|^2 <= U_E (all head noise)", "kind": "upper",
                 "proof": info["U_E"], "delta": deltas["head_norm"], "sim": "E2"},
                kappa]
    return [lam_lo,
            {"name": "matrix Chernoff / circle tail (T10): lambda_max(V^T V) <= lam_hi",
             "kind": "upper", "proof": info["lam_hi"], "delta": deltas["V_max"], "sim": "lam_max"},
            q_lo, lam_s,
            {"name": "Gram bound: lambda_max(E relu relu^T) <= Lam_G (deterministic given Lam_S)",
             "kind": "upper", "proof": info["Lam_G"], "delta": deltas["S_max"], "sim": "lmax_gram"},
            {"name": "Cantelli: |E V^T|^2 <= U1", "kind": "upper", "proof": info["U1"],
             "delta": deltas["head_VT"], "sim": "EVT2"},
            {"name": "Cantelli: 2<A,E> + |E|^2 <= U2(|A|) (normalised)", "kind": "upper",
             "proof": 1.0, "delta": deltas["head_norm"], "sim": "U2_rel"},
            kappa]


def e_out_hp_bound_tight(d: int, r: int, T: int, n1: int, n2: int, m: int, delta: float,
                         p: float = 0.0, weights: dict | None = None, parts: bool = False):
    """Section 9 (unconditional: probability over W0, the tasks and all samples): with
    probability >= 1 - delta, E_out(W1) <= 1 / (1 + I / N),

      N = (d - r)(1 + s_out)/2,   s_out = sqrt(v_out (1 - d_out)/d_out),
          v_out = 2/(d-r) + 4 (d-r+2)/((d-r) n2)                         (Cantelli, out of span)
      I = (sqrt(n2) f k sqrt(kappa_lb) - sqrt(c_r (1 + s_in)))_+^2,
          s_in = sqrt(v_in (1 - d_in)/d_in), v_in = 1/c_r + ((r(r+2))^{1/4} + f k)^4/(n2 c_r^2)
      kappa_lb = the larger of the triangle form (9.4)
                  (sqrt(lam_lo) a - sqrt(U1))_+^2 / (a^2 (1 - 1/n1) + T m/(2 n1)
                  + c (2 sqrt(Lam_G/n1) a + sqrt(T beta2))),   a = f k sqrt(lam_lo Q_lo),
                 and the projection form (9.4b) lam_lo X / (X + U_E), X = (a - sqrt(U_Q))_+^2,

    lam_lo, lam_hi: matrix Bernstein / Chernoff for V V^T (and T10 for r = 2); Q_lo: lower tail
    of |W0 M|_F^2 (and T11); Lam_G: the Gram bound T7 with lambda_max(W0^T W0) <= Lam_S; U1:
    Cantelli for |E V^T|^2; c = sqrt((1 - d_head)/d_head); U_Q, U_E: Cantelli for |E Q|^2 and |E|^2
    with tr(Gram^2) <= tau (T7b). The eight failure probabilities add to delta (the projection
    form leaves the V_max share unused); their split is ``weights`` (default: optimised for the
    parameters)."""
    if p >= 0.5:
        return (1.0, {}) if parts else 1.0
    w = weights if weights is not None else _optimise_weights(d, r, T, n1, n2, m, delta, p)
    deltas = _split(w, delta)
    bound, info = _hp_pieces(d, r, T, n1, n2, m, deltas, p)
    if not parts:
        return bound
    steps = _kappa_steps(info, deltas) + [
        {"name": "Cantelli: |Y P|^2 <= n2 |H|^2 (d-r)/2 (1 + s_out)", "kind": "upper",
         "proof": 1 + info["s_out"], "delta": deltas["out"], "sim": "R_out"},
        {"name": "Cantelli: |N|^2 <= n2 |H|^2 c_r (1 + s_in)", "kind": "upper",
         "proof": 1 + info["s_in"], "delta": deltas["in"], "sim": "R_in"},
        {"name": "E_out high-probability bound (b)", "kind": "upper", "proof": bound,
         "delta": delta, "sim": "E_out"},
    ]
    info.update(steps=steps, deltas=deltas, weights=w)
    return bound, info


@lru_cache(maxsize=None)
def e_out_hp_bound_tight_expr() -> sp.Expr:
    """Sympy form of :func:`e_out_hp_bound_tight` with the Bernstein deviations only (closed
    forms; the numeric bound may take the smaller Chernoff, circle (T10) or Beta (T11) one, which
    are also valid), the projection form of kappa_lb (9.4b, tau = lambda_max(Gram) m/2) and the
    fixed split HP_TIGHT_WEIGHTS (as rationals; the V_max share is spent unused), in d, r, T, n1,
    n2, m, delta, p. For r >= 2, d > r. Positive parts are kept as sympy Max, as in the numeric
    bound (without them a negative amplitude squared would give a spurious bound below 1)."""
    d, r, T, n1, n2, m, dl, p = S.d, S.r, S.T, S.n1, S.n2, S.m, S.delta, S.p
    tot = sum(HP_TIGHT_WEIGHTS.values())
    dk = {k: sp.Rational(v / tot).limit_denominator(10 ** 6) * dl for k, v in HP_TIGHT_WEIGHTS.items()}
    f = 1 - 2 * p
    fk = f / sp.sqrt(2 * sp.pi)
    c_r = r / 2 - fk ** 2
    L = lambda x: sp.log(1 / x)

    def bern(var, Lc, delta_):
        l = L(delta_)
        return Lc * l / 3 + sp.sqrt((Lc * l / 3) ** 2 + 2 * l * var)

    lam_lo = sp.Max(T / r - bern(T * (1 / r - 1 / r ** 2), 1 / r, dk["V_min"] / r), 0)
    Q_lo = sp.Max(m * r / d - sp.sqrt(2 * m * r * (r + 2) / (d * (d + 2)) * L(dk["G_low"])), 0)
    Lam_S = m / d + bern(m * (1 / d - 1 / d ** 2), 1 - 1 / d, dk["S_max"] / d)
    Lam_G = ((2 - 2 / sp.pi) * Lam_S + 2 / sp.pi * m) / 4
    cs = lambda var, delta_: sp.sqrt(var * (1 - delta_) / delta_)
    a = fk * sp.sqrt(lam_lo * Q_lo)
    # the projection form of 9.4b, tau = the second bound of T7b (lambda_max(Gram) tr(Gram))
    tau = Lam_G * m / 2
    z4 = m ** 2 * (sp.Rational(3, 2) ** sp.Rational(1, 4) + fk) ** 4
    U_Q = m * r / (2 * n1) + cs(r * z4 / n1 ** 3 + 2 * r * tau / n1 ** 2, dk["head_VT"])
    U_E = (T * m / 2 - a ** 2) / n1 + cs(T * z4 / n1 ** 3 + 2 * T * tau / n1 ** 2, dk["head_norm"])
    X = sp.Max(a - sp.sqrt(U_Q), 0) ** 2
    kappa = lam_lo * X / (X + U_E)
    vO = 2 / (d - r) + 4 * (d - r + 2) / ((d - r) * n2)
    vI = 1 / c_r + ((r * (r + 2)) ** sp.Rational(1, 4) + fk) ** 4 / (n2 * c_r ** 2)
    Iamp = sp.sqrt(n2) * fk * sp.sqrt(kappa) - sp.sqrt(c_r * (1 + cs(vI, dk["in"])))
    N = (d - r) * (1 + cs(vO, dk["out"])) / 2
    return 1 / (1 + sp.Max(Iamp, 0) ** 2 / N)


def _hp_given_s1_pieces(W0, M, H, V, n2, p):
    """Exact conditional second moments for section 9.5 (T4, T6): H (m x T) the heads / eta_a, V (T x r)."""
    W0 = B.normalise_rows(np.asarray(W0, float))
    M = np.asarray(M, float)
    H = np.asarray(H, float)
    V = np.asarray(V, float)
    d, r = M.shape
    f = 1.0 - 2.0 * p
    fk = f * _k()
    c_r = r * _ind() - fk * fk
    HH = H @ H.T
    H2 = float(np.trace(HH))
    a4 = float(((H * H).sum(0) ** 2).sum())           # sum_t |a_t|^4
    trO = n2 * n2 * float((HH * HH * q_blocks_frob2(W0, M, "out")).sum())
    trI = n2 * n2 * float((HH * HH * q_blocks_frob2(W0, M, "in")).sum())
    varO = 2 * trO + n2 * (d - r) * (d - r + 2) * a4
    varI = 2 * trI + n2 * ((r * (r + 2)) ** 0.25 + fk) ** 4 * a4
    EO = n2 * H2 * (d - r) * _ind()
    EI = n2 * H2 * c_r
    HV = H @ V
    kappa = float((HV * HV).sum()) / H2
    return {"EO": EO, "EI": EI, "varO": varO, "varI": varI, "kappa": kappa, "H2": H2,
            "mean_in": n2 * fk * math.sqrt(float((HV * HV).sum())), "d": d, "r": r}


def e_out_hp_bound_given_s1(W0, M, H, V, n2: int, delta: float, p: float = 0.0,
                            parts: bool = False):
    """Section 9.5, conditional on W0, the tasks V (T x r) and the heads H (m x T, eta_a = 1;
    pass heads.T / eta_a): with probability >= 1 - delta over the representation-step samples,

      E_out <= X / (X + Z),  X = E_O + sqrt(var_O (1 - d_O)/d_O),
      Z = (n2 f k |H V| - sqrt(E_I + sqrt(var_I (1 - d_I)/d_I)))_+^2,

    E_O = n2 |H|^2 (d - r)/2, E_I = n2 |H|^2 c_r, var_O = 2 n2^2 sum_ij (H H^T)_ij^2
    ||P Q_ij P||_F^2 + n2 (d-r)(d-r+2) sum_t |a_t|^4 (and likewise var_I with M; T6),
    d_O + d_I = delta (the split is chosen on a grid, a function of the conditioning data)."""
    g = _hp_given_s1_pieces(W0, M, H, V, n2, p)

    def at(dO, dI):
        X = g["EO"] + cantelli_dev(g["varO"], dO)
        Z = max(g["mean_in"] - math.sqrt(g["EI"] + cantelli_dev(g["varI"], dI)), 0.0) ** 2
        return (X / (X + Z) if X + Z > 0 else 1.0), dO, dI, X, Z

    b, dO, dI, X, Z = _best_two_way_split(delta, (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98), at)
    if not parts:
        return b
    steps = [
        {"name": "Cantelli (exact conditional variance): |Y P|^2 <= X", "kind": "upper",
         "proof": X / g["EO"], "delta": dO, "sim": "R_out"},
        {"name": "Cantelli (exact conditional variance): |N|^2 <= E_I + dev", "kind": "upper",
         "proof": (g["EI"] + cantelli_dev(g["varI"], dI)) / g["EI"], "delta": dI,
         "sim": "R_in"},
        {"name": "E_out bound given S1", "kind": "upper", "proof": b, "delta": delta,
         "sim": "E_out"},
    ]
    return b, {"steps": steps, "X": X, "Z": Z, "delta_out": dO, "delta_in": dI, **g}


def e_out_sim_stats(W0, W, M, heads, V, n1: int, n2: int, eta_a: float = 1.0,
                    eta_w: float = 1.0, p: float = 0.0, info: dict | None = None) -> dict:
    """Per-run statistics for the steps of section 9 from a pretraining run (one-step algorithm):
    W0, W (m x d), M, heads (T x m), V = tasks.params (T x r). Y = W T n2 / eta_W, H = heads^T /
    eta_a, A = f k W0 M V^T, E = H - A. Returns lam_min, lam_max (of V^T V), Q = |W0 M|^2,
    lmax_S = lambda_max(W0^T W0), lmax_gram (of the arc-cosine Gram of W0), tr_gram2 = its
    tr(Gram^2), EVT2 = |E V|^2, EQ2 = |E Q|^2 (Q an orthonormal basis of col(V)), E2 = |E|^2,
    H2 = |H|^2, U2_rel = (2<A,E> + |E|^2) / U2(|A|) (needs ``info`` of e_out_hp_bound_tight),
    kappa, R_out = |Y P|^2/(n2 |H|^2 (d-r)/2), R_in = |N|^2/(n2 |H|^2 c_r), E_out."""
    W0 = B.normalise_rows(np.asarray(W0, float))
    W = np.asarray(W, float)
    M = np.asarray(M, float)
    V = np.asarray(V, float)
    d, r = M.shape
    T = V.shape[0]
    m = W.shape[0]
    f = 1 - 2 * p
    fk = f * _k()
    c_r = r * _ind() - fk * fk
    Y = W * (T * n2 / eta_w)
    H = np.asarray(heads, float).T / eta_a
    H2 = float((H * H).sum())
    YM = Y @ M
    YP = Y - YM @ M.T
    N = YM - n2 * fk * H @ V
    G = W0 @ M
    A = fk * G @ V.T
    E = H - A
    ev = np.linalg.eigvalsh(V.T @ V)
    Gm = arccos_kernel(W0)
    out = {"lam_min": float(ev[0]), "lam_max": float(ev[-1]), "Q": float((G * G).sum()),
           "lmax_S": float(np.linalg.eigvalsh(W0.T @ W0)[-1]),
           "lmax_gram": float(np.linalg.eigvalsh(Gm)[-1]), "tr_gram2": float((Gm * Gm).sum()),
           "EVT2": float(((E @ V) ** 2).sum()),
           "EQ2": float(((E @ np.linalg.qr(V)[0]) ** 2).sum()), "E2": float((E * E).sum()),
           "kappa": float(((H @ V) ** 2).sum()) / H2, "H2": H2,
           "R_out": float((YP * YP).sum()) / (n2 * H2 * (d - r) * _ind()) if d > r else 0.0,
           "R_in": float((N * N).sum()) / (n2 * H2 * c_r),
           "E_out": float((YP * YP).sum()) / float((Y * Y).sum())}
    if info is not None:
        Aa = float(np.linalg.norm(A))
        U2 = (T * m / 2 - Aa * Aa) / n1 + info["cd_head"] * (
            2 * math.sqrt(info["Lam_G"] / n1) * Aa + math.sqrt(T * info["beta2"]))
        out["U2_rel"] = (2 * float((A * E).sum()) + float((E * E).sum())) / U2
    return out


def step_slacks_conditional(runs: list[tuple[list[dict], dict]]) -> list[dict]:
    """Per-step slacks of a conditional bound over K runs: ``runs`` = [(steps of the run's
    bound, the run's statistics)]. For an upper step the ratio statistic / proof per run, slack
    = 1 / (its (1 - delta_k) quantile); for a lower step the ratio statistic / proof, slack = its
    delta_k quantile (the proof values differ between runs)."""
    out = []
    for i, st in enumerate(runs[0][0]):
        ratios = [stats[steps[i]["sim"]] / steps[i]["proof"] for steps, stats in runs]
        if st["kind"] == "lower":
            q = _quantile(ratios, st["delta"])
            sl = q
        else:
            q = _quantile(ratios, 1 - st["delta"])
            sl = 1 / q if q > 0 else math.inf
        out.append({"name": st["name"], "proof": float(np.median([s[i]["proof"] for s, _ in runs])),
                    "simulated_ratio_quantile": q, "slack": sl})
    return out


def kappa_lb_given_w0v(W0, M, V, n1: int, delta: float, p: float = 0.0, parts: bool = False):
    """Section 9.4, conditional on W0 and the tasks V (T x r); probability over the head-step
    samples only: the larger of the projection form of 9.4b (lambda_min(V^T V) X/(X + U_E), X =
    (|A| - sqrt(U_Q))_+^2, with the exact conditional means sum_t |q_t|^2 (m/2 - |A_t|^2)/n1 and
    mu_E, and tr(G^2) exactly) and the triangle form
    kappa >= (|A V| - sqrt(U1))_+^2 / (|A|^2 + mu_E + c2 (2 sqrt(sum_t A_t^T G A_t / n1)
    + sqrt(T) beta)), with A = f k W0 M V^T exactly, G the arc-cosine Gram of W0,
    mu_E = sum_t (m/2 - |A_t|^2)/n1, U1 = mu_E + sqrt(Var (1-d1)/d1),
    Var = T beta^2 + 2 tr(G^2)(||V V^T||_F^2 - T)/n1^2,
    beta^2 = max_t [(1.5^{1/4} sqrt(m) + |A_t|)^4 + 2 n1 tr(G^2)] / n1^3; d1 + d2 = delta
    (split on a grid: a function of the conditioning data)."""
    W0 = B.normalise_rows(np.asarray(W0, float))
    M = np.asarray(M, float)
    V = np.asarray(V, float)
    m = W0.shape[0]
    T = V.shape[0]
    fk = (1 - 2 * p) * _k()
    A = fk * (W0 @ M) @ V.T                                   # m x T
    G = arccos_kernel(W0)
    trG2 = float((G * G).sum())
    At2 = (A * A).sum(0)
    muE = float(((m / 2 - At2) / n1).sum())
    beta2 = float(np.max((1.5 ** 0.25 * math.sqrt(m) + np.sqrt(At2)) ** 4 + 2 * n1 * trG2)) / n1 ** 3
    CV = V @ V.T
    varVT = T * beta2 + 2 * trG2 * (float((CV * CV).sum()) - T) / n1 ** 2
    quadA = float(np.einsum("it,ij,jt->", A, G, A))
    AV = float(np.linalg.norm(A @ V))
    A2 = float((A * A).sum())

    # the projection form (section 9.4b) with the exact conditional moments
    Qb = np.linalg.qr(V)[0]                                   # T x r, orthonormal basis of col(V)
    q2 = (Qb * Qb).sum(1)
    z4t = (1.5 ** 0.25 * math.sqrt(m) + np.sqrt(At2)) ** 4    # >= E|zeta_t|^4
    muQ = float((q2 * (m / 2 - At2)).sum()) / n1
    varQ = float((q2 * q2 * z4t).sum()) / n1 ** 3 + 2 * trG2 * V.shape[1] / n1 ** 2
    varE = float(z4t.sum()) / n1 ** 3 + 2 * T * trG2 / n1 ** 2
    lmin = float(np.linalg.eigvalsh(V.T @ V)[0])

    def at(d1, d2):
        U1 = muE + cantelli_dev(varVT, d1)
        den = A2 + muE + math.sqrt((1 - d2) / d2) * (2 * math.sqrt(quadA / n1)
                                                     + math.sqrt(T * beta2))
        k_tri = max(AV - math.sqrt(U1), 0.0) ** 2 / den
        UQ = muQ + cantelli_dev(varQ, d1)
        UE = muE + cantelli_dev(varE, d2)
        X = max(math.sqrt(A2) - math.sqrt(UQ), 0.0) ** 2
        k_proj = lmin * X / (X + UE) if X > 0 else 0.0
        if k_proj > k_tri:
            return k_proj, d1, d2, UQ, UE, "projection"
        return k_tri, d1, d2, U1, den, "triangle"

    # u1, u2: the bounds of the form's two events (U_Q, U_E or U1, the |H|^2 bound den)
    k, d1, d2, u1, u2, form = _best_two_way_split(delta, (0.2, 0.35, 0.5, 0.65, 0.8, 0.9), at,
                                                  maximise=True)
    if not parts:
        return k
    if form == "projection":
        steps = [
            {"name": "Cantelli (exact conditional mean and tr(Gram^2)): |E Q|^2 <= U_Q",
             "kind": "upper", "proof": u1, "delta": d1, "sim": "EQ2"},
            {"name": "Cantelli: |E|^2 <= U_E", "kind": "upper", "proof": u2, "delta": d2,
             "sim": "E2"},
            {"name": "kappa >= kappa_lb given W0, V", "kind": "lower", "proof": k, "delta": delta,
             "sim": "kappa"},
        ]
        return k, {"steps": steps, "U_Q": u1, "U_E": u2, "AV": AV, "A2": A2, "muE": muE,
                   "form": form}
    steps = [
        {"name": "Cantelli (exact conditional variance): |E V|^2 <= U1", "kind": "upper",
         "proof": u1, "delta": d1, "sim": "EVT2"},
        {"name": "Cantelli: |H|^2 <= den", "kind": "upper", "proof": u2, "delta": d2, "sim": "H2"},
        {"name": "kappa >= kappa_lb given W0, V", "kind": "lower", "proof": k, "delta": delta,
         "sim": "kappa"},
    ]
    return k, {"steps": steps, "U1": u1, "den": u2, "AV": AV, "A2": A2, "muE": muE,
               "form": form}


# ============================================================================================
# Structural facts of the tight bounds (symbolic, three-valued)
# ============================================================================================

def _sign_fact(expr, want: str, simplify: bool = False):
    """True / False / None from sympy's assumptions on the expression (optionally after
    sp.simplify, which is slow on large expressions). lemmas._decide_sign is not used: it
    raises PolificationFailed on factors with square roots."""
    attr = {"positive": "is_positive", "negative": "is_negative", "nonnegative": "is_nonnegative",
            "nonpositive": "is_nonpositive"}[want]
    v = getattr(expr, attr)
    if v is None and simplify:
        v = getattr(sp.simplify(expr), attr)
    return None if v is None else bool(v)


@lru_cache(maxsize=None)
def structural_facts_tight() -> list[dict]:
    """The d-independence and monotonicity facts of the tight bounds, each decided True / False /
    None, by sympy's assumptions on chain-rule factors. Reparametrisations carry the constraints:
    r = 2 + x (r >= 2), delta = 1/(1 + g) in (0, 1), 1 - 2p = 1/(1 + h) in (0, 1], d = r + e
    (d > r); measured inputs (R*, df, kappa_lb) and c_r > 0 (lemma
    in-span-noise-constant-positive) are positive symbols."""
    from .claims import independent_of
    x = sp.Symbol("x", nonnegative=True)
    g, h, e = sp.symbols("g h e", positive=True)
    Rp, Dp, Ep, kp = sp.symbols("R_p D_p E_p kappa_p", positive=True)
    facts = []
    c_R = probe_bound_tight_expr("R")
    c_E = probe_bound_tight_expr("E_out")
    iso = single_task_isotropy_tight_expr()
    facts.append({"fact": "(c) tight probe bound has no d (R* / df form and E_out form)",
                  "section": "6", "decided": bool(independent_of(c_R, S.d)) and
                  bool(independent_of(c_E, S.d))})
    cR = c_R.subs({R_star: Rp, df_sym: Dp})
    facts.append({"fact": "(c) tight probe bound does not increase in n", "section": "6",
                  "decided": _sign_fact(sp.diff(cR, S.n), "nonpositive")})
    # chain rule: the bound is ((sqrt(R*) + sqrt(R* + 16 df/n))/2)^2, increasing in R*, and
    # R* = (sqrt(R_in) + |b| sqrt(m E_out))^2 + (lam/2)|b|^2 increases in E_out
    Rs_E = (sp.sqrt(B.R_in) + B.bnorm * sp.sqrt(S.m * Ep)) ** 2 + S.lam / 2 * B.bnorm ** 2
    facts.append({"fact": "(c) tight probe bound (E_out form) does not decrease in E_out "
                          "(increasing in R*, and R* increasing in E_out)", "section": "6",
                  "decided": bool(_sign_fact(sp.diff(cR, Rp), "nonnegative"))
                  and bool(_sign_fact(sp.diff(Rs_E, Ep), "nonnegative"))})
    facts.append({"fact": "(d) tight single-task isotropy bound has no d, m or n1", "section": "7",
                  "decided": all(independent_of(iso, s_) is True for s_ in (S.d, S.m, S.n1))})
    sub = {S.r: 2 + x, S.delta: 1 / (1 + g), S.p: (1 - 1 / (1 + h)) / 2}
    # the bound is numer / denom: numer = sqrt(r (1 + s1)/(4 (r-1))), denom the Weyl denominator
    numer = sp.Mul(*[a for a in sp.Mul.make_args(iso) if not (a.is_Pow and a.exp.is_negative)])
    denom = sp.Mul(*[1 / a for a in sp.Mul.make_args(iso) if a.is_Pow and a.exp.is_negative])
    facts.append({"fact": "(d) numerator sqrt(r (1 + s1)/(4 (r-1))) does not increase in n2",
                  "section": "7", "decided": _sign_fact(sp.diff(numer, S.n2).subs(sub),
                                                        "nonpositive")})
    facts.append({"fact": "(d) denominator f k sqrt(n2) - sqrt(c (1 + s2)) increases in n2 (so the "
                          "bound decreases in n2 where the denominator is positive)",
                  "section": "7", "decided": _sign_fact(sp.diff(denom, S.n2).subs(sub), "positive")})
    return facts + _hp_structural_facts(sub, x, e, kp)


def _hp_structural_facts(sub: dict, x, e, kp) -> list[dict]:
    """The facts of bound (b) for :func:`structural_facts_tight` (same reparametrisations)."""
    facts = []
    # bound = 1/(1 + I_amp^2 / N); n2 enters N (through v_out) and I_amp only
    d, r, n2, dl, p = S.d, S.r, S.n2, S.delta, S.p
    tot = sum(HP_TIGHT_WEIGHTS.values())
    dO = sp.Rational(HP_TIGHT_WEIGHTS["out"] / tot).limit_denominator(10 ** 6) * dl
    dI = sp.Rational(HP_TIGHT_WEIGHTS["in"] / tot).limit_denominator(10 ** 6) * dl
    fk = (1 - 2 * p) / sp.sqrt(2 * sp.pi)
    vO = 2 / (d - r) + 4 * (d - r + 2) / ((d - r) * n2)
    N = (d - r) * (1 + sp.sqrt(vO * (1 - dO) / dO)) / 2
    cp, K4 = sp.symbols("c_p K_4", positive=True)
    vI = 1 / cp + K4 / (n2 * cp ** 2)
    noise = sp.sqrt(cp * (1 + sp.sqrt(vI * (1 - dI) / dI)))
    signal = sp.sqrt(n2) * fk * sp.sqrt(kp)
    subb = {S.d: 2 + x + e, **sub}
    facts.append({"fact": "(b) N = (d-r)(1 + s_out)/2 does not increase in n2", "section": "9",
                  "decided": _sign_fact(sp.diff(N, n2).subs(subb), "nonpositive")})
    facts.append({"fact": "(b) I_amp = sqrt(n2) f k sqrt(kappa_lb) - sqrt(c_r (1 + s_in)) increases "
                          "in n2 (kappa_lb is free of n2); with N non-increasing, the bound "
                          "1/(1 + I_amp^2/N) decreases in n2 where I_amp > 0", "section": "9",
                  "decided": bool(_sign_fact(sp.diff(signal, n2).subs(subb), "positive"))
                  and bool(_sign_fact(sp.diff(noise, n2).subs(subb), "nonpositive"))})
    facts.append({"fact": "(b) the bound depends on T only through kappa_lb, and I_amp increases "
                          "in kappa_lb (so the bound does not increase as kappa_lb grows, where "
                          "I_amp > 0); whether kappa_lb increases in T is checked numerically "
                          "(tests), not symbolically", "section": "9",
                  "decided": _sign_fact(sp.diff(signal, kp).subs(subb), "positive")})
    return facts
