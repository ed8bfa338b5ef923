"""Numeric evaluation of a compiled bound, without generating code: closures built from the
sympy tree, float64 with IEEE semantics; the numeric-only functions (chernoff_lower,
chernoff_upper, e_out_hp_tight) call theory/.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import numpy as np
import sympy as sp

from ..theory.eout_bound import e_out_hp_bound_tight
from ..theory.tails import chernoff_eps_fast
from .vocabulary import BoundFileError, chernoff_lower, chernoff_upper, e_out_hp_tight

__all__ = ["numeric"]


# --- numeric evaluation, without generating code ------------------------------------------------

def _chernoff(side: str):
    def one(mu, r, delta):
        if not (mu > 0 and r >= 1 and 0 < delta < 1 and math.isfinite(mu)):
            return math.nan
        return chernoff_eps_fast(float(mu), int(round(float(r))), float(delta), side)
    return np.vectorize(one, otypes=[float])


def _hp_tight(d, r, T, n1, n2, m, delta):
    vals = [float(x) for x in (d, r, T, n1, n2, m)]
    if not all(math.isfinite(v) and v >= 1 for v in vals) or not 0 < delta < 1 or vals[1] >= vals[0]:
        return math.nan
    d, r, T, n1, n2, m = (int(round(v)) for v in vals)
    return e_out_hp_bound_tight(d, r, T, n1, n2, m, float(delta))


def numeric(expr: sp.Expr) -> Callable[[Mapping[str, Any]], np.ndarray]:
    """A float64 evaluator of ``expr`` (numbers or numpy arrays by sympy symbol name), built from
    the tree into closures: IEEE semantics (overflow -> inf, 0/0 and sqrt(-1) -> nan)."""
    inner = _numeric(expr)

    def evaluate(env: Mapping[str, Any]) -> np.ndarray:
        with np.errstate(all="ignore"):
            return inner(env)

    return evaluate


def _numeric(expr: sp.Expr) -> Callable[[Mapping[str, Any]], np.ndarray]:
    if expr.is_Symbol:
        name = expr.name
        return lambda env: np.asarray(env[name], dtype=float)
    if expr.is_number and not expr.has(chernoff_lower, chernoff_upper, e_out_hp_tight):
        v = float(sp.re(sp.N(expr, 30))) if expr.is_real is not False else math.nan
        return lambda env: np.float64(v)
    parts = [_numeric(a) for a in expr.args]
    if isinstance(expr, sp.Add):
        return lambda env: sum(p(env) for p in parts)
    if isinstance(expr, sp.Mul):
        return lambda env: _product(p(env) for p in parts)
    if isinstance(expr, sp.Pow):
        return lambda env: np.power(parts[0](env), parts[1](env))
    ufuncs = {sp.exp: np.exp, sp.log: np.log, sp.ceiling: np.ceil}
    for cls, f in ufuncs.items():
        if isinstance(expr, cls):
            return lambda env, f=f: f(parts[0](env))
    if isinstance(expr, (sp.Min, sp.Max)):
        f = np.minimum if isinstance(expr, sp.Min) else np.maximum
        return lambda env: _fold(f, [p(env) for p in parts])
    if isinstance(expr, (chernoff_lower, chernoff_upper)):
        f = _chernoff("lower" if isinstance(expr, chernoff_lower) else "upper")
        return lambda env: f(*(p(env) for p in parts))
    if isinstance(expr, e_out_hp_tight):
        f = np.vectorize(_hp_tight, otypes=[float])
        return lambda env: f(*(p(env) for p in parts))
    raise BoundFileError(f"internal: cannot evaluate {type(expr).__name__}")


def _product(values) -> np.ndarray:
    out = np.float64(1.0)
    for v in values:
        out = out * v
    return out


def _fold(f, values) -> np.ndarray:
    out = values[0]
    for v in values[1:]:
        out = f(out, v)
    return out
