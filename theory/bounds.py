"""Results derived here (docs/derivations.md sections 4-9), as sympy expressions with named
constants. Nothing in this module is the paper's theorem.

Section 4, prediction (a): the leading-order expectation of E_out for the one-step algorithm,
E[E_out] ~= S_out / (S_in + S_out), where S_in and S_out are the exact expectations of the
in-span and out-of-span energy per row of W1 / (eta_a eta_W) (expectation over W0, the tasks
and the samples).
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from . import derive as D
from . import symbols as S

__all__ = ["CONSTANTS", "energy_terms", "e_out_prediction", "e_out_prediction_fn"]


@lru_cache(maxsize=None)
def _derived_constants() -> dict[str, sp.Expr]:
    """Constants read off section 2: k = 1/sqrt(2 pi) (twice), the relu second moment 1/2."""
    k = D.coefficients()
    _, m2 = D.relu_moments()
    half = sp.simplify(m2.subs(D.wnorm, 1))          # E[relu(w.x)^2] = 1/2 for |w| = 1
    return {"k_relu": k["k_relu"], "k_ind": k["k_ind"], "relu_sq": half,
            "ind_sq": sp.Rational(1, 2)}  # E[1{w.x>0} (e.x)^2] = 1/2 (symmetry, section 4.3)


#: Named constants of the derived results (value, where it comes from). The audit walks this.
CONSTANTS: dict[str, tuple[sp.Expr, str]] = {}


def _register():
    c = _derived_constants()
    CONSTANTS.update({
        "k_relu": (c["k_relu"], "E[y relu(w.x)] = k_relu (w.u) (section 2.2)"),
        "k_ind": (c["k_ind"], "E[y 1{w.x>0} x] = k_ind u (section 2.3)"),
        "relu_sq": (c["relu_sq"], "E[relu(w.x)^2] = 1/2 for |w| = 1 (section 2.7)"),
        "ind_sq": (c["ind_sq"], "E[1{w.x>0} (e.x)^2] = 1/2 for a unit e (section 4.3)"),
    })


_register()


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
    c = _derived_constants()
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
