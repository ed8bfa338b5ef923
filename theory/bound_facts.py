"""Symbolic structural facts of the derived bounds (docs/derivations.md sections 6, 7 and 9): that
the probe bound (c) and the single-task isotropy bound (d) have no d, and the monotonicity of
(c), (d) and (b) in n, n2, E_out and kappa_lb, each decided True / False / None by sympy's
assumptions on chain-rule factors of the sympy forms of theory/probe_bound.py,
theory/isotropy_bound.py and theory/eout_bound.py. theory/lemmas.py collects them.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from . import bounds as B
from . import symbols as S
from .eout_bound import HP_TIGHT_WEIGHTS
from .isotropy_bound import single_task_isotropy_tight_expr
from .probe_bound import R_star, df_sym, probe_bound_tight_expr

__all__ = ["structural_facts_tight"]


def _sign_fact(expr, want: str, simplify: bool = False):
    """True / False / None from sympy's assumptions on the expression (optionally after
    sp.simplify, which is slow on large expressions). lemmas._decide_sign is not used: it
    raises PolificationFailed on factors with square roots."""
    attr = {"positive": "is_positive", "negative": "is_negative", "nonnegative": "is_nonnegative",
            "nonpositive": "is_nonpositive"}[want]
    v = getattr(expr, attr)
    if v is None and simplify:
        v = getattr(sp.simplify(expr), attr)
    return None if v is None else bool(v)


@lru_cache(maxsize=None)
def structural_facts_tight() -> list[dict]:
    """The d-independence and monotonicity facts of the tight bounds, each decided True / False /
    None, by sympy's assumptions on chain-rule factors. Reparametrisations carry the constraints:
    r = 2 + x (r >= 2), delta = 1/(1 + g) in (0, 1), 1 - 2p = 1/(1 + h) in (0, 1], d = r + e
    (d > r); measured inputs (R*, df, kappa_lb) and c_r > 0 (lemma
    in-span-noise-constant-positive) are positive symbols."""
    from .claims import independent_of
    x = sp.Symbol("x", nonnegative=True)
    g, h, e = sp.symbols("g h e", positive=True)
    Rp, Dp, Ep, kp = sp.symbols("R_p D_p E_p kappa_p", positive=True)
    facts = []
    c_R = probe_bound_tight_expr("R")
    c_E = probe_bound_tight_expr("E_out")
    iso = single_task_isotropy_tight_expr()
    facts.append({"fact": "(c) tight probe bound has no d (R* / df form and E_out form)",
                  "section": "6", "decided": bool(independent_of(c_R, S.d)) and
                  bool(independent_of(c_E, S.d))})
    cR = c_R.subs({R_star: Rp, df_sym: Dp})
    facts.append({"fact": "(c) tight probe bound does not increase in n", "section": "6",
                  "decided": _sign_fact(sp.diff(cR, S.n), "nonpositive")})
    # chain rule: the bound is ((sqrt(R*) + sqrt(R* + 16 df/n))/2)^2, increasing in R*, and
    # R* = (sqrt(R_in) + |b| sqrt(m E_out))^2 + (lam/2)|b|^2 increases in E_out
    Rs_E = (sp.sqrt(B.R_in) + B.bnorm * sp.sqrt(S.m * Ep)) ** 2 + S.lam / 2 * B.bnorm ** 2
    facts.append({"fact": "(c) tight probe bound (E_out form) does not decrease in E_out "
                          "(increasing in R*, and R* increasing in E_out)", "section": "6",
                  "decided": bool(_sign_fact(sp.diff(cR, Rp), "nonnegative"))
                  and bool(_sign_fact(sp.diff(Rs_E, Ep), "nonnegative"))})
    facts.append({"fact": "(d) tight single-task isotropy bound has no d, m or n1", "section": "7",
                  "decided": all(independent_of(iso, s_) is True for s_ in (S.d, S.m, S.n1))})
    sub = {S.r: 2 + x, S.delta: 1 / (1 + g), S.p: (1 - 1 / (1 + h)) / 2}
    # the bound is numer / denom: numer = sqrt(r (1 + s1)/(4 (r-1))), denom the Weyl denominator
    numer = sp.Mul(*[a for a in sp.Mul.make_args(iso) if not (a.is_Pow and a.exp.is_negative)])
    denom = sp.Mul(*[1 / a for a in sp.Mul.make_args(iso) if a.is_Pow and a.exp.is_negative])
    facts.append({"fact": "(d) numerator sqrt(r (1 + s1)/(4 (r-1))) does not increase in n2",
                  "section": "7", "decided": _sign_fact(sp.diff(numer, S.n2).subs(sub),
                                                        "nonpositive")})
    facts.append({"fact": "(d) denominator f k sqrt(n2) - sqrt(c (1 + s2)) increases in n2 (so the "
                          "bound decreases in n2 where the denominator is positive)",
                  "section": "7", "decided": _sign_fact(sp.diff(denom, S.n2).subs(sub), "positive")})
    return facts + _hp_structural_facts(sub, x, e, kp)


def _hp_structural_facts(sub: dict, x, e, kp) -> list[dict]:
    """The facts of bound (b) for :func:`structural_facts_tight` (same reparametrisations)."""
    facts = []
    # bound = 1/(1 + I_amp^2 / N); n2 enters N (through v_out) and I_amp only
    d, r, n2, dl, p = S.d, S.r, S.n2, S.delta, S.p
    tot = sum(HP_TIGHT_WEIGHTS.values())
    dO = sp.Rational(HP_TIGHT_WEIGHTS["out"] / tot).limit_denominator(10 ** 6) * dl
    dI = sp.Rational(HP_TIGHT_WEIGHTS["in"] / tot).limit_denominator(10 ** 6) * dl
    fk = (1 - 2 * p) / sp.sqrt(2 * sp.pi)
    vO = 2 / (d - r) + 4 * (d - r + 2) / ((d - r) * n2)
    N = (d - r) * (1 + sp.sqrt(vO * (1 - dO) / dO)) / 2
    cp, K4 = sp.symbols("c_p K_4", positive=True)
    vI = 1 / cp + K4 / (n2 * cp ** 2)
    noise = sp.sqrt(cp * (1 + sp.sqrt(vI * (1 - dI) / dI)))
    signal = sp.sqrt(n2) * fk * sp.sqrt(kp)
    subb = {S.d: 2 + x + e, **sub}
    facts.append({"fact": "(b) N = (d-r)(1 + s_out)/2 does not increase in n2", "section": "9",
                  "decided": _sign_fact(sp.diff(N, n2).subs(subb), "nonpositive")})
    facts.append({"fact": "(b) I_amp = sqrt(n2) f k sqrt(kappa_lb) - sqrt(c_r (1 + s_in)) increases "
                          "in n2 (kappa_lb is free of n2); with N non-increasing, the bound "
                          "1/(1 + I_amp^2/N) decreases in n2 where I_amp > 0", "section": "9",
                  "decided": bool(_sign_fact(sp.diff(signal, n2).subs(subb), "positive"))
                  and bool(_sign_fact(sp.diff(noise, n2).subs(subb), "nonpositive"))})
    facts.append({"fact": "(b) the bound depends on T only through kappa_lb, and I_amp increases "
                          "in kappa_lb (so the bound does not increase as kappa_lb grows, where "
                          "I_amp > 0); whether kappa_lb increases in T is checked numerically "
                          "(tests), not symbolically", "section": "9",
                  "decided": _sign_fact(sp.diff(signal, kp).subs(subb), "positive")})
    return facts
