"""Generic tail inequalities: the deviations on which the derived bounds of docs/derivations.md
sections 6, 7 and 9 spend their failure probabilities (tools T1-T3, T10 and T11 of section 12):
Cantelli, Bernstein (scalar, matrix, and the lower tail of a nonnegative sum), the matrix
Chernoff epsilon, the sum of uniform unit vectors of the plane and the lower tail of a sum of Beta
variables. Each returns the deviation (or epsilon) whose tail probability is delta.

math / scipy only (no torch); nothing global is mutable.
"""
from __future__ import annotations

import math

__all__ = ["cantelli_dev", "bernstein_dev", "matrix_bernstein_dev", "nonneg_lower_dev",
           "circle_sum_dev", "beta_sum_lower", "chernoff_eps_fast", "sqnorm_fourth_moment",
           "fourth_moment_dev"]


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


def chernoff_eps_fast(mu: float, dim: int, delta: float, side: str) -> float:
    """The epsilon of the matrix Chernoff bound (Tropp 2012, Thm 1.1: dim [e^{-+e}/(1-+e)^{1-+e}]^mu =
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


def sqnorm_fourth_moment(n: float, c: float, tau: float, m4: float, w: float, d4: float,
                         s2: float, L: float, F2: float) -> dict:
    """T12 (docs/derivations.md 12): bounds on the moments of Z = |S|^2 - E|S|^2, S the sum of n
    independent centred random vectors xi_k of a Euclidean space with covariances C_k, when
    every summand satisfies ||C_k|| <= c, tr C_k <= tau, E|xi_k|^4 <= m4,
    E(u.xi_k)^4 <= w |u|^4 for every u, E(|xi_k|^2 - E|xi_k|^2)^4 <= d4 and Var|xi_k|^2 <= s2,
    and ||sum_k C_k|| <= L, sum_{k != l} tr(C_k C_l) <= F2. (Where the summands differ, n times
    each per-summand bound must bound the corresponding sum; section 9.9 shows it for its uses.)

    Z = D + 2 U, D = sum_k d_k, d_k = |xi_k|^2 - E|xi_k|^2, U = sum_{k<l} h_kl, h_kl = xi_k.xi_l.
    Every moment expands over multigraphs (an edge per h, a mark per d); a term vanishes unless
    every index occurs at least twice (U is degenerate, the d_k are centred). E D^4 <= n d4 +
    3 (n s2)^2. E U^4: two disjoint pairs twice each (3 (F2/2)^2, the Gaussian-like leading
    term), one pair four times, two pairs sharing a vertex, a triangle with a doubled edge, the
    4-cycles. The mixed moments E D^3 U, E D^2 U^2 (leading: Var D E U^2) and E D U^3 likewise
    (section 12, T12, lists every configuration and its bound). Returns E4, the smaller of the
    expansion of E(D + 2U)^4 and Minkowski's (||D||_4 + 2 ||U||_4)^4, its parts, and var, a
    bound on Var Z = Var D + 2 sum_{k != l} tr(C_k C_l)."""
    vals = (n, c, tau, m4, w, d4, s2, L, F2)
    if not all(math.isfinite(v) and v >= 0 for v in vals):
        raise ValueError(f"sqnorm_fourth_moment needs finite nonnegative inputs, got {vals}")
    N = n
    lead = 3.0 * (F2 / 2.0) ** 2
    shared = 3.0 * L * L * N * m4
    tri = 6.0 * L * (N * math.sqrt(m4 * tau)) * (N * math.sqrt(w * c))
    cyc = 3.0 * (L * L * (F2 + N * c * tau)
                 + 4.0 * L * (N * c ** 1.5 * tau ** 0.5) * (N * math.sqrt(c * tau))
                 + (N * c ** 3) * (N * tau) + 2.0 * (N * c * c) * (N * c * tau)
                 + (N * c) * (N * c * c * tau))
    single = 0.5 * (N * w) * (N * m4)
    EU4 = lead + shared + tri + cyc + single
    ED4 = N * d4 + 3.0 * (N * s2) ** 2
    # mixed moments; |E d_k xi_k| <= sqrt(s2 c), |E d_k^2 xi_k| <= sqrt(d4 c) (Cauchy-Schwarz)
    ED3U = 3.0 * N * N * c * math.sqrt(d4 * s2)
    ED2U2 = (N * s2 * F2 / 2.0 + N * L * math.sqrt(d4 * m4) + N * N * s2 * math.sqrt(w * m4)
             + 2.0 * N * N * L * c * s2)
    EDU3 = (3.0 * N * L * L * math.sqrt(s2 * m4) + 3.0 * N * N * L * c * math.sqrt(s2 * m4)
            + N * N * d4 ** 0.25 * (w * m4) ** 0.75)
    expand = ED4 + 8.0 * ED3U + 24.0 * ED2U2 + 32.0 * EDU3 + 16.0 * EU4
    mink = (ED4 ** 0.25 + 2.0 * EU4 ** 0.25) ** 4
    return {"E4": min(expand, mink), "EU4": EU4, "ED4": ED4, "var": N * s2 + 2.0 * F2,
            "parts": {"lead": lead, "shared": shared, "triangle": tri, "cycles": cyc,
                      "single": single, "ED3U": ED3U, "ED2U2": ED2U2, "EDU3": EDU3,
                      "expand": expand, "minkowski": mink}}


def fourth_moment_dev(E4: float, delta: float) -> float:
    """s with P(X - EX >= s) <= delta when E(X - EX)^4 <= E4 (Markov on the fourth power):
    s = (E4/delta)^(1/4) (T12)."""
    return (max(E4, 0.0) / delta) ** 0.25
