"""Hermite algebra (derived here): the Hermite coefficients of relu and sign, exactly and in
floating point, and which degrees bias-free ReLU features represent (docs/derivations.md section
8.2); the r-dimensional coefficient tensors of a target and their contraction inner products
<C^a T_k, C^b T_k'> (section 8.4).

Notation: h_k = He_k / sqrt(k!) (normalised probabilists' Hermite), P_k the projection of
L2(N(0, I_d)) on the degree-k chaos, E_k = ||P_k f||^2 (so E f^2 = sum_k E_k), relu = sum_k c_k h_k,
sign = sum_k a_k h_k. Bias-free ReLU features represent the degrees with c_k != 0: 0, 1 and the
even degrees (relu(t) = t/2 + |t|/2, so c_k = 0 for odd k >= 3). No torch here (docs/design.md).
"""
from __future__ import annotations

import math
from functools import lru_cache
from itertools import combinations_with_replacement

import mpmath as mp
import numpy as np
import sympy as sp

from .params import ParameterError

__all__ = ["relu_hermite_exact", "sign_hermite_exact", "relu_hermite", "sign_hermite",
           "representable"]


# --- validation helper (names not in theory.params.PARAMS; same message template) ----------

def _int(name, value, where, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ParameterError(name, where, f"an int >= {low}", value)
    return int(value)


# --- 1-D Hermite coefficients (section 8.2) -------------------------------------------------

def relu_hermite_exact(k: int) -> sp.Expr:
    """c_k = E[relu(t) h_k(t)], exact: c_0 = 1/sqrt(2 pi), c_1 = 1/2, c_k = 0 for odd k >= 3,
    c_k = (-1)^(k/2 - 1) (k-3)!! / sqrt(2 pi k!) for even k >= 2.

    From He_k phi = (-1)^k phi^(k) and two integrations by parts on (0, oo):
    E[relu He_k] = He_{k-2}(0) phi(0), He_{2n}(0) = (-1)^n (2n-1)!! (section 8.2)."""
    k = _int("max_degree", k, "relu_hermite_exact", 0)
    if k == 0:
        return 1 / sp.sqrt(2 * sp.pi)
    if k == 1:
        return sp.Rational(1, 2)
    if k % 2:
        return sp.Integer(0)
    return (-1) ** (k // 2 - 1) * sp.factorial2(k - 3) / sp.sqrt(2 * sp.pi * sp.factorial(k))


def sign_hermite_exact(k: int) -> sp.Expr:
    """a_k = E[sign(t) h_k(t)], exact: 0 for even k; for odd k
    a_k = sqrt(2/pi) (-1)^((k-1)/2) (k-2)!! / sqrt(k!)  ((-1)!! = 1), from
    int_0^oo He_k phi = He_{k-1}(0) phi(0) (section 8.2)."""
    k = _int("max_degree", k, "sign_hermite_exact", 0)
    if k % 2 == 0:
        return sp.Integer(0)
    return sp.sqrt(2 / sp.pi) * (-1) ** ((k - 1) // 2) * sp.factorial2(k - 2) \
        / sp.sqrt(sp.factorial(k))


@lru_cache(maxsize=None)
def _coeffs(kind: str, kmax: int) -> tuple:
    """c_k or a_k for k <= kmax in mpmath (30 digits), from the exact forms."""
    fn = relu_hermite_exact if kind == "relu" else sign_hermite_exact
    with mp.workdps(30):
        return tuple(mp.mpf(sp.N(fn(k), 30)) for k in range(kmax + 1))


def relu_hermite(max_degree: int) -> np.ndarray:
    """(c_0, ..., c_K) as float64 (relu_hermite_exact)."""
    K = _int("max_degree", max_degree, "relu_hermite", 0)
    return np.array([float(c) for c in _coeffs("relu", K)])


def sign_hermite(max_degree: int) -> np.ndarray:
    """(a_0, ..., a_K) as float64 (sign_hermite_exact)."""
    K = _int("max_degree", max_degree, "sign_hermite", 0)
    return np.array([float(c) for c in _coeffs("sign", K)])


def representable(k: int) -> bool:
    """True iff c_k != 0, i.e. k in {0, 1} or k even: the degrees whose chaos the span of
    bias-free relu(w . x) reaches (section 8.2)."""
    k = _int("k", k, "representable", 0)
    return k <= 1 or k % 2 == 0


@lru_cache(maxsize=None)
def _tails(kind: str, K: int) -> float:
    """sum_{k > K} c_k^2 = 1/2 - sum_{k<=K} c_k^2 (relu), or 1 - sum a_k^2 (sign), mpmath."""
    with mp.workdps(30):
        cs = _coeffs(kind, K)
        total = mp.mpf(1) / 2 if kind == "relu" else mp.mpf(1)
        return float(total - mp.fsum(c ** 2 for c in cs))


# --- coefficient tensors in r dimensions and their contractions (section 8.4) -----------------

@lru_cache(maxsize=None)
def _alphas(r: int, k: int) -> tuple:
    """Multi-indices alpha in N^r with |alpha| = k, in a fixed order."""
    out = []
    for combo in combinations_with_replacement(range(r), k):
        a = [0] * r
        for i in combo:
            a[i] += 1
        out.append(tuple(a))
    return tuple(out)


def _lfact(a) -> float:
    return float(sum(math.lgamma(x + 1) for x in a))


@lru_cache(maxsize=None)
def _contraction_map(r: int, k: int, n: int):
    """(L, w): L f = C^s T_k in Sym^n(R^r) coordinates (s = (k - n)/2), w the norm weights.

    T_k[alpha] = f_alpha sqrt(alpha!/k!) for f_alpha = E[f h_alpha] (so ||T_k||^2 = E_k; the
    tensor of h_k(w.x) is w^{(x)k}); (C^s T)[beta] = sum_{|gamma|=s} (s!/gamma!) T[beta + 2 gamma];
    <X, Y> = sum_beta (n!/beta!) X[beta] Y[beta] on Sym^n. Read-only (cached)."""
    s = (k - n) // 2
    al = _alphas(r, k)
    pos = {a: i for i, a in enumerate(al)}
    be = _alphas(r, n)
    L = np.zeros((len(be), len(al)))
    for ib, b in enumerate(be):
        for g in _alphas(r, s):
            a = tuple(bi + 2 * gi for bi, gi in zip(b, g))
            L[ib, pos[a]] += math.exp(math.lgamma(s + 1) - _lfact(g)
                                      + 0.5 * (_lfact(a) - math.lgamma(k + 1)))
    w = np.array([math.exp(math.lgamma(n + 1) - _lfact(b)) for b in be])
    L.setflags(write=False)
    w.setflags(write=False)
    return L, w


def _cross_keys(K: int):
    """(k, k2, n): k <= k2 <= K, k = k2 = n mod 2, n <= k."""
    return [(k, k2, n) for k2 in range(K + 1) for k in range(k2 % 2, k2 + 1, 2)
            for n in range(k % 2, k + 1, 2)]


def _cross_exact(tables: dict, r: int, K: int) -> dict:
    """<C^{(k-n)/2} T_k, C^{(k2-n)/2} T_k2> for every key, from exact coefficient tables."""
    V = {(k, n): _contraction_map(r, k, n)[0] @ tables[k] for k in range(K + 1)
         for n in range(k % 2, k + 1, 2)}
    return {(k, k2, n): float(V[k, n] @ (_contraction_map(r, k, n)[1] * V[k2, n]))
            for k, k2, n in _cross_keys(K)}
