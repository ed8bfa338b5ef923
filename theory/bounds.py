"""Results derived here (docs/derivations.md sections 4-9), as sympy expressions with named
constants. Nothing in this module is the paper's theorem.

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
from scipy.optimize import brentq

from . import derive as D
from . import symbols as S
from .params import ParameterError, validate
from .population import arccos_kernel

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

#: constants of the probe bound: (value, origin). 'lm_a', 'lm_b': Laurent and Massart (2000),
#: Lemma 1; 'loo': the leave-one-out inflation exponent; 'clip': the range of the clipped loss.
PROBE_CONSTANTS = {
    "lm_a": (sp.Integer(2), "Laurent-Massart: P(|Wx|^2 >= tr S + a sqrt(tr(S^2) t) + b |S| t) <= e^-t"),
    "lm_b": (sp.Integer(2), "Laurent-Massart, second constant"),
    "loo": (sp.Integer(2), "E LOO <= (1 + B^2/(n lam))^loo (R(beta) + lam |beta|^2): the square"),
    "clip": (sp.Integer(4), "(y - clip f)^2 <= 4 on the event |phi| > B"),
}


@lru_cache(maxsize=None)
def probe_bound_expr() -> sp.Expr:
    """(c) in terms of E_out, the in-span comparator (R_in, |beta|), m, n, lambda, t (section 6):

        E R(clip f_n) <= (1 + m (1 + a sqrt(t) + b t) / (n lam))^2
                         * ((sqrt(R_in) + |beta| sqrt(m E_out))^2 + lam |beta|^2) + 4 e^-t

    for unit-norm rows. d does not appear (checked by claims.independent_of in the tests).
    """
    c = {k: v[0] for k, v in PROBE_CONSTANTS.items()}
    m, n, lam, t, E = S.m, S.n, S.lam, S.t, S.E_out
    B2 = m * (1 + c["lm_a"] * sp.sqrt(t) + c["lm_b"] * t)
    approx = (sp.sqrt(R_in) + bnorm * sp.sqrt(m * E)) ** 2 + lam * bnorm ** 2
    return (1 + B2 / (n * lam)) ** c["loo"] * approx + c["clip"] * sp.exp(-t)


def _c(name):
    return float(PROBE_CONSTANTS[name][0])


def normalise_rows(W):
    W = np.asarray(W, dtype=float)
    return W / np.linalg.norm(W, axis=1, keepdims=True)


def lm_radius2(W, t: float) -> float:
    """B_t^2 with P(|W x|^2 >= B_t^2) <= e^-t for x ~ N(0, I) (Laurent and Massart 2000)."""
    S_ = W @ W.T
    ev = np.clip(np.linalg.eigvalsh(S_), 0, None)
    return float(ev.sum() + _c("lm_a") * np.sqrt((ev ** 2).sum() * t) + _c("lm_b") * ev.max() * t)


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


def probe_bound(W, M, n: int, lam: float, t: float) -> float:
    """The section-6 bound on E R(clip f_n) for the ridge probe with penalty lam, using the exact
    population risk of the features of W itself (tighter than the E_out form, still d-free: it
    depends on W only through its m x m Gram and W M)."""
    Wn = normalise_rows(W)
    B2 = lm_radius2(Wn, t)
    return (1 + B2 / (n * lam)) ** _c("loo") * probe_population_risk(Wn, M, lam) \
        + _c("clip") * math.exp(-t)


def probe_sample_bound(pairs, eps: float, lam: float) -> float:
    """Smallest n with mean_s probe_bound(W_s, M_s, n, lam, t) <= eps for some t (inf if none):
    the derived d-free bound on n*(eps) for the pooled curve of several pretrained (W_s, M_s)."""
    Ws = [normalise_rows(W) for W, _ in pairs]
    R = [probe_population_risk(W, M, lam) for W, (_, M) in zip(Ws, pairs)]
    best = math.inf
    for t in np.linspace(max(math.log(_c("clip") / eps) + 1e-3, 0.5), 60.0, 240):
        extra = _c("clip") * math.exp(-t)
        if extra >= eps:
            continue
        B2 = [lm_radius2(W, t) for W in Ws]

        def mean_bound(n):
            return float(np.mean([(1 + b / (n * lam)) ** _c("loo") * rr for b, rr in zip(B2, R)])) + extra

        if mean_bound(1e18) > eps:
            continue
        lo, hi = 1.0, 1e18
        for _ in range(200):
            mid = math.sqrt(lo * hi)
            if mean_bound(mid) <= eps:
                hi = mid
            else:
                lo = mid
        best = min(best, hi)
    return best


def width_risk_curve(W, M, widths, jitter: float = 1e-9):
    """Population risk of the best linear probe on the first m rows of W, for m in ``widths``
    (halfspace downstream family, n -> infinity): the neuron complexity of section 6.3."""
    return [probe_population_risk(W[:k], M, jitter) for k in widths]


def width_bound_curve(W, M, widths, mus=None):
    """The (c) approximation term in the E_out form, minimised along the in-span ridge path:
        min_mu (sqrt(E_v R_in(beta_mu)) + sqrt(E_v |beta_mu|^2) sqrt(sum_{i<=m} |P w_i|^2))^2
    for the first m unit rows; an upper bound on the population risk of the first m features
    (section 6.2, with Minkowski's inequality for the average over v)."""

    Wn = normalise_rows(W)
    C = Wn @ M @ M.T                       # in-span parts (not renormalised)
    Pout = Wn - C
    r = M.shape[1]
    mus = mus if mus is not None else np.logspace(-6, 1, 36)
    out = []
    for k in widths:
        Ck = C[:k]
        nz = np.linalg.norm(Ck, axis=1) > 0
        G = arccos_kernel(Ck[nz]) if nz.any() else np.zeros((0, 0))
        H = (Ck[nz] @ M) @ (Ck[nz] @ M).T / (2 * np.pi * r)
        mE = float((Pout[:k] ** 2).sum())
        best = np.inf
        for mu in mus:
            A = np.linalg.inv(G + mu * np.eye(len(G)))
            Rin = 1 - 2 * np.trace(A @ H) + np.trace(A @ G @ A @ H)
            b2 = np.trace(A @ A @ H)
            best = min(best, (np.sqrt(max(Rin, 0.0)) + np.sqrt(max(b2, 0.0) * mE)) ** 2)
        out.append(float(best))
    return out


def in_span_noise_constant(r, p=0.0) -> float:
    """c_r = r ind_sq - (1-2p)^2 k_ind^2: the variance of the in-span part of y 1{w.x>0} x
    (section 4.3)."""
    c = derived_constants()
    val = sp.sympify(r * c["ind_sq"] - (1 - 2 * sp.sympify(p)) ** 2 * c["k_ind"] ** 2)
    return float(val) if val.is_number else val


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


# --- section 7: single-task isotropy (derived here) -------------------------------------------

@lru_cache(maxsize=None)
def single_task_isotropy_expr() -> sp.Expr:
    """High-probability bound on the isotropy of the one-step W1 trained on ONE task (section 7):

        isotropy <= q / (1 - q),  q = sqrt(c_r / (k_ind^2 n2 delta)),  c_r = r ind_sq - k_ind^2,

    with probability >= 1 - delta (Markov on the in-span noise, Weyl on the singular values);
    in population (n2 -> oo) the isotropy is 0 for r >= 2: one task gives rank one.
    """
    c = derived_constants()
    f2 = (1 - 2 * S.p) ** 2
    c_r = S.r * c["ind_sq"] - f2 * c["k_ind"] ** 2
    q = sp.sqrt(c_r / (f2 * c["k_ind"] ** 2 * S.n2 * S.delta))
    return q / (1 - q)


def single_task_isotropy_bound(r: int, n2: int, delta: float, p: float = 0.0) -> float:
    """Numeric value of :func:`single_task_isotropy_expr` (inf when q >= 1). Needs r >= 2:
    for r = 1 the isotropy is 1 by definition and the bound (sigma_r <= sigma_2) does not apply."""

    if r < 2:
        raise ParameterError("r", "single_task_isotropy_bound", "an int >= 2", r)
    validate("single_task_isotropy_bound", n2=n2, delta=delta, noise=p)
    if p >= 0.5:
        return math.inf
    c = derived_constants()
    f2 = (1 - 2 * p) ** 2
    q = math.sqrt(in_span_noise_constant(r, p) / (f2 * float(c["k_ind"]) ** 2 * n2 * delta))
    return math.inf if q >= 1 else q / (1 - q)


# --- section 9: a high-probability upper bound on E_out (derived here) ------------------------

def chernoff_eps(mu: float, r: int, delta: float, side: str) -> float:
    """epsilon with r * [e^{-+eps} / (1 -+ eps)^{1 -+ eps}]^mu = delta (Tropp 2012, matrix Chernoff
    for a sum of independent PSD matrices with norm <= 1 and E-eigenvalues mu); inf if none."""

    def log_tail(eps):
        if side == "lower":
            return math.log(r) + mu * (-eps - (1 - eps) * math.log(1 - eps))
        return math.log(r) + mu * (eps - (1 + eps) * math.log(1 + eps))

    target = math.log(delta)
    lo, hi = 0.0, (1.0 - 1e-12) if side == "lower" else 1e6
    if log_tail(hi) > target:
        return math.inf
    for _ in range(200):           # the log-tail is decreasing in eps (lemma L2, interval-certified)
        mid = (lo + hi) / 2
        if log_tail(mid) > target:
            lo = mid
        else:
            hi = mid
    return hi


def bernstein_dev(m: int, var: float, delta: float) -> float:
    """s with exp(-s^2 / (2 (m var + s/3))) = delta: one-sided Bernstein deviation for a sum of m
    independent variables in [0, 1] with variance var."""
    L = math.log(1 / delta)
    # s^2 - (2L/3) s - 2 L m var = 0
    return (2 * L / 3 + math.sqrt((2 * L / 3) ** 2 + 8 * L * m * var)) / 2


#: the failure probability of section 9 is split evenly over its eight events
HP_EVENTS = ("markov_out", "markov_in", "markov_headnoise_VT", "markov_headnoise",
             "chernoff_min", "chernoff_max", "bernstein_lo", "bernstein_hi")


def e_out_hp_bound(d: int, r: int, T: int, n1: int, n2: int, m: int, delta: float, p: float = 0.0,
                   parts: bool = False):
    """Section 9: with probability >= 1 - delta over W0, tasks and samples (one-step algorithm,
    halfspace family, flips p < 1/2), E_out(W1) <= 1 / (1 + I / N) with

      N = (d - r) ind_sq / delta_1                                           (Markov, out-of-span)
      I = (sqrt(n2) f k_ind sqrt(kappa) - sqrt(c_r / delta_2))_+^2          (Markov, in-span noise)
      kappa >= [f k_relu (1-e1) (T/r) sqrt(Q_lo) - sqrt(m T relu_sq/(n1 delta_3))]_+^2
               / [f k_relu sqrt((1+e2) (T/r) Q_hi) + sqrt(m T relu_sq/(n1 delta_4))]^2
      Q_lo, Q_hi = m r/d -+ Bernstein deviations,  e1, e2 from the matrix Chernoff bound,

    f = 1 - 2p, c_r = r ind_sq - f^2 k_ind^2, delta_k = delta / 8. Returns the bound (and the
    pieces when ``parts``)."""
    c = {k: float(v) for k, v in derived_constants().items()}
    dk = delta / len(HP_EVENTS)
    f = 1 - 2 * p
    c_r = in_span_noise_constant(r, p)
    mu = T / r
    e1 = chernoff_eps(mu, r, dk, "lower")
    e2 = chernoff_eps(mu, r, dk, "upper")
    var = 2 * r * (d - r) / (d * d * (d + 2)) if d > r else 0.0
    Qmean = m * r / d
    Qlo = max(0.0, Qmean - bernstein_dev(m, var, dk))
    Qhi = Qmean + bernstein_dev(m, var, dk)
    noise_VT = math.sqrt(m * T * c["relu_sq"] / (n1 * dk))
    num = f * c["k_relu"] * (1 - e1) * mu * math.sqrt(Qlo) - noise_VT if math.isfinite(e1) else 0.0
    den = f * c["k_relu"] * math.sqrt((1 + e2) * mu * Qhi) + math.sqrt(m * T * c["relu_sq"] / (n1 * dk))
    kappa = max(num, 0.0) ** 2 / den ** 2
    N = (d - r) * c["ind_sq"] / dk
    I = max(math.sqrt(n2) * f * c["k_ind"] * math.sqrt(kappa) - math.sqrt(c_r / dk), 0.0) ** 2
    bound = 1.0 / (1.0 + I / N) if N > 0 else 0.0
    if parts:
        return bound, {"kappa_lb": kappa, "N": N, "I": I, "eps_min": e1, "eps_max": e2,
                       "Q_lo": Qlo, "Q_hi": Qhi, "delta_each": dk}
    return bound


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


def pretraining_sample_complexity(d: int, r: int, T: int, m: int, eps: float, delta: float,
                                  p: float = 0.0, n_max: int = 2 ** 40) -> float:
    """Section 9 (pretraining sample complexity): the smallest n = n1 = n2 for which the section-9 bound gives E_out <= eps
    with probability >= 1 - delta (inf if none up to n_max); the bound decreases in n."""
    if e_out_hp_bound(d, r, T, n_max, n_max, m, delta, p) > eps:
        return float("inf")
    lo, hi = 1, n_max
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if e_out_hp_bound(d, r, T, mid, mid, m, delta, p) <= eps:
            hi = mid
        else:
            lo = mid
    return float(hi)
