"""Results derived here (docs/derivations.md sections 4, 6.3 and 8.1), with every constant
derived in section 2; nothing in this module is the paper's theorem. The high-probability
bounds (b), (c), (d) and the n* / m* bounds of sections 6, 7 and 9 live in theory/probe_bound.py,
theory/isotropy_bound.py and theory/eout_bound.py.

Section 4, prediction (a): the leading-order expectation of E_out for the one-step algorithm,
E[E_out] ~= S_out / (S_in + S_out), where S_in and S_out are the exact expectations of the
in-span and out-of-span energy per row of W1 / (eta_a eta_W) (expectation over W0, the tasks
and the samples).
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import sympy as sp
from scipy.linalg import solve_triangular

from . import derive as D
from . import symbols as S
from .population import arccos_kernel

__all__ = ["derived_constants", "energy_terms", "e_out_prediction", "e_out_prediction_fn",
           "budget_n", "R_in", "bnorm", "normalise_rows", "lm_radius2", "probe_population_risk",
           "width_risk_curve", "one_step_population_error",
           "rf_risk_lower_bound", "rf_width_lower_bound"]


@lru_cache(maxsize=None)
def derived_constants() -> dict[str, sp.Expr]:
    """Constants read off section 2: k = 1/sqrt(2 pi) (twice), the relu second moment 1/2."""
    k = D.coefficients()
    _, m2 = D.relu_moments()
    half = sp.simplify(m2.subs(D.wnorm, 1))          # E[relu(w.x)^2] = 1/2 for |w| = 1
    return {"k_relu": k["k_relu"], "k_ind": k["k_ind"], "relu_sq": half,
            "ind_sq": D.indicator_second_moment()}          # section 4.3, derived


@lru_cache(maxsize=None)
def energy_terms() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """(A, S_in, S_out) of docs/derivations.md section 4 as expressions in d, r, T, n1, n2, p.

    A     = E[a_{t,i}^2] / eta_a^2
          = (1-2p)^2 k_relu^2 (r/d)(1/r) (1 - 1/n1) + relu_sq / n1
    S_in  = E|M^T w1_i|^2 / (eta_a eta_W)^2
          = (1-2p)^2 k_ind^2 [A/T + (1 - 1/T) (1-2p)^2 k_relu^2 / (r d)]
            + A (r ind_sq - (1-2p)^2 k_ind^2) / (n2 T)
    S_out = E|P w1_i|^2 / (eta_a eta_W)^2 = A (d - r) ind_sq / (n2 T)
    """
    c = derived_constants()
    d, r, T, n1, n2, p = S.d, S.r, S.T, S.n1, S.n2, S.p
    f2 = (1 - 2 * p) ** 2
    mu2 = f2 * c["k_relu"] ** 2 / d                    # E_w E_v[mu^2], E|M^T w|^2 = r/d, E vv^T = I/r
    A = mu2 * (1 - 1 / n1) + c["relu_sq"] / n1
    cross = f2 * c["k_relu"] ** 2 / (r * d)            # |E[a v]|^2 / eta_a^2, averaged over w
    S_in = f2 * c["k_ind"] ** 2 * (A / T + (1 - 1 / T) * cross) \
        + A * (r * c["ind_sq"] - f2 * c["k_ind"] ** 2) / (n2 * T)
    S_out = A * (d - r) * c["ind_sq"] / (n2 * T)
    return sp.simplify(A), S_in, S_out


@lru_cache(maxsize=None)
def e_out_prediction() -> sp.Expr:
    """Prediction (a): E[E_out] ~= S_out / (S_in + S_out), the ratio of the exact expected
    energies (section 4.5: the ratio bias was measured below 0.5%; it is not O(1/m), since all
    rows share the same tasks and samples)."""
    _, S_in, S_out = energy_terms()
    return S_out / (S_in + S_out)


@lru_cache(maxsize=None)
def e_out_prediction_fn():
    """Numeric prediction (a): f(d, r, T, n1, n2, p=0) -> float."""
    f = sp.lambdify((S.d, S.r, S.T, S.n1, S.n2, S.p), e_out_prediction(), "math")

    def pred(d, r, T, n1, n2, p=0.0) -> float:
        return float(f(d, r, T, n1, n2, p))

    return pred


def budget_n(d: int, r: int, T: int, target: float, n0: int = 64) -> int:
    """Smallest n = n1 = n2 on a grid of ratio 1.1 (from n0) whose predicted E[E_out] (section 4)
    is <= target: the pretraining budget that holds E_out at a fixed level as d grows."""
    pred = e_out_prediction_fn()
    n = n0
    while pred(d, r, T, n, n) > target:
        n = int(math.ceil(n * 1.1))
    return n


# --- section 6: the downstream probe (derived here) ------------------------------------------

R_in = sp.Symbol("R_in", nonnegative=True)        # in-span risk of a comparator beta
bnorm = sp.Symbol("|beta|", nonnegative=True)      # its norm

def normalise_rows(W):
    W = np.asarray(W, dtype=float)
    return W / np.linalg.norm(W, axis=1, keepdims=True)


def lm_radius2(W, t: float) -> float:
    """B_t^2 with P(|W x|^2 >= B_t^2) <= e^-t for x ~ N(0, I): tr S + 2 sqrt(tr(S^2) t) + 2 |S| t,
    S = W W^T (Laurent and Massart 2000, Lemma 1; a measurable of the bound files)."""
    S_ = W @ W.T
    ev = np.clip(np.linalg.eigvalsh(S_), 0, None)
    return float(ev.sum() + 2 * np.sqrt((ev ** 2).sum() * t) + 2 * ev.max() * t)


def probe_population_risk(W, M, lam: float) -> float:
    """min_beta E_v[R(beta) + lam |beta|^2] for the halfspace downstream family and features
    relu(w_i . x / |w_i|), from the closed forms: G = arc-cosine Gram, E_v h h^T = W M M^T W^T
    /(2 pi r) (sections 2.2, 2.5, 2.7): 1 - tr((G + lam I)^-1 E_v h h^T)."""

    Wn = normalise_rows(W)
    G = arccos_kernel(Wn)
    r = M.shape[1]
    H = (Wn @ M) @ (Wn @ M).T / (2 * np.pi * r)
    A = np.linalg.solve(G + lam * np.eye(len(G)), H)
    return float(1.0 - np.trace(A))


def width_risk_curve(W, M, widths, jitter: float = 1e-9, stop_below: float | None = None):
    """Population risk of the best linear probe on the first m rows of W, for m in ``widths``
    (halfspace downstream family, n -> infinity): the neuron complexity of section 6.3.

    1 - tr((G_m + jitter I)^-1 B_m B_m^T) with B = W M / sqrt(2 pi r), for every m from ONE
    Cholesky factor L of the largest Gram: the factor of a leading block is the leading block of
    L, and forward substitution Y = L^-1 B is prefix-consistent, so the trace for width m is
    the sum of the squares of the first m rows of Y.

    With ``stop_below`` (increasing ``widths``) the curve is computed only up to its first width
    with risk <= stop_below, which is all that a crossing at that level reads
    (checks/complexity.py): the first k rows are tried for k = 64, 128, ... (a leading block
    again), and the widths past the first crossing are None (not computed). The risk never
    rises with m (the captured part is a cumulative sum of squares), so nothing past it can
    cross earlier. A 2048-wide random-feature curve whose crossing is at 550 rows costs a
    724 x 724 factor instead of 2048 x 2048."""
    if stop_below is None:
        return _width_risk_values(W, M, widths, jitter)
    widths = list(widths)
    if any(b <= a for a, b in zip(widths, widths[1:])):
        raise ValueError("width_risk_curve with stop_below needs increasing widths")
    k = 64
    while True:
        upto = [w for w in widths if w <= k] or widths[:1]
        vals = _width_risk_values(W, M, upto, jitter)
        hit = next((i for i, v in enumerate(vals) if v <= stop_below), None)
        if hit is not None:
            return vals[:hit + 1] + [None] * (len(widths) - hit - 1)
        if len(upto) == len(widths):
            return vals
        k = max(2 * max(upto), widths[len(upto)])


def _width_risk_values(W, M, widths, jitter):
    k = max(widths)
    Wn = normalise_rows(np.asarray(W, dtype=float)[:k])
    G = arccos_kernel(Wn) + jitter * np.eye(k)
    B = (Wn @ M) / np.sqrt(2 * np.pi * M.shape[1])
    L = np.linalg.cholesky(G)
    Y = solve_triangular(L, B, lower=True)
    captured = np.cumsum((Y ** 2).sum(axis=1))
    return [float(1.0 - captured[w - 1]) for w in widths]


def one_step_population_error(d, r, T, n1, n2, p=0.0) -> float:
    """Predicted RMS relative deviation of the one-step W1 from the population update
    (sections 4.4 and 5): sqrt((S_in + S_out - coh) / coh), coh = f^4 k^4 / (r d) the energy of
    the population update per row; the rest of S_in + S_out is finite-T and finite-n noise."""
    A, S_in, S_out = energy_terms()
    c = derived_constants()
    vals = {S.d: d, S.r: r, S.T: T, S.n1: n1, S.n2: n2, S.p: p}
    coh = float(((1 - 2 * S.p) ** 4 * c["k_relu"] ** 2 * c["k_ind"] ** 2 / (S.r * S.d)).subs(vals))
    total = float((S_in + S_out).subs(vals))
    return math.sqrt(max(total - coh, 0.0) / coh)


# --- section 8: the random-feature lower bound for halfspace targets (derived here) ----------

def rf_risk_lower_bound(W, M) -> float:
    """Section 8.1: for features relu(w_i . x) and halfspace targets y = sign(Mv . x), v uniform,
    the best probe's risk satisfies E_v R* >= 1 - (2/pi) ||P_W M||_F^2 / r, P_W the projection on
    span of the rows of W (the odd part of any probe is linear in x, within span W)."""
    Q, _ = np.linalg.qr(np.asarray(W, dtype=float).T)          # orthonormal basis of span(W)
    PM = Q @ (Q.T @ M)
    return float(1 - (2 / np.pi) * np.sum(PM ** 2) / M.shape[1])


def rf_width_lower_bound(d: int, eps: float) -> float:
    """Section 8.1, in expectation over the random features: m*_RF(eps) >= (pi/2)(1 - eps) d."""
    return math.pi / 2 * (1 - eps) * d
