"""The population risk of random features, in numpy (derived here): b(w) = E[f(z) relu(w . x)]
for the downstream targets without sampling x (docs/derivations.md section 8.7; for sign(z1 z2) a
truncated series with an explicit bound on its error), the risk of the best linear head on the
first m features for every m from one Cholesky factorisation, and a certified lower bound on the
least eigenvalue of the arc-cosine Gram (section 8.8). sim/rf_population.py is its torch twin.
"""
from __future__ import annotations

import math
from functools import lru_cache

import mpmath as mp
import numpy as np
from scipy.linalg import LinAlgError, cholesky, solve_triangular

from .degree_energies import _target, _xor_energy_mp
from .hermite import _coeffs, _int, _tails, relu_hermite
from .params import Described, ParameterError, check_matrix, check_orthonormal
from .population import arccos_kernel

__all__ = ["xor_series", "feature_correlation", "cholesky_risk_curve",
           "gram_min_eig_lower_bound", "rf_population_risk_curve"]


# --- b(w) = E[f(z) relu(w . x)] without sampling x (section 8.7) --------------------------------

@lru_cache(maxsize=None)
def _xor_series(K: int):
    """Coefficients of b(w) = sum_{i,j odd, i+j <= K} c_{i+j} sqrt((i+j)!/(i! j!)) a_i a_j p^i q^j
    and the per-degree weights |c_k| sqrt(E_k) and tail constants of the truncation bound."""
    K2 = 4 * K
    c, a = _coeffs("relu", K2), _coeffs("sign", K2)
    odd = list(range(1, K, 2))
    with mp.workdps(30):
        C = np.array([[float(c[i + j] * mp.sqrt(mp.binomial(i + j, i)) * a[i] * a[j])
                       if i + j <= K else 0.0 for j in odd] for i in odd])
        Ex = _xor_energy_mp(K2)
        w = np.array([float(abs(c[k]) * mp.sqrt(Ex[k])) for k in range(K2 + 1)])
        rest = float(mp.sqrt(max(mp.mpf(_tails("relu", K2)), 0)
                             * max(1 - mp.fsum(Ex), 0)))
    return np.array(odd), C, w, rest


def xor_series(max_degree: int = 120) -> dict:
    """The numbers behind feature_correlation('xor'), for ports (sim.rf_population): powers
    'odd' (1, 3, ...), matrix 'C' with b = sum_{i,j} C[i,j] p^odd_i q^odd_j (i + j <= max_degree),
    'w' = |c_k| sqrt(E_k) for k <= 4 max_degree and 'rest' = sqrt(sum_{k>4K} c_k^2 sum_{k>4K} E_k)
    (the truncation bound of _xor_b). Read-only arrays."""
    K = _int("max_degree", max_degree, "xor_series", 2)
    odd, C, w, rest = _xor_series(K)
    for a in (odd, C, w):
        a.setflags(write=False)
    return {"odd": odd, "C": C, "w": w, "rest": rest}


def _xor_b(p, q, K):
    """sum_k c_k rho^k E[sign(z1 z2) h_k(u.z)] truncated at degree K, and the per-row bound
    sum_{K<k<=4K} |c_k| sqrt(E_k) rho^k + rho^(4K+2) sqrt(sum_{k>4K} c_k^2 sum_{k>4K} E_k)
    on the remainder (Cauchy-Schwarz: |E[f h_k(u.z)]| <= ||P_k f|| = sqrt(E_k)), rho^2 = p^2+q^2."""
    odd, C, w, rest = _xor_series(K)
    Pp = p[:, None] ** odd[None, :]
    Pq = q[:, None] ** odd[None, :]
    b = np.sum((Pp @ C) * Pq, axis=1)
    rho = np.sqrt(p ** 2 + q ** 2)
    ks = np.arange(K + 1, len(w))
    err = (rho[:, None] ** ks[None, :]) @ w[K + 1:] + rho ** (len(w) + 1) * rest
    return b, err


def feature_correlation(W, M, target: str, v=None, max_degree: int = 120):
    """b_i = E[f(z) relu(w_i . x)] for the rows of W (any norms), and a bound on its error.

    Mehler: with rho = |M^T w|, u = M^T w / rho, E[h_k(w.x) | z] = rho^k h_k(u.z), so
    b(w) = |w| sum_k c_k rho^k E[f(z) h_k(u.z)] (unit w in the sum). 'halfspace' sign(v.z):
    E[f h_k(u.z)] = a_k (u.v)^k, and only k = 1 survives: b = w.Mv / sqrt(2 pi) (exact, section
    2.2). 'relu' relu(v.z): the arc-cosine kernel k1(w, Mv) (exact). 'xor' sign(z1 z2):
    h_k(u1 z1 + u2 z2) = sum_{i+j=k} sqrt(k!/(i! j!)) u1^i u2^j h_i(z1) h_j(z2) gives the
    series of _xor_b, truncated at max_degree with an explicit bound. v: unit vector of R^r
    (default e_1). Returns (b, err), err[i] >= |b_i - exact|."""
    where = "feature_correlation"
    W = check_matrix("W", W, where, "(m, d)")
    M = check_orthonormal("M", M, where, d=W.shape[1])
    target = _target(target, where)
    K = _int("max_degree", max_degree, where, 2)
    nrm = np.linalg.norm(W, axis=1)
    if np.any(nrm == 0):
        raise ParameterError("W", where, "an array with nonzero rows", Described("a zero row"))
    Wn = W / nrm[:, None]
    r = M.shape[1]
    if target == "xor":
        if r < 2:
            raise ParameterError("M", where, "a (d, r) array with r >= 2 for 'xor'",
                                 Described(f"an array of shape {M.shape}"))
        P = Wn @ M[:, :2]
        b, err = _xor_b(P[:, 0], P[:, 1], K)
        return nrm * b, nrm * err
    v = np.eye(r)[0] if v is None else check_matrix("v", v, where, f"({r},)", ndim=1, cols=r)
    if abs(np.linalg.norm(v) - 1) > 1e-8:
        raise ParameterError("v", where, "a unit vector",
                             Described(f"norm {np.linalg.norm(v):.6g}"))
    u = M @ v
    if target == "halfspace":
        return nrm * (Wn @ u) / math.sqrt(2 * math.pi), np.zeros(len(W))
    return nrm * arccos_kernel(Wn, u[None, :])[:, 0], np.zeros(len(W))


# --- the population risk of the best head, every width at once (section 8.8) -------------------

def cholesky_risk_curve(G, B, total: float, jitter: float = 0.0):
    """R(m) = total - sum_{i<=m} |Y_i|^2, Y = L^{-1} B, G = L L^T, for m = 1..len(G).

    The Cholesky factor of a leading block of G is the leading block of L, and L_m y = B_m is
    the first m rows of the full solve, so b_m^T G_m^{-1} b_m = sum_{i<=m} y_i^2: one
    factorisation gives every width. B may have several columns (their contributions add: pass
    columns scaled by 1/sqrt(t) to average t targets). If the factorisation fails, a relative
    jitter 1e-12 * mean(diag G), then x10 up to 1e-6, is added and returned."""
    G = np.asarray(G, dtype=float)
    B = np.asarray(B, dtype=float).reshape(len(G), -1)
    scale = float(np.mean(np.diag(G)))
    tries = [jitter] + [scale * 10.0 ** e for e in range(-12, -5)]
    for jit in tries:
        try:
            L = cholesky(G + jit * np.eye(len(G)), lower=True, check_finite=False)
            break
        except LinAlgError:
            continue
    else:
        raise LinAlgError("cholesky_risk_curve: Gram not positive definite even with jitter 1e-6")
    Y = solve_triangular(L, B, lower=True, check_finite=False)
    return total - np.cumsum(np.sum(Y ** 2, axis=1)), jit, Y


def gram_min_eig_lower_bound(W, max_degree: int = 60) -> float:
    """A certified lower bound on lambda_min of the arc-cosine Gram of W (section 8.8):
    G = D (sum_k c_k^2 C^{o k}) D, C = cosines, D = diag|w_i|; Hadamard powers are PSD with unit
    diagonal, Gershgorin gives lambda_min(C^{o k}) >= 1 - max_i sum_{j!=i} |C_ij|^k, and Weyl
    adds the bounds: lambda_min >= min|w|^2 sum_k c_k^2 max(0, 1 - max_i sum_j |C_ij|^k)."""
    W = check_matrix("W", W, "gram_min_eig_lower_bound", "(m, d)")
    K = _int("max_degree", max_degree, "gram_min_eig_lower_bound", 1)
    nrm = np.linalg.norm(W, axis=1)
    Wn = W / nrm[:, None]
    A = np.abs(Wn @ Wn.T)
    np.fill_diagonal(A, 0.0)
    c = relu_hermite(K)
    lam, P = 0.0, np.ones_like(A)
    for k in range(1, K + 1):
        P *= A
        if c[k] != 0:
            lam += c[k] ** 2 * max(0.0, 1.0 - float(P.sum(1).max()))
    return float(lam * nrm.min() ** 2)


def rf_population_risk_curve(W, M, target: str, v=None, max_degree: int = 120,
                             average: bool = False, certify: bool = False) -> dict:
    """Population risk of the best linear head on the first m features relu(w_i . x), every m:
    R(m) = E f^2 - b_{1:m}^T G_{1:m}^{-1} b_{1:m} (section 8.8), G the arc-cosine Gram
    (population.arccos_kernel), b from feature_correlation, one Cholesky factorisation, float64.

    average=True ('halfspace' only): E_v over v ~ Unif(S^{r-1}), E_v b b^T = W M M^T W^T/(2 pi r)
    (sections 2.2, 2.5). certify=True adds risk_error_bound, a bound on |R(m) - computed| from the
    truncation of b: (e/sqrt(lam))(2 |y_{1:m}| + e/sqrt(lam)), e = |err_{1:m}|, lam from
    gram_min_eig_lower_bound (inf when that bound is 0)."""
    where = "rf_population_risk_curve"
    W = check_matrix("W", W, where, "(m, d)")
    M = check_orthonormal("M", M, where, d=W.shape[1])
    target = _target(target, where)
    total = 0.5 if target == "relu" else 1.0
    if average:
        if target != "halfspace":
            raise ParameterError("average", where, "False unless target='halfspace'", average)
        B = (W @ M) / math.sqrt(2 * math.pi * M.shape[1])
        err = np.zeros(len(W))
    else:
        B, err = feature_correlation(W, M, target, v, max_degree)
    risk, jit, Y = cholesky_risk_curve(arccos_kernel(W), B, total)
    out = {"risk": risk, "widths": np.arange(1, len(W) + 1), "jitter": jit, "total": total,
           "b_error": float(np.linalg.norm(err)), "risk_error_bound": None}
    if certify:
        lam = gram_min_eig_lower_bound(W)
        e = np.sqrt(np.cumsum(err ** 2))
        y = np.sqrt(np.cumsum(np.sum(Y ** 2, axis=1)))
        out["risk_error_bound"] = (e / math.sqrt(lam)) * (2 * y + e / math.sqrt(lam)) \
            if lam > 0 else np.full(len(W), math.inf)
        out["gram_min_eig_lower_bound"] = lam
    return out
