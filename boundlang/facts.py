"""Structural facts about a bound (docs/bounds-as-data.md section 5; sympy, three-valued,
time-limited): the symbols it depends on, monotonicity in T and n2, and admissibility for the
claim it supports (theory/claims.py).
"""
from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import sympy as sp

from ..theory import symbols as S
from ..theory.claims import bound_admissible, claim as get_claim, independent_of
from .spec import BoundSpec
from .timers import _SympyTime
from .vocabulary import _INT_AXES, AXES, QUANTITIES, user_name

__all__ = ["structural_facts"]


def _base_env(spec: BoundSpec, where: str) -> dict[str, float]:
    """Values of every symbol at the domain's low corner, centre (geometric) or high corner;
    measured inputs at 0.3 (lm_radius2 at 10)."""
    env = {}
    for a in spec.domain:
        lo, hi = float(a.lo), float(a.hi)
        mid = math.sqrt(lo * hi) if lo > 0 else (lo + hi) / 2
        v = {"lo": lo, "mid": mid, "hi": hi}[where]
        env[a.name] = float(round(v)) if a.kind == "int" else v
    for q in spec.inputs:
        env[q] = 10.0 if q == "lm_radius2" else 0.3
    return env


def _alternatives(name: str, v: float) -> tuple[float, float]:
    if name in QUANTITIES:
        return (2 * v, 0.5 * v)
    ax = AXES[name]
    if ax.kind == "int":
        return (v + 1, 2 * v + 3)
    if ax.high <= 1:
        return (v / 2, (v + ax.high) / 2)
    return (2 * v + 0.1, v / 2 + 0.05)


def _eval_env(spec: BoundSpec, env: Mapping[str, float], extra: Mapping | None = None) -> float:
    """The typed bound at ``env`` (model symbols and measured inputs by user name); ``extra``
    overrides symbols by sympy name (delta)."""
    point = {k: v for k, v in env.items() if k in AXES}
    measured = {k: v for k, v in env.items() if k in QUANTITIES}
    return float(spec.bound(point, measured, extra))


def _numeric_dependence(spec: BoundSpec, name: str) -> bool:
    """A certificate that the typed bound depends on ``name``: two points that differ only in
    it, where the bound takes two finite values that differ (relative 1e-9)."""
    for where in ("mid", "lo", "hi"):
        env = _base_env(spec, where)
        if name == "delta":
            alts = [spec.delta, spec.delta / 2, (1 + spec.delta) / 2]
            vals = [_eval_env(spec, env, {"delta": a}) for a in alts]
        else:
            alts = (env[name],) + _alternatives(name, env[name])
            vals = [_eval_env(spec, {**env, name: a}) for a in alts]
        fin = [v for v in vals if math.isfinite(v)]
        if len(fin) >= 2 and max(fin) - min(fin) > 1e-9 * max(1.0, max(abs(v) for v in fin)):
            return True
    return False


def _dependence(spec: BoundSpec, typed: sp.Expr, clock: _SympyTime) -> dict[str, bool | None]:
    """user name -> does the typed bound depend on it (True / False / None = undecided)."""
    out = {}
    for sym in sorted(typed.free_symbols, key=lambda s: s.name):
        name = user_name(sym)
        if _numeric_dependence(spec, name):
            out[name] = True
            continue
        ind = clock.run(lambda: independent_of(typed, sym))
        out[name] = None if ind is None else not ind
    return out


def _sign_subs() -> dict:
    """Reparametrisations that give sympy the model's constraints: sizes s = 1 + x_s (x_s >= 0),
    d = r + x_d (d >= r)."""
    x = {a: sp.Symbol(f"x_{a}", nonnegative=True) for a in _INT_AXES}
    subs = {AXES[a].symbol: 1 + x[a] for a in _INT_AXES if a != "d"}
    subs[S.d] = 1 + x["r"] + x["d"]
    return subs


def _symbolic_monotone(typed: sp.Expr, sym: sp.Symbol, clock: _SympyTime) -> str | None:
    from ..theory.lemmas import decide_sign

    def decide():
        deriv = sp.diff(typed, sym)
        if deriv == 0:
            return "constant"
        if decide_sign(deriv, _sign_subs(), "nonpositive"):
            return "nonincreasing"
        if decide_sign(deriv, _sign_subs(), "nonnegative"):
            return "nondecreasing"
        return None

    if sym not in typed.free_symbols:
        return "constant"
    try:
        return clock.run(decide)
    except Exception:                                   # sympy cannot handle a construct
        return None


def _numeric_monotone(spec: BoundSpec, name: str) -> str:
    """Along ``name`` (its domain range; a fixed value v: [v/16, 16 v]) at the domain's centre:
    the sign pattern of successive differences; 'not monotone' is a certificate."""
    ax = {a.name: a for a in spec.domain}[name]
    lo, hi = float(ax.lo), float(ax.hi)
    if not ax.varying:                      # a fixed symbol: a factor of 16 either side
        lo, hi = max(lo / 16, AXES[name].low, 1.0), min(hi * 16, AXES[name].high)
    grid = sorted({float(round(v)) for v in np.geomspace(lo, hi, 17)})
    env = _base_env(spec, "mid")
    vals = np.array([_eval_env(spec, {**env, name: v}) for v in grid])
    vals = vals[np.isfinite(vals)]
    if len(vals) < 2:
        return "undefined"
    diff = np.diff(vals)
    tol = 1e-12 * max(1.0, float(np.max(np.abs(vals))))
    up, down = bool(np.any(diff > tol)), bool(np.any(diff < -tol))
    return {(False, False): "constant", (True, False): "nondecreasing",
            (False, True): "nonincreasing"}.get((up, down), "not monotone")


def _monotone(spec: BoundSpec, typed: sp.Expr, name: str, clock: _SympyTime) -> dict:
    """Monotonicity in ``name``: symbolic (delta at its value) and numeric along the domain."""
    sym = AXES[name].symbol
    if spec.delta is not None:
        typed = typed.xreplace({S.delta: sp.Rational(repr(spec.delta))})
    symbolic = _symbolic_monotone(typed, sym, clock)
    num = _numeric_monotone(spec, name) if name in {a.name for a in spec.domain} else "constant"
    verdict = symbolic or ("not monotone" if num == "not monotone" else "undecided")
    return {"symbolic": symbolic, "numeric_along_domain": num, "verdict": verdict}


def _admissibility(spec: BoundSpec, typed: sp.Expr, deps: Mapping[str, bool | None],
                   clock: _SympyTime) -> dict:
    """theory.claims.bound_admissible for the attached claim; when sympy is undecided or out of
    time, a numeric dependence on a symbol the claim forbids still decides False."""
    c = get_claim(spec.claim)
    verdict = clock.run(lambda: bound_admissible(c, typed))
    bad = sorted(n for n, dep in deps.items() if dep and (
        AXES[n].symbol.name if n in AXES else n) not in c.bound_symbols - c.excluded_symbols)
    if verdict is None and bad:
        verdict = False
    excluded = sorted(n for n in bad if (AXES[n].symbol.name if n in AXES else n)
                      in c.excluded_symbols)
    if verdict is True:
        flag = None
    elif verdict is False and excluded:
        flag = (f"FLAGGED: a bound for {c.id} ({c.title}) must not depend on "
                f"{', '.join(excluded)}; this one does")
    elif verdict is False:
        flag = (f"FLAGGED: the bound depends on {', '.join(bad) or 'a symbol'}, outside the "
                f"symbols a bound for {c.id} may use")
    else:
        flag = f"FLAGGED: sympy could not decide whether the bound respects {c.id}'s symbol rules"
    return {"claim": c.id, "admissible": verdict, "flagged": verdict is not True, "flag": flag,
            "allowed_symbols": sorted(_USER_BY_SYMPY.get(s, s) for s in c.bound_symbols),
            "excluded_symbols": sorted(_USER_BY_SYMPY.get(s, s) for s in c.excluded_symbols)}


_USER_BY_SYMPY = {a.symbol.name: a.name for a in AXES.values()}


def structural_facts(spec: BoundSpec, seconds: float = 10.0) -> dict:
    """Facts from sympy about the typed bound: the symbols it depends on, monotonicity in T and
    n2, and (for an attached claim) admissibility. The sympy steps share ``seconds`` (each at
    most a quarter of it); a step out of time is undecided (None)."""
    typed = spec.typed_expr()
    clock = _SympyTime(seconds, seconds / 4)
    deps = _dependence(spec, typed, clock)
    out = {"expression": str(typed),
           "depends_on": sorted(k for k, v in deps.items() if v is True),
           "dependence_undecided": sorted(k for k, v in deps.items() if v is None),
           "depends_on_d": deps.get("d", False),
           "monotone": {n: _monotone(spec, typed, n, clock) for n in ("T", "n2")}}
    if spec.claim is not None:
        out.update(_admissibility(spec, typed, deps, clock))
    else:
        out.update({"claim": None, "admissible": None, "flagged": False, "flag": None})
    return out
