"""ReLU block algebra: the second moments of two half-spaces in closed form (T6 of
docs/derivations.md section 12), Q = E[1{w.x>0} 1{w'.x>0} x x^T] and S = E[sign(w.x) sign(w'.x)
x x^T], and their squared Frobenius norms within span(M) or its complement for all pairs of rows
at once; the bounds on the largest eigenvalue and on tr(Gram^2) of the ReLU Gram (T7, T7b); and
the derived constants k = 1/sqrt(2 pi) and ind_sq = 1/2 (sections 2.2, 2.3, 4.3) that the bounds
of theory/isotropy_bound.py and theory/eout_bound.py use.

numpy only (no torch); angles by the well-conditioned forms of theory/angles.py (section 1.1).
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from . import bounds as B
from .angles import pair_angles, vector_angle

__all__ = ["q_block", "s_block", "q_blocks_frob2", "s_blocks_frob2", "gram_lmax_bound",
           "gram_sq_trace_bound"]


@lru_cache(maxsize=None)
def _k() -> float:
    """k = k_relu = k_ind = 1/sqrt(2 pi), derived (docs/derivations.md 2.2, 2.3)."""
    c = B.derived_constants()
    assert c["k_relu"] == c["k_ind"], "the derived bounds use k_relu = k_ind"
    return float(c["k_ind"])


@lru_cache(maxsize=None)
def _ind() -> float:
    """ind_sq = E[1{w.x>0} (e.x)^2] = 1/2, derived (docs/derivations.md 4.3)."""
    return float(B.derived_constants()["ind_sq"])


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


# --- the ReLU Gram (T7, T7b) ------------------------------------------------------------

def gram_lmax_bound(lmax_S: float, m: int) -> float:
    """T7: lambda_max(E relu(W x) relu(W x)^T) <= ((2 - 2/pi) lambda_max(W W^T)
    + (2/pi) m) / 4 for unit rows (relu = (t + |t|)/2, E|g||g'| <= 2/pi + (1 - 2/pi) rho^2,
    Schur's bound lambda_max(S o S) <= lambda_max(S)); and <= tr = m/2."""
    return min(m / 2.0, ((2 - 2 / math.pi) * lmax_S + (2 / math.pi) * m) / 4.0)


def gram_sq_trace_bound(lmax_S: float, m: int) -> float:
    """T7b: tr(Gram^2) for the arc-cosine Gram of m unit rows with lambda_max(W W^T) <= lmax_S:
    4 Gram <= (2 - 2/pi) lmax_S I + (2/pi) 1 1^T (PSD order, the proof of T7 with (1.c)^2 kept),
    so tr(Gram^2) <= tr(Gram B) = ((2 - 2/pi) lmax_S m/2 + (2/pi) 1^T Gram 1)/4, with
    1^T Gram 1 <= min(m^2/2, 1^T B 1); and <= lambda_max(Gram) tr(Gram) (T7)."""
    c1 = (2 - 2 / math.pi) * lmax_S
    one_gram_one = min(m * m / 2.0, (c1 * m + (2 / math.pi) * m * m) / 4.0)
    return min((c1 * m / 2.0 + (2 / math.pi) * one_gram_one) / 4.0,
               gram_lmax_bound(lmax_S, m) * m / 2.0)
