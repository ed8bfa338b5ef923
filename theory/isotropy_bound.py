"""Single-task isotropy (result (d)): docs/derivations.md section 7. The unconditional bound of
7.4 (free of d, m and n1) and its sympy form, the bound conditional on W0, the task and the head
(exact conditional variances by T6 of section 12), and the numpy one-step single-task simulation
with the per-run statistics that the steps of the proof bound (their slacks: theory/slacks.py).
Derived here for the reference model; none of it is the paper's theorem.

The conditional bound holds with the stated probability over the randomness that is not
conditioned on. numpy / sympy only (no torch). Seeds are explicit; nothing global is mutable.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import sympy as sp

from . import bounds as B
from . import symbols as S
from .relu_blocks import _ind, _k, _q_quadratic, s_blocks_frob2
from .tails import cantelli_dev

__all__ = ["ISO_SPLIT", "single_task_isotropy_tight", "single_task_isotropy_tight_expr",
           "single_task_isotropy_given_head", "single_task_sim", "single_task_sim_stats"]


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
