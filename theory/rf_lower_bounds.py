"""Lower bounds on the risk of random features (derived here): the risk of the whole closed span
of bias-free relu features (docs/derivations.md section 8.5); the lower bound LB(m) <= E_W R*(m) at
every width by Schur's lemma, the least width m*_RF(eps) that it implies (as a fractional
knapsack and in the explicit form with nu_j(d)), and a bound on the probability of reaching eps
at width m (section 8.6). Targets come as DegreeEnergies (theory/degree_energies.py), split into
harmonic pieces by theory/sphere_harmonics.py.
"""
from __future__ import annotations

import math

import numpy as np

from .degree_energies import DegreeEnergies, degree_floor, energy_floor
from .hermite import _coeffs, _int, representable
from .params import Described, ParameterError, validate
from .sphere_harmonics import _fdim, contraction_eigenvalue, harmonic_split, type_energies

__all__ = ["rf_asymptotic_risk", "rf_risk_lower_bound_curve", "rf_width_lower_bound_lp",
           "rf_width_lower_bound_explicit", "nu_bound", "reach_probability_bound"]


# --- the risk of the whole random-feature span (section 8.5) -----------------------------------

def _tail_types(E: DegreeEnergies, d: int, m):
    """Upper bound on what types j > max_degree add to E<f, Proj f>: at most the tail, times
    min(1, m / N_j) with N_j >= N_{j0}(d), j0 the first representable type > max_degree (d >= 3);
    0 for odd targets (their tail is in odd types >= 3, which no relu feature reaches)."""
    K = E.max_degree
    if E.parity == "odd":
        return np.zeros_like(m)
    j0 = K + 1 if (K + 1) % 2 == 0 else K + 2
    N = _fdim(d, j0) if d >= 3 else 2.0
    return np.minimum(1.0, m / N) * max(E.tail, 0.0)


def rf_asymptotic_risk(E: DegreeEnergies, d: int) -> tuple[float, float]:
    """Bounds (lo, hi) on R_inf(d) = lim_m E_W R*(m) = E f^2 - sum_j alpha_j, the risk of the whole
    closed span of bias-free relu features at dimension d (section 8.6). With f_<= the target cut
    at max_degree, R_inf(f_<=) lies in [sum E_k - sum alpha_hi, sum E_k - sum alpha_lo], and the
    distance to the span moves by at most sqrt(tail) (triangle inequality):
    lo = (sqrt(R_inf(f_<=)_lo) - sqrt(tail))_+^2, hi = (sqrt(R_inf(f_<=)_hi) + sqrt(tail))^2.
    Odd targets: the tail is orthogonal to the span, R_inf = E f^2 - sum alpha (halfspace:
    1 - 2/pi at every d)."""
    d = validate("rf_asymptotic_risk", d=d)["d"]
    t = type_energies(E, d)
    e = float(np.sum(E.energies))
    if E.parity == "odd":          # the tail sits in odd types >= 3 (orthogonal to the span)
        return (float(E.total - t["alpha_hi"].sum()), float(E.total - t["alpha_lo"].sum()))
    tail = math.sqrt(max(E.tail, 0.0))
    lo = max(math.sqrt(max(e - t["alpha_hi"].sum(), 0.0)) - tail, 0.0) ** 2
    hi = (math.sqrt(max(e - t["alpha_lo"].sum(), 0.0)) + tail) ** 2
    return float(lo), float(min(hi, E.total))


# --- the random-feature lower bound (section 8.6) -----------------------------------------------

def _knapsack(values, dims):
    """Breakpoints (cumulative dims) and gains of max sum g v, sum g N <= m, 0 <= g <= 1: the
    fractional knapsack, filled greedily by v / N; the gain is linear between breakpoints."""
    v, N = np.clip(np.asarray(values, float), 0, None), np.asarray(dims, float)
    o = np.argsort(-v / N, kind="stable")
    return np.concatenate([[0.0], np.cumsum(N[o])]), np.concatenate([[0.0], np.cumsum(v[o])])


def _lb_parts(E: DegreeEnergies, d: int, method: str):
    """(constant, [(breakpoints, gains)], tail_breakpoint) with LB(m) = constant - sum gains(m)
    - tail term; see rf_risk_lower_bound_curve."""
    if method == "degrees":
        split = harmonic_split(E, d)
        groups = [_knapsack(split[k], [_fdim(d, j) for j in range(k, k % 2 - 1, -2)])
                  for k in range(E.max_degree + 1) if representable(k)]
        const = energy_floor(E)[0] + sum(float(np.clip(split[k], 0, None).sum())
                                         for k in range(E.max_degree + 1) if representable(k))
        return const, groups, False
    if method != "types":
        raise ParameterError("method", "rf_risk_lower_bound_curve", "one of {'types', 'degrees'}",
                             method)
    t = type_energies(E, d)
    return E.total, [_knapsack(t["alpha_bar"], t["N"])], True


def rf_risk_lower_bound_curve(E: DegreeEnergies, d: int, widths, method: str = "types"):
    """LB(m) <= E_W R*(m) for m i.i.d. uniform features relu(w . x), at each width (section 8.6).

    'types' (default): E_W[projection on the feature span] commutes with O(d), and the span lies
    in the closure of all relu features, which holds one copy of each H_j (direction beta_j), so
    E_W R*(m) = E f^2 - sum_j g_j alpha_j with 0 <= g_j <= 1, sum_j g_j N_j <= m; LB maximises
    the gain over g (fractional knapsack) with alpha_bar_j >= alpha_j, plus the types beyond
    max_degree (_tail_types). 'degrees': the weaker relaxation chaos by chaos,
    LB = F + sum_k min{sum_j (1 - g_j) a_{k,j} : sum_j g_j N_j <= m}, a_{k,j} = harmonic_split."""
    d = validate("rf_risk_lower_bound_curve", d=d)["d"]
    m = np.asarray(widths, dtype=float)
    if m.ndim != 1 or np.any(m < 0) or not np.all(np.isfinite(m)):
        raise ParameterError("widths", "rf_risk_lower_bound_curve",
                             "a 1-D array of finite widths >= 0", Described(f"{m!r}"))
    const, groups, tail = _lb_parts(E, d, method)
    lb = np.full(m.shape, const)
    for bp, gain in groups:
        lb -= np.interp(m, bp, gain)
    if tail:
        lb -= _tail_types(E, d, m)
    return lb


def rf_width_lower_bound_lp(E: DegreeEnergies, d: int, eps: float, method: str = "types"):
    """The smallest real m with LB(m) <= eps (rf_risk_lower_bound_curve, continuous, piecewise
    linear, non-increasing): E_W R*(m) <= eps needs m >= this. inf when LB stays above eps."""
    d = validate("rf_width_lower_bound_lp", d=d)["d"]
    eps = float(eps)
    const, groups, tail = _lb_parts(E, d, method)
    extra = [_fdim(d, E.max_degree + 1 + (E.max_degree % 2 == 0))] if tail else []
    bps = np.unique(np.concatenate([[0.0], extra] + [bp for bp, _ in groups]))
    lb = rf_risk_lower_bound_curve(E, d, bps, method)
    if lb[0] <= eps:
        return 0.0
    if lb[-1] > eps:
        return math.inf
    i = int(np.argmax(lb <= eps))
    x0, x1, y0, y1 = bps[i - 1], bps[i], lb[i - 1], lb[i]
    return float(x0 + (y0 - eps) / (y0 - y1) * (x1 - x0))


def _parity_energy(E: DegreeEnergies, j: int) -> float:
    """Energy of f in the chaos of the parity of j (all degrees, tail included when known)."""
    e = float(sum(E.energies[k] for k in range(j % 2, E.max_degree + 1, 2)))
    if E.parity == ("odd" if j % 2 else "even") or E.parity is None:
        e += max(E.tail, 0.0)
    return min(e, E.total)


def nu_bound(d: int, j: int) -> float:
    """nu_j(d) >= |beta_j beyond chaos j|^2 / |beta_j|^2 = sum_{k>j} beta_{j,k}^2 / |beta_j|^2:
    sum_{k>j, k = j mod 2} c_k^2 / (c_j^2 mu_{j,j}(d)), valid when mu_{q,j}(d) >= 1 for q > j
    (true for d >= max(1, j^2)); 0 for odd j (c_k = 0 for odd k >= 3). Section 8.6."""
    d = validate("nu_bound", d=d)["d"]
    j = _int("j", j, "nu_bound", 0)
    if j % 2 or not representable(j):
        return 0.0
    if d < max(1, j * j):
        raise ParameterError("d", "nu_bound", f"an int >= max(1, j^2) = {max(1, j * j)}", d)
    c = [float(x) for x in _coeffs("relu", j)]
    even_tail = 0.25 - sum(c[k] ** 2 for k in range(0, j + 1, 2))     # sum_{even k} c_k^2 = 1/4
    return max(even_tail, 0.0) / (c[j] ** 2 * contraction_eigenvalue(d, j, j))


def _closed_alpha(E: DegreeEnergies, d: int, j: int) -> float:
    """min(E_par(j), (sqrt(E_j) + sqrt(nu_j(d) E_par(j)))^2) >= alpha_j (E_par(j) if d < j^2)."""
    if not representable(j):
        return 0.0
    ep = _parity_energy(E, j)
    if d < max(1, j * j):
        return ep
    return min(ep, (math.sqrt(max(E.energies[j], 0.0)) + math.sqrt(nu_bound(d, j) * ep)) ** 2)


def rf_width_lower_bound_explicit(E: DegreeEnergies, d: int, eps: float,
                                  closed: bool = False) -> dict:
    """The explicit bound of section 8.6: for every representable J >= 1, with J' the next
    representable degree, A_j >= alpha_j and U_J >= sum_{j > J} alpha_j,

        E_W R*(m) >= E f^2 - sum_{j<J} A_j - (m / N_J(d)) A_J - (m / N_J'(d)) U_J   ==>
        m*_RF(eps) >= (E f^2 - eps - sum_{j<J, rep} A_j) / (A_J / N_J(d) + U_J / N_J'(d)).

    closed=False: A_j = alpha_bar_j (type_energies), U_J from them and the tail. closed=True:
    only E_k and constants: A_j = min(E_par(j), (sqrt(E_j) + sqrt(nu_j(d) E_par(j)))^2) (the top
    piece is at most E_j, the other copies carry at most a share nu_j of beta_j), U_J = E_par(J').
    Returns the best J with value, N_J, c = value / N_J and K(eps). For halfspaces and J = 1 both
    give (pi/2)(1 - eps) d."""
    d = validate("rf_width_lower_bound_explicit", d=d)["d"]
    eps = float(eps)
    K = E.max_degree
    if closed:
        A = np.array([_closed_alpha(E, d, j) for j in range(K + 1)])
    else:
        A = type_energies(E, d)["alpha_bar"]
    best = {"value": 0.0, "J": None}
    for J in (j for j in range(1, K) if representable(j)):
        Jn = J + 1 if J == 0 else (2 if J == 1 else J + 2)
        if closed:
            U = _parity_energy(E, Jn)
        else:
            U = min(_parity_energy(E, Jn), float(sum(
                A[j] for j in range(J + 1, K + 1) if representable(j))) + float(
                _tail_types(E, d, np.array(np.inf))))
        num = E.total - eps - sum(A[j] for j in range(J) if representable(j))
        den = A[J] / _fdim(d, J) + U / _fdim(d, Jn)
        if num > 0 and den > 0 and num / den > best["value"]:
            best.update(value=float(num / den), J=J, N_J=_fdim(d, J),
                        c=float(num / den / _fdim(d, J)), numerator=float(num),
                        A_J=float(A[J]), U_J=float(U))
    best["K"] = degree_floor(E, eps)
    return best


def reach_probability_bound(E: DegreeEnergies, d: int, m: int, eps: float,
                            method: str = "types") -> float:
    """P_W(R*(m) <= eps) <= (E f^2 - LB(m)) / (E f^2 - eps) (Markov's inequality on the
    non-negative E f^2 - R*(m), whose mean is at most E f^2 - LB(m); section 8.6)."""
    v = validate("reach_probability_bound", d=d, m=m)
    if not eps < E.total:
        raise ParameterError("eps", "reach_probability_bound", f"a float < E f^2 = {E.total}", eps)
    lb = float(rf_risk_lower_bound_curve(E, v["d"], [v["m"]], method)[0])
    return float(min(1.0, max(0.0, (E.total - lb) / (E.total - eps))))
