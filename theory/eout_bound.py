"""A high-probability upper bound on E_out (result (b)): docs/derivations.md section 9. The tails
of the draws of W0 and the tasks (9.3); the lower bound on the head alignment kappa (9.4, 9.4b:
``kappa_lb_tight``, and ``kappa_lb_given_w0v`` conditional on W0 and the tasks); the bound
``e_out_hp_bound_tight`` (9.5) with its optimised split of delta, the fourth-moment tails of its
four squared norms (9.9: ``out_span_fourth``, ``in_span_fourth``, ``head_noise_fourth``) and
its sympy form; the bound conditional on W0, the tasks and the heads (9.5); and the per-run
statistics of a pretraining run that the steps of the proofs bound (their slacks:
theory/slacks.py). Tools: theory/tails.py and theory/relu_blocks.py (section 12). Derived here
for the reference model; none of it is the paper's theorem.

Conditional bounds (``*_given_*``) hold with the stated probability over the randomness that is
not conditioned on; they use quantities the audit computes from a run (W0, the heads, the tasks,
the Gram of W), and say which. numpy / scipy / sympy only (no torch); nothing global is mutable.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import sympy as sp

from . import bounds as B
from . import symbols as S
from .population import arccos_kernel
from .relu_blocks import _ind, _k, gram_lmax_bound, gram_sq_trace_bound, q_blocks_frob2
from .tails import (bernstein_dev, beta_sum_lower, cantelli_dev, chernoff_eps_fast,
                    circle_sum_dev, fourth_moment_dev, matrix_bernstein_dev, nonneg_lower_dev,
                    sqnorm_fourth_moment)

__all__ = ["HP_TIGHT_WEIGHTS", "KAPPA_KEYS", "kappa_lb_tight", "kappa_lb_given_w0v",
           "e_out_hp_bound_tight", "e_out_hp_bound_tight_expr", "e_out_hp_bound_given_s1",
           "e_out_sim_stats", "subgaussian_dev", "e_out_hp_bernstein_floor",
           "e_out_hp_talagrand_floor", "out_span_fourth", "in_span_fourth", "head_noise_fourth",
           "relu_norm_moments"]


#: the events of section 9 and the default share of delta each gets (sympy form and fallback);
#: the numeric bound optimises the shares for its parameters (any fixed split is valid)
HP_TIGHT_WEIGHTS = {"out": 0.55, "in": 0.05, "head_VT": 0.08, "head_norm": 0.08,
                    "V_min": 0.08, "V_max": 0.04, "G_low": 0.08, "S_max": 0.04}


# --- the draws of W0 and the tasks (section 9.3) -------------------------------------------

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


# --- the head alignment kappa (9.4, 9.4b) and the bound (9.5) -----------------------------

def subgaussian_dev(var: float, delta: float) -> float:
    """sqrt(2 var log(1/delta)): the variance term of every Bernstein deviation at level delta
    (scalar, Boucheron-Lugosi-Massart Thm 2.10: sqrt(2 v l) + c l; matrix, Tropp 2012 Thm 6.2:
    sqrt(2 v l') + R l', l' = l + log dim), with the scale c = R = 0. Not a tail bound: the route
    floor of docs/derivations.md 9.7 (Bernstein in place of Cantelli, variance bounds kept)."""
    return math.sqrt(2.0 * max(var, 0.0) * math.log(1.0 / delta))


def talagrand_dev(mean: float, weak: float, delta: float) -> float:
    """(sqrt(mean) + sqrt(2 weak l))^2 - mean, l = log(1/delta): the deviation of a squared norm
    |S|^2 (E|S|^2 = mean) that Talagrand's inequality in Bousquet's form, P(|S| >= E|S| +
    sqrt(2 l (weak + 2 b E|S|)) + b l/3) <= e^-l, gives with E|S| <= sqrt(E|S|^2), the weak
    variance ``weak`` = sup_|u|=1 sum_k E(u . xi_k)^2 and the summands' bound b = 0 (b >= 0 only
    adds). Not a tail bound (the summands here are unbounded): the route floor of
    docs/derivations.md 9.8."""
    return 2.0 * math.sqrt(2.0 * max(mean * weak, 0.0) * math.log(1.0 / delta)) + \
        2.0 * max(weak, 0.0) * math.log(1.0 / delta)


# --- the fourth-moment tails of the four squared norms (section 9.9, tool T12) ------------

def _chi_moment(k: int, q: int) -> float:
    """E|g|^(2q) for g ~ N(0, I_k): k (k + 2) ... (k + 2q - 2)."""
    return math.prod(k + 2 * i for i in range(q))


@lru_cache(maxsize=None)
def out_span_fourth(d: int, r: int, n2: int) -> dict:
    """T12 for |Y P|^2 (9.9a), relative to its mean n2 |H|^2 (d - r)/2 (scale-free: every sum
    over the summands xi = y (a_t o D)(P x)^T is at most its value with all of |H|^2 on one task).
    Per summand (|a| = 1, k = d - r): ||C|| <= 1/2 (T5), tr C = k/2 exactly; the gates halve the
    even moments, E[(sum_i a_i^2 D_i)^q f(x)] <= |a|^(2q) E f / 2 for f >= 0 even in x, so
    E|xi|^4 <= k (k + 2)/2, E(u.xi)^4 <= 3 |u|^4 / 2, E|xi|^8 <= k (k+2)(k+4)(k+6)/2; with the exact
    mean, Var|xi|^2 <= E|xi|^4 - (k/2)^2 and E(|xi|^2 - k/2)^4 <= E|xi|^8 + 2 (k/2)^2 E|xi|^4 -
    3 (k/2)^4 (T12); ||sum C|| <= n2/2, sum_{k != l} tr(C_k C_l) <= (n2/2) mu. Returns E4 (of
    Z/mu) and var (of Z/mu)."""
    k = d - r
    mu = n2 * k / 2.0
    q4, q8 = _chi_moment(k, 2) / 2.0, _chi_moment(k, 4) / 2.0
    t = k / 2.0                      # E|xi|^2 = |a|^2 (d - r)/2 exactly (ind_sq = 1/2)
    res = sqnorm_fourth_moment(n2, 0.5, t, q4, 1.5, q8 + 2.0 * t * t * q4 - 3.0 * t ** 4,
                               q4 - t * t, n2 / 2.0, n2 / 2.0 * mu)
    return {"E4": res["E4"] / mu ** 4, "var": res["var"] / mu ** 2, "parts": res["parts"]}


@lru_cache(maxsize=None)
def in_span_fourth(r: int, n2: int, fk: float) -> dict:
    """T12 for |N|^2 (9.9b), relative to its mean n2 |H|^2 c_r: the centred summands
    zeta = y (a_t o D)(M^T x)^T - f k a_t v_t^T (|a| = 1): ||C|| <= 1/2, tr C = c_r exactly,
    and by Minkowski with the halved even moments of 9.9a: ||zeta||_4 <= (r (r + 2)/2)^(1/4) + f k,
    ||u.zeta||_4 <= ((3/2)^(1/4) + f k)|u|, ||zeta||_8 <= (r (r+2)(r+4)(r+6)/2)^(1/8) + f k;
    Var|zeta|^2 <= m4 - c_r^2."""
    c_r = r * _ind() - fk * fk
    mu = n2 * c_r
    m4 = ((r * (r + 2) / 2.0) ** 0.25 + fk) ** 4
    m8 = ((_chi_moment(r, 4) / 2.0) ** 0.125 + fk) ** 8
    res = sqnorm_fourth_moment(n2, 0.5, c_r, m4, (1.5 ** 0.25 + fk) ** 4,
                               m8 + 2 * c_r * c_r * m4 - 3 * c_r ** 4, m4 - c_r * c_r,
                               n2 / 2.0, n2 / 2.0 * mu)
    return {"E4": res["E4"] / mu ** 4, "var": res["var"] / mu ** 2, "parts": res["parts"]}


#: the fraction of the S_max share of delta that the fourth-moment route spends on the two sums
#: of W0 (9.9d); lambda_max(W0^T W0) <= Lam_S gets the rest (the Cantelli-only bound: all of it)
W0_SUMS_SHARE = 0.5


@lru_cache(maxsize=None)
def _w0_sums_fourth(d: int, m: int) -> tuple:
    """T12's bounds on E(S1 - m)^4 and E(S2 - E S2)^4 for :func:`w0_sums_upper` (free of delta,
    so remembered per (d, m): the split optimiser asks at every step)."""
    r1 = sqnorm_fourth_moment(m, 1.0 / d, 1.0, 1.0, 3.0 / (d * (d + 2)), 0.0, 0.0, m / d,
                              m * (m - 1) / d)
    c2 = 2.0 / (d * (d + 2))
    t2 = 1.0 - 1.0 / d
    r2 = sqnorm_fourth_moment(m, c2, t2, t2 * t2, (1 + 1 / math.sqrt(d)) ** 2 * c2, 0.0, 0.0,
                              m * c2, m * (m - 1) * (d * (d + 1) / 2.0 - 1) * c2 * c2)
    return r1["E4"], r2["E4"]


def w0_sums_upper(d: int, m: int, delta: float) -> tuple:
    """(S1_hi, S2_hi): with probability >= 1 - delta over m i.i.d. uniform unit rows w_i of R^d,
    S1 = |sum_i w_i|^2 <= S1_hi and S2 = |W0^T W0|_F^2 = sum_ij (w_i.w_j)^2 <= S2_hi, each by T12
    at delta/2 (9.9d). S1: xi = w, ||C|| = 1/d, tr C = 1, E|xi|^4 = 1, E(u.w)^4 = 3|u|^4/(d (d+2)),
    |xi| constant. S2 = m^2/d + |S'|^2, S' = sum_i (w_i w_i^T - I/d): ||C|| = 2/(d (d+2)) (the
    variance of w^T U w is 2 (tr U^2 - (tr U)^2/d)/(d (d+2))), tr C = 1 - 1/d = |xi|^2 (constant),
    tr C^2 = (d (d+1)/2 - 1) (2/(d (d+2)))^2, |u.xi| <= 1 + 1/sqrt(d)."""
    if d < 2 or m < 1:
        return float(m * m), float(m * m)
    E4_1, E4_2 = _w0_sums_fourth(d, m)
    S1 = m + fourth_moment_dev(E4_1, delta / 2)
    S2 = m * m / d + m * (1.0 - 1.0 / d) + fourth_moment_dev(E4_2, delta / 2)
    return min(S1, float(m * m)), min(S2, float(m * m))


def gram_sq_trace_from_sums(m: int, S1: float, S2: float) -> float:
    """tr(Gram^2) <= sum_ij (a0 + a1 rho_ij + g1 rho_ij^2)^2 <= m^2 a0^2 + 2 a0 a1 S1 +
    (a1^2 + 2 a0 g1 + 2 a1 g1 + g1^2) S2 (9.9d): the arc-cosine kernel is k(rho) = a0 + a1 rho +
    g(rho), a0 = 1/(2 pi), a1 = 1/4, g(rho) = (sqrt(1 - rho^2) + rho arcsin rho - 1)/(2 pi) a
    series of even powers >= 2 with nonnegative coefficients (T7b), so 0 <= g(rho) <= g1 rho^2,
    g1 = g(1) = 1/4 - 1/(2 pi); and sum rho^3 <= sum rho^4 ... <= sum rho^2 = S2 (|rho| <= 1)."""
    a0, a1 = 1 / (2 * math.pi), 0.25
    g1 = 0.25 - 1 / (2 * math.pi)
    return m * m * a0 * a0 + 2 * a0 * a1 * S1 + (a1 * a1 + 2 * a0 * g1 + 2 * a1 * g1 + g1 * g1) * S2


def relu_norm_moments(m: int, Lam_S: float, S2: float = math.inf) -> tuple:
    """Upper bounds on E|relu(W0 x)|^4 and E|relu(W0 x)|^8 for unit rows with
    lambda_max(W0^T W0) <= Lam_S and |W0^T W0|_F^2 <= S2 (9.9c): relu(w.x)^2 <= (w.x)^2 and
    x -> -x give 2 E prod_i relu(w_i.x)^2 <= E prod_i (w_i.x)^2, so E|relu(W0 x)|^(2q) <=
    E(x^T A x)^q / 2, A = W0^T W0 (tr A = m, tr A^2 <= min(S2, m Lam_S), tr A^j <= Lam_S^(j-2)
    tr A^2), with the Gaussian quadratic-form moments E(x^T A x)^2 = (tr A)^2 + 2 tr A^2 and
    E(x^T A x)^4 = (tr A)^4 + 12 (tr A)^2 tr A^2 + 32 tr A tr A^3 + 12 (tr A^2)^2 + 48 tr A^4;
    and the power-mean bounds 3 m^2/2 and 105 m^4/2."""
    L = min(Lam_S, m)
    t1 = m
    t2 = min(m * L, S2)
    t3, t4 = L * t2, L * L * t2
    q2 = (t1 * t1 + 2 * t2) / 2.0
    q4 = (t1 ** 4 + 12 * t1 * t1 * t2 + 32 * t1 * t3 + 12 * t2 * t2 + 48 * t4) / 2.0
    return min(q2, 1.5 * m * m), min(q4, 52.5 * m ** 4)


def _head_noise_unit(m, n1, fk, Lam_G, Lam_S=math.inf, S2=math.inf):
    """Per-summand constants of the head noise zeta/n1 (9.9c): ||C|| <= Lam_G/n1^2 (T7),
    tr C <= m/(2 n1^2), E|zeta|^4 <= z4 and E|zeta|^8 <= z8 by Minkowski from
    ``relu_norm_moments`` and |A_t| = f k |W0 M v_t| <= f k sqrt(min(Lam_S, m)),
    E(u.zeta)^4 <= z4 |u|^4."""
    r4, r8 = relu_norm_moments(m, Lam_S, S2)
    a_t = fk * math.sqrt(min(Lam_S, m))             # |A_t| = f k |W0 M v_t| <= f k sqrt(Lam_S)
    z4 = (r4 ** 0.25 + a_t) ** 4
    z8 = (r8 ** 0.125 + a_t) ** 8
    tau1 = m / 2.0
    return dict(c=Lam_G / n1 ** 2, tau=tau1 / n1 ** 2, m4=z4 / n1 ** 4, w=z4 / n1 ** 4,
                d4=(z8 + 2.0 * tau1 ** 2 * z4) / n1 ** 8, s2=z4 / n1 ** 4)


def head_noise_fourth(m, n1, T, r, fk, Lam_G, tau_gram, Lam_S=math.inf, S2=math.inf) -> dict:
    """T12 for the head noise (9.9c). |E Q|^2: r n1 summands' worth (every sum over
    zeta_tj q_t^T/n1 is at most r n1 times its per-unit value: each is a power >= 2 of |q_t| <= 1
    and sum_t |q_t|^2 = r), ||sum C|| <= Lam_G/n1, sum tr(C_k C_l) <= min(r tau, Lam_G m r/2)/n1^2.
    |E|^2 = sum_t |e_t|^2, independent over tasks: T12 per task (n1 summands, ||sum C|| <=
    Lam_G/n1, sum tr(C_k C_l) <= min(tau, Lam_G m/2)/n1^2), then E(sum_t Z_t)^4 <= T B4 +
    3 T (T - 1) V^2. Returns E4_Q, E4_E (absolute, not relative)."""
    u = _head_noise_unit(m, n1, fk, Lam_G, Lam_S, S2)
    L = Lam_G / n1
    q = sqnorm_fourth_moment(r * n1, L=L, F2=min(r * tau_gram, Lam_G * m * r / 2.0) / n1 ** 2,
                             **u)
    t = sqnorm_fourth_moment(n1, L=L, F2=min(tau_gram, Lam_G * m / 2.0) / n1 ** 2, **u)
    E4_E = T * t["E4"] + 3.0 * T * (T - 1) * t["var"] ** 2
    return {"E4_Q": q["E4"], "E4_E": E4_E, "var_Q": q["var"], "var_E": T * t["var"]}


def _smaller(cantelli: float, fourth: float) -> tuple:
    """The smaller of two valid deviations at the same share of delta, and its name."""
    return (fourth, "fourth moment (T12)") if fourth < cantelli else (cantelli, "Cantelli")


def _kappa_pieces(d, r, T, n1, m, deltas, p, chernoff=True, dev=cantelli_dev, talagrand=False,
                  fourth=True):
    """kappa_lb of section 9.4 and its ingredients, for the failure probabilities ``deltas``
    (keys V_min, V_max, G_low, S_max, head_VT, head_norm). ``dev(var, delta)`` is the deviation of
    the head-noise steps: Cantelli (the bound) or ``subgaussian_dev`` (the floor of 9.7 only).
    With Cantelli (the bound) |E Q|^2 and |E|^2 take the fourth-moment tail of 9.9 where it is
    smaller. ``talagrand`` (the floor of 9.8 only): they take ``talagrand_dev`` with the weak
    variance Lam_G / n1 where it is smaller than both valid tails."""
    f = 1.0 - 2.0 * p
    fk = f * _k()
    lam_lo = _v_min(T, r, deltas["V_min"], chernoff)
    lam_hi = _v_max(T, r, deltas["V_max"], chernoff)
    Q_lo = _g_low(d, r, m, deltas["G_low"])
    use4 = fourth and (dev is cantelli_dev or talagrand)
    # 9.9d: the fourth-moment route spends W0_SUMS_SHARE of the S_max share on two sums of W0
    d_lam_s = deltas["S_max"] * ((1.0 - W0_SUMS_SHARE) if use4 else 1.0)
    Lam_S = _s_max(d, m, d_lam_s, chernoff)
    Lam_G = gram_lmax_bound(Lam_S, m)
    beta2 = (m * m * ((1.5) ** 0.25 + fk) ** 4 + m * n1 * Lam_G) / n1 ** 3
    U1 = T * m / (2 * n1) + dev(T * beta2 + Lam_G * m * max(lam_hi - 1, 0.0) * T / n1 ** 2,
                                          deltas["head_VT"])
    cd = dev(1.0, deltas["head_norm"])                      # sqrt((1 - d)/d) for Cantelli
    a = fk * math.sqrt(lam_lo * Q_lo)                       # |A| >= a
    num_amp = math.sqrt(lam_lo) * a - math.sqrt(U1)
    den = a * a * (1 - 1 / n1) + T * m / (2 * n1) + cd * (2 * math.sqrt(Lam_G / n1) * a
                                                          + math.sqrt(T * beta2))
    kappa_tri = max(num_amp, 0.0) ** 2 / den if den > 0 else 0.0
    # the projection form (section 9.4b): kappa >= lam_min X / (X + Y), X = |A + E Q Q^T|^2 >=
    # (|A| - |E Q|)_+^2, Y = |E (I - Q Q^T)|^2 <= |E|^2, Q an orthonormal basis of col(V)
    tau = gram_sq_trace_bound(Lam_S, m)
    z4 = m * m * ((1.5) ** 0.25 + fk) ** 4                  # >= E|zeta|^4 (9.4)
    mu_Q, var_Q = m * r / (2 * n1), r * z4 / n1 ** 3 + 2 * r * tau / n1 ** 2
    mu_E, var_E = (T * m / 2 - a * a) / n1, T * z4 / n1 ** 3 + 2 * T * tau / n1 ** 2
    U_Q = mu_Q + dev(var_Q, deltas["head_VT"])
    U_E = mu_E + dev(var_E, deltas["head_norm"])
    tail_Q = tail_E = "Cantelli" if dev is cantelli_dev else "floor"
    S1_hi = S2_hi = math.nan
    tau4 = tau
    if use4:
        # the valid tails: Cantelli, or the fourth-moment tail of 9.9 (T12) where it is smaller;
        # T12 takes tr(Gram^2) and the moments of relu(W0 x) through the sums of W0 (9.9d)
        S1_hi, S2_hi = w0_sums_upper(d, m, deltas["S_max"] * W0_SUMS_SHARE)
        S1_hi, S2_hi = min(S1_hi, m * Lam_S), min(S2_hi, m * Lam_S)
        tau4 = min(tau, gram_sq_trace_from_sums(m, S1_hi, S2_hi))
        h4 = head_noise_fourth(m, n1, T, r, fk, Lam_G, tau4, Lam_S, S2_hi)
        vQ, tail_Q = _smaller(cantelli_dev(var_Q, deltas["head_VT"]),
                              fourth_moment_dev(h4["E4_Q"], deltas["head_VT"]))
        vE, tail_E = _smaller(cantelli_dev(var_E, deltas["head_norm"]),
                              fourth_moment_dev(h4["E4_E"], deltas["head_norm"]))
        if talagrand:   # 9.8: weak variance <= Lam_G / n1; a valid tail where it is smaller
            vQ = min(vQ, talagrand_dev(mu_Q, Lam_G / n1, deltas["head_VT"]))
            vE = min(vE, talagrand_dev(mu_E, Lam_G / n1, deltas["head_norm"]))
            tail_Q = tail_E = "floor"
        U_Q, U_E = mu_Q + vQ, mu_E + vE
    X = max(a - math.sqrt(U_Q), 0.0) ** 2
    kappa_proj = lam_lo * X / (X + U_E) if X > 0 else 0.0
    form = "projection" if kappa_proj >= kappa_tri else "triangle"
    return {"lam_lo": lam_lo, "lam_hi": lam_hi, "Q_lo": Q_lo, "Lam_S": Lam_S, "Lam_G": Lam_G,
            "beta2": beta2, "U1": U1, "A_lo": a, "kappa_lb": max(kappa_tri, kappa_proj),
            "num_amp": num_amp if form == "triangle" else a - math.sqrt(U_Q),
            "cd_head": cd, "fk": fk, "form": form, "kappa_triangle": kappa_tri,
            "kappa_projection": kappa_proj, "tau": tau, "U_Q": U_Q, "U_E": U_E, "X_lo": X,
            "tail_Q": tail_Q, "tail_E": tail_E, "tau4": tau4, "S1_hi": S1_hi, "S2_hi": S2_hi,
            "d_Lam_S": d_lam_s, "use4": use4}


def _hp_pieces(d, r, T, n1, n2, m, deltas, p, chernoff=True, dev=cantelli_dev, talagrand=False,
               fourth=True):
    info = _kappa_pieces(d, r, T, n1, m, deltas, p, chernoff, dev, talagrand, fourth)
    fk = info["fk"]
    c_r = r * _ind() - fk * fk
    kappa = info["kappa_lb"]
    vO = 2.0 / (d - r) + 4.0 * (d - r + 2) / ((d - r) * n2) if d > r else 0.0
    sO = dev(vO, deltas["out"])
    vI = 1.0 / c_r + ((r * (r + 2)) ** 0.25 + fk) ** 4 / (n2 * c_r * c_r)
    sI = dev(vI, deltas["in"])
    tail_out = tail_in = "Cantelli" if dev is cantelli_dev else "floor"
    if info["use4"]:
        # the valid tails: Cantelli, or the fourth-moment tail of 9.9 (T12) where it is smaller
        sO, tail_out = _smaller(cantelli_dev(vO, deltas["out"]),
                                fourth_moment_dev(out_span_fourth(d, r, n2)["E4"], deltas["out"])
                                if d > r else math.inf)
        sI, tail_in = _smaller(cantelli_dev(vI, deltas["in"]),
                               fourth_moment_dev(in_span_fourth(r, n2, fk)["E4"], deltas["in"]))
        if talagrand:   # 9.8: relative weak variances 1/(d - r) and 1/(2 c_r) (T5)
            if d > r:
                sO = min(sO, talagrand_dev(1.0, 1.0 / (d - r), deltas["out"]))
            sI = min(sI, talagrand_dev(1.0, 1.0 / (2.0 * c_r), deltas["in"]))
            tail_out = tail_in = "floor"
    amp = math.sqrt(n2) * fk * math.sqrt(kappa) - math.sqrt(c_r * (1 + sI))
    Iv = max(amp, 0.0) ** 2
    N = (d - r) * (1 + sO) * _ind()
    bound = 1.0 / (1.0 + Iv / N) if N > 0 else 0.0
    info.update({"s_out": sO, "s_in": sI, "v_out": vO, "v_in": vI, "I": Iv, "N": N,
                 "c_r": c_r, "I_amp": amp, "tail_out": tail_out, "tail_in": tail_in})
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


def _split_value(d, r, T, n1, n2, m, delta, p, dev=cantelli_dev, talagrand=False, fourth=True):
    """The objective over shares of delta that :func:`_optimise_weights` minimises: log(bound);
    where the bound is vacuous, the head-alignment numerator, then kappa_lb, then I, maximised."""

    def value(w):
        b, inf = _hp_pieces(d, r, T, n1, n2, m, _split(w, delta), p, dev=dev,
                            talagrand=talagrand, fourth=fourth)
        if inf["I"] > 0:
            return math.log(max(b, 1e-300))
        if inf["kappa_lb"] > 0:
            return 10.0 - inf["I_amp"] / (1 + abs(inf["I_amp"]))
        return 20.0 - inf["num_amp"] / (1 + abs(inf["num_amp"]))

    return value


def _optimise_weights(d, r, T, n1, n2, m, delta, p, dev=cantelli_dev, talagrand=False,
                      fourth=True):
    """Shares of delta for :func:`e_out_hp_bound_tight` (or a route floor): Nelder-Mead on
    :func:`_split_value` from HP_TIGHT_WEIGHTS."""
    return _optimise_shares(list(HP_TIGHT_WEIGHTS), HP_TIGHT_WEIGHTS,
                            _split_value(d, r, T, n1, n2, m, delta, p, dev, talagrand, fourth))


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
             "proof": info["Lam_S"], "delta": info.get("d_Lam_S", deltas["S_max"]),
             "sim": "lmax_S"}
    kappa = {"name": "head alignment kappa >= kappa_lb", "kind": "lower", "proof": info["kappa_lb"],
             "delta": sum(deltas[k] for k in KAPPA_KEYS), "sim": "kappa"}
    if info.get("form") == "projection":
        return [lam_lo, q_lo, lam_s,
                {"name": "9.9d: tr(Gram^2) <= tau (T12 tails of |sum w_i|^2, |W0^T W0|_F^2)"
                         if info["tau4"] < info["tau"] else
                         "T7b: tr(Gram^2) <= tau (deterministic given Lam_S)", "kind": "upper",
                 "proof": info["tau4"], "delta": deltas["S_max"], "sim": "tr_gram2"},
                {"name": f"{info.get('tail_Q', 'Cantelli')}: |E Q|^2 <= U_Q (head noise in the "
                         "span of V)", "kind": "upper",
                 "proof": info["U_Q"], "delta": deltas["head_VT"], "sim": "EQ2"},
                {"name": f"{info.get('tail_E', 'Cantelli')}: |E|^2 <= U_E (all head noise)",
                 "kind": "upper",
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
                         p: float = 0.0, weights: dict | None = None, parts: bool = False,
                         fourth: bool = True):
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
    with tr(Gram^2) <= tau (T7b). At each of the four squared norms (s_out, s_in, U_Q, U_E) the
    fourth-moment tail of section 9.9 (T12: (E Z^4/d_k)^(1/4)) replaces Cantelli's deviation
    where it is smaller (both hold at the same share d_k; ``info["tail_*"]`` says which);
    ``fourth=False`` gives the Cantelli-only bound of 9.5 (the sympy form's numeric twin).
    The eight failure probabilities add to delta (the projection form leaves the V_max share
    unused); their split is ``weights`` (default: optimised for the parameters)."""
    if p >= 0.5:
        return (1.0, {}) if parts else 1.0
    w = weights if weights is not None else _optimise_weights(d, r, T, n1, n2, m, delta, p,
                                                              fourth=fourth)
    deltas = _split(w, delta)
    bound, info = _hp_pieces(d, r, T, n1, n2, m, deltas, p, fourth=fourth)
    if not parts:
        return bound
    steps = _kappa_steps(info, deltas) + [
        {"name": f"{info['tail_out']}: |Y P|^2 <= n2 |H|^2 (d-r)/2 (1 + s_out)", "kind": "upper",
         "proof": 1 + info["s_out"], "delta": deltas["out"], "sim": "R_out"},
        {"name": f"{info['tail_in']}: |N|^2 <= n2 |H|^2 c_r (1 + s_in)", "kind": "upper",
         "proof": 1 + info["s_in"], "delta": deltas["in"], "sim": "R_in"},
        {"name": "E_out high-probability bound (b)", "kind": "upper", "proof": bound,
         "delta": delta, "sim": "E_out"},
    ]
    info.update(steps=steps, deltas=deltas, weights=w)
    return bound, info


def e_out_hp_bernstein_floor(d: int, r: int, T: int, n1: int, n2: int, m: int, delta: float,
                             p: float = 0.0) -> dict:
    """Route floor of docs/derivations.md 9.7 (a measurement, not a bound): the bound (b) of 9.5
    with every Cantelli deviation sqrt(var (1-d_k)/d_k) of 9.1, 9.2 and 9.4/9.4b replaced by
    ``subgaussian_dev`` sqrt(2 var log(1/d_k)), the variance term of a moment-condition Bernstein
    inequality (scalar or matrix) with the same variance bounds and scale c = 0, the tails of W0
    and V (9.3) unchanged, the split re-optimised. Any Bernstein replacement keeping those variance
    bounds pays sqrt(2 v l) + c l >= this deviation at each step, and (b) is monotone in each, so
    it is at least ``bound``. Returns bound, kappa_lb, s_out, s_in and the split."""
    if p >= 0.5:
        return {"bound": 1.0}
    w = _optimise_weights(d, r, T, n1, n2, m, delta, p, dev=subgaussian_dev)
    deltas = _split(w, delta)
    b, info = _hp_pieces(d, r, T, n1, n2, m, deltas, p, dev=subgaussian_dev)
    return {"bound": b, "kappa_lb": info["kappa_lb"], "s_out": info["s_out"],
            "s_in": info["s_in"], "U_Q": info["U_Q"], "U_E": info["U_E"], "deltas": deltas}


def e_out_hp_talagrand_floor(d: int, r: int, T: int, n1: int, n2: int, m: int, delta: float,
                             p: float = 0.0, starts: int = 4,
                             bound_weights: dict | None = None) -> dict:
    """Route floor of docs/derivations.md 9.8 (a measurement, not a bound): the bound (b) with the
    four squared norms |Y P|^2, |N|^2 (9.1, 9.2), |E Q|^2 and |E|^2 (9.4b) bounded through
    Talagrand's inequality for the norm of a sum (Bousquet's form), ``talagrand_dev`` with
    E|S| <= sqrt(E|S|^2), the weak variances the derivation has (T5: 1/(d - r) and 1/(2 c_r) of
    the mean out of and in span; T7: Lam_G / n1 for the head noise) and the summands' bound b = 0;
    at each of these four steps the bound's own deviation (Cantelli or the fourth-moment tail of
    9.9) where it is the smaller (a valid bound, so a route may keep it); the triangle form of
    9.4 with ``subgaussian_dev`` (smaller deviations, so a larger kappa_lb); the tails of W0 and
    V (9.3) unchanged, the split re-optimised. Any bound along this route with these weak
    variances pays b >= 0 on top (its summands must be truncated first) and is monotone in each
    deviation, so it is at least ``bound``.
    ``bound_weights``: the bound's own split when the caller has it (``info["weights"]`` of
    :func:`e_out_hp_bound_tight`); otherwise it is optimised here."""
    if p >= 0.5:
        return {"bound": 1.0}
    value = _split_value(d, r, T, n1, n2, m, delta, p, dev=subgaussian_dev, talagrand=True)
    # a floor must not be raised by a poor split: the bound's own split (so floor <= bound), the
    # default start and ``starts`` seeded random starts, the smallest value kept
    keys = list(HP_TIGHT_WEIGHTS)
    cands = [bound_weights if bound_weights is not None
             else _optimise_weights(d, r, T, n1, n2, m, delta, p),
             _optimise_shares(keys, HP_TIGHT_WEIGHTS, value)]
    rng = np.random.default_rng(0)
    for _ in range(starts):
        x0 = dict(zip(keys, np.exp(rng.uniform(-8.0, 0.0, len(keys)))))
        cands.append(_optimise_shares(keys, x0, value))
    w = min(cands, key=value)
    deltas = _split(w, delta)
    b, info = _hp_pieces(d, r, T, n1, n2, m, deltas, p, dev=subgaussian_dev, talagrand=True)
    return {"bound": b, "kappa_lb": info["kappa_lb"], "s_out": info["s_out"],
            "s_in": info["s_in"], "U_Q": info["U_Q"], "U_E": info["U_E"], "deltas": deltas}


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


# --- conditional forms (9.4, 9.5) and the per-run statistics ------------------------------

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


def out_of_span_weak_variance(W0, M, heads, V, N: int = 2000, seed: int = 0) -> dict:
    """Monte Carlo (float64, N inputs per task) of the weak variance of the out-of-span sum
    Y P = sum_{t,k} xi_{tk}, xi = y (a_t o 1{W0 x > 0}) (P x)^T, halfspace labels y = sign(M v_t . x)
    (no flips), conditional on W0, the heads (T x m) and the tasks V (T x r): C = sum_t
    E vec(xi_t) vec(xi_t)^T over the m (d - r) coordinates. Returns tr C (exactly |H|^2 (d - r)/2,
    4.3), ||C||, rho = ||C|| / tr C (the relative weak variance of |Y P|^2 per unit n2) and rho_T5
    = (|H|^2/2) / tr C, the value that T5 gives (derivations 9.8). For measurements only."""
    rng = np.random.default_rng(seed)
    W0 = B.normalise_rows(np.asarray(W0, float))
    M = np.asarray(M, float)
    H = np.asarray(heads, float)
    V = np.asarray(V, float)
    d, r = M.shape
    Pb = np.linalg.qr(np.hstack([M, rng.standard_normal((d, d - r))]))[0][:, r:]
    C = np.zeros((W0.shape[0] * (d - r),) * 2)
    for t in range(len(V)):
        X = rng.standard_normal((N, d))
        g = (X @ W0.T > 0) * H[t][None, :] * np.where(X @ (M @ V[t]) >= 0, 1.0, -1.0)[:, None]
        Z = (g[:, :, None] * (X @ Pb)[:, None, :]).reshape(N, -1)
        C += Z.T @ Z / N
    tr, top = float(np.trace(C)), float(np.linalg.eigvalsh(C)[-1])
    return {"tr": tr, "norm": top, "rho": top / tr, "rho_T5": float((H * H).sum()) / 2 / tr}


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
