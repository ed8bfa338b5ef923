"""Lemma-level inequalities of docs/derivations.md, certified with interval arithmetic
(mpmath.iv) over boxes of parameters, not only at sample points; and structural facts of the
derived results decided symbolically (three-valued: True / False / None).

certify(f, box) proves f < 0 on the whole box: it evaluates f in interval arithmetic, and
splits the widest side of any box whose enclosure is not already below 0. It returns True
(certified on every sub-box), False (a point of the box with f >= 0, i.e. a counterexample), or
None (undecided within the box budget). None is never a pass.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import mpmath as mp
import sympy as sp
from mpmath import iv

from . import bounds as B
from . import symbols as S
from . import bound_facts as BF

__all__ = ["Lemma", "LEMMAS", "certify", "check_lemmas", "decide_sign", "structural_facts"]


def certify(f: Callable, box: list[tuple[float, float]], max_boxes: int = 20000,
            dps: int = 30) -> tuple[bool | None, dict]:
    """Prove f(x) < 0 for every x in the box (f written for mpmath iv intervals)."""
    old = iv.dps
    iv.dps = dps
    try:
        return _certify(f, box, max_boxes)
    finally:
        iv.dps = old


def _certify(f, box, max_boxes):
    queue = [[iv.mpf([lo, hi]) for lo, hi in box]]
    done = 0
    while queue:
        b = queue.pop()
        done += 1
        if done > max_boxes:
            return None, {"boxes": done, "reason": "box budget exhausted"}
        val = f(*b)
        if val.b < 0:
            continue
        mid = [iv.mpf(x.mid) for x in b]
        mval = f(*mid)
        if mval.a >= 0:
            return False, {"boxes": done, "counterexample": [float(x.mid) for x in b],
                           "value": float(mval.mid)}
        k = max(range(len(b)), key=lambda i: b[i].delta)
        lo, hi = b[k].a, b[k].b
        m = (lo + hi) / 2
        left, right = list(b), list(b)
        left[k] = iv.mpf([lo, m])
        right[k] = iv.mpf([m, hi])
        queue += [left, right]
    return True, {"boxes": done}


@dataclass(frozen=True)
class Lemma:
    name: str
    section: str
    statement: str
    f: Callable          # the lemma is "f < 0 on box"
    box: tuple


def _pi():
    return iv.pi


LEMMAS: tuple[Lemma, ...] = (
    Lemma("chernoff-lower-exponent-decreasing", "9",
          "d/de [-e - (1-e) log(1-e)] = log(1-e) < 0 on [1e-9, 1 - 1e-9]: the matrix Chernoff "
          "lower-tail exponent decreases, so the bisection for eps is valid",
          lambda e: iv.log(1 - e), ((1e-9, 1 - 1e-9),)),
    Lemma("chernoff-upper-exponent-decreasing", "9",
          "d/de [e - (1+e) log(1+e)] = -log(1+e) < 0 on [1e-9, 1e6]",
          lambda e: -iv.log(1 + e), ((1e-9, 1e6),)),
    Lemma("arccos-kernel-decreasing", "2.7",
          "d/da [sin a + (pi - a) cos a] = -(pi - a) sin a < 0 on [1e-6, pi - 1e-6]: the degree-1 "
          "arc-cosine kernel decreases with the angle (and is 0 at a = pi, hence >= 0)",
          lambda a: -(_pi() - a) * iv.sin(a), ((1e-6, float(mp.pi) - 1e-6),)),
    Lemma("head-second-moment-decreasing-in-n1", "4.2",
          "A(n1) = mu2 + (1/2 - mu2)/n1 decreases in n1 because mu2 = (1-2p)^2/(2 pi d) < 1/2: "
          "(1-2p)^2/(2 pi d) - 1/2 < 0 for p in [0, 1/2], d in [1, 1e7]",
          lambda p, d: (1 - 2 * p) ** 2 / (2 * _pi() * d) - iv.mpf(1) / 2, ((0, 0.5), (1, 1e7))),
    Lemma("in-span-noise-constant-positive", "4.3",
          "c_r = r/2 - (1-2p)^2/(2 pi) > 0 for r in [1, 1e4], p in [0, 1/2] (the in-span noise "
          "variance is positive): -(r/2 - (1-2p)^2/(2 pi)) < 0",
          lambda r, p: -(r / 2 - (1 - 2 * p) ** 2 / (2 * _pi())), ((1, 1e4), (0, 0.5))),
    Lemma("isotropy-bound-increasing-in-q", "7",
          "q/(1-q) increases on [0, 1 - 1e-9]: -(1/(1-q)^2) < 0",
          lambda q: -1 / (1 - q) ** 2, ((0, 1 - 1e-9),)),
    Lemma("abs-gaussian-correlation", "12 (T7)",
          "E|g||g'| = (2/pi)(sqrt(1-rho^2) + rho asin rho) <= 2/pi + (1 - 2/pi) rho^2 for "
          "rho = sin t, t in [0.01, pi/2 - 0.01] (near the ends both sides touch; the gap is "
          "0.045 t^2 and 0.137 (pi/2 - t)^2 to leading order): the difference is < 0",
          lambda t: (2 / _pi()) * (iv.cos(t) + t * iv.sin(t)) - 2 / _pi()
          - (1 - 2 / _pi()) * iv.sin(t) ** 2, ((0.01, float(mp.pi) / 2 - 0.01),)),
    Lemma("clipping-does-not-increase-the-loss", "6.1",
          "for y in [-1, 1] and f > 1: (y - 1)^2 < (y - f)^2, i.e. clipping the prediction to "
          "[-1, 1] lowers the squared loss (f < -1 is symmetric): (f - 1)(2y - 1 - f) < 0 on "
          "f in [1 + 1e-9, 1e3], y in [-1, 1]",
          lambda f, y: (f - 1) * (2 * y - 1 - f), ((1 + 1e-9, 1e3), (-1, 1))),
)


def check_lemmas(max_boxes: int = 20000) -> list[dict]:
    out = []
    for L in LEMMAS:
        status, info = certify(L.f, list(L.box), max_boxes=max_boxes)
        out.append({"lemma": L.name, "section": L.section, "statement": L.statement,
                    "box": [list(b) for b in L.box], "certified": status, **info})
    return out


_SIGN = {"positive": lambda x: x.is_positive, "negative": lambda x: x.is_negative,
         "nonnegative": lambda x: x.is_nonnegative, "nonpositive": lambda x: x.is_nonpositive}
_FLIP = {"positive": "negative", "negative": "positive", "nonnegative": "nonpositive",
         "nonpositive": "nonnegative"}


def _sign_of(expr: sp.Expr) -> int | None:
    """+1 / -1 / 0 when the sign of an expression is decided, else None: by sympy's assumptions,
    or for a polynomial in nonnegative symbols whose coefficients all have one sign and whose
    constant term is nonzero (then the polynomial has that sign everywhere)."""
    for e in (expr, sp.expand(expr)):
        if e.is_zero:
            return 0
        if e.is_positive:
            return 1
        if e.is_negative:
            return -1
    syms = sorted(expr.free_symbols, key=str)
    if syms and all(x.is_nonnegative for x in syms):
        try:
            poly = sp.Poly(sp.expand(expr), *syms)
        except (sp.PolynomialError, sp.polys.polyerrors.PolificationFailed):
            return None
        coeffs = poly.coeffs()
        const = poly.as_dict().get((0,) * len(syms), sp.Integer(0))
        if all(c.is_nonnegative for c in coeffs) and const.is_positive:
            return 1
        if all(c.is_nonpositive for c in coeffs) and const.is_negative:
            return -1
    return None


def decide_sign(expr: sp.Expr, subs: dict, want: str) -> bool | None:
    """Does expr (after substituting reparametrisations that encode the constraints) have the
    sign ``want``? Decided on the whole expression, else factor by factor. Three-valued."""
    e = sp.together(sp.simplify(expr.subs(subs)))
    whole = _SIGN[want](e)
    if whole is not None:
        return bool(whole)
    num, den = sp.fraction(e)
    sign = 1
    for part, power in ((num, 1), (den, -1)):
        coeff, factors = sp.factor_list(part)
        s0 = _sign_of(coeff)
        if s0 is None:
            return None
        sign *= s0
        for fac, mult in factors:
            sf = _sign_of(fac)
            if sf is None:
                return None
            sign *= sf ** mult if sf != 0 else 0
    sign = int(sign)
    if want == "positive":
        return bool(sign > 0)
    if want == "negative":
        return bool(sign < 0)
    if want == "nonnegative":
        return bool(sign >= 0)
    return bool(sign <= 0)


@lru_cache(maxsize=None)
def structural_facts() -> list[dict]:
    """Facts about the derived results, each True / False / None (undecided).

    Reparametrisations that carry the model's constraints into sympy's assumptions:
    d = r + e with e > 0 (d > r), T = 1 + s with s > 0 (T >= 2 where T matters), p = (1 - f)/2
    with 0 < f <= 1 (p < 1/2)."""
    x = sp.Symbol("x", nonnegative=True)
    e, s, g = sp.symbols("e s g", positive=True)
    rho = sp.simplify(B.energy_terms()[1] / B.energy_terms()[2])   # S_in / S_out
    y = sp.Symbol("y", nonnegative=True)
    # r = 1 + x >= 1, d = r + e > r, 1 - 2p = 1/(1 + g) in (0, 1], T = 1 + s >= 2, n1 = 1 + y
    sub = {S.d: 1 + x + e, S.r: 1 + x, S.p: (1 - 1 / (1 + g)) / 2, S.T: 1 + s, S.n1: 1 + y}
    facts = []
    for var, label in ((S.T, "T"), (S.n2, "n2"), (S.n1, "n1")):
        facts.append({"fact": f"prediction (a): E[E_out] decreases in {label} (S_in/S_out "
                              f"increases; p < 1/2, T >= 2)", "section": "4.4",
                      "decided": decide_sign(sp.diff(rho, var), sub, "positive")})
    return facts + BF.structural_facts_tight()

