"""One validated [[bound]] table: :class:`BoundSpec` (the statement, its statistics and its
domain of :class:`DomainAxis`), which evaluates the bound at a point.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping

import numpy as np
import sympy as sp

from .evaluator import numeric
from .vocabulary import AXES, QUANTITIES

__all__ = ["DomainAxis", "BoundSpec"]


# --- the bound spec -----------------------------------------------------------------------------

@dataclass(frozen=True)
class DomainAxis:
    """One symbol of a bound's domain: fixed (lo == hi) or a range the audit may visit."""

    name: str
    lo: float | int
    hi: float | int
    given: bool = True                 # False: the default of AXES

    @property
    def varying(self) -> bool:
        return self.lo != self.hi

    @property
    def kind(self) -> str:
        return AXES[self.name].kind


@dataclass(frozen=True)
class BoundSpec:
    """One [[bound]] table, validated: ``quantity relation expression`` holds ``holds`` (with
    ``delta``) on every point of ``domain``; ``expr`` keeps the constants as symbols."""

    index: int
    name: str
    source: str
    claim: str | None
    quantity: str
    relation: str                      # '<=' | '>='
    expression: str
    lets: tuple[tuple[str, str], ...]
    constants: tuple[tuple[str, float], ...]
    holds: str                         # 'expectation' | 'probability' | 'always'
    delta: float | None
    alpha: float
    runs: int
    domain: tuple[DomainAxis, ...]
    expr: sp.Expr = field(compare=False)
    inputs: tuple[str, ...] = ()       # measured quantities the expression uses
    path: str = "<string>"
    tolerance: float = 0.0             # relative: a violation must exceed the bound by this

    @property
    def varying(self) -> tuple[DomainAxis, ...]:
        return tuple(a for a in self.domain if a.varying)

    @property
    def measured(self) -> tuple[str, ...]:
        """Every quantity a run must measure: the bounded one, then the expression's inputs."""
        return (self.quantity,) + tuple(q for q in self.inputs if q != self.quantity)

    def typed_expr(self) -> sp.Expr:
        """The expression with the typed constants substituted (exact decimals)."""
        subs = {s: sp.Rational(repr(float(v))) for s in self.expr.free_symbols
                for name, v in self.constants if s.name == name}
        return self.expr.xreplace(subs)

    @cached_property
    def _evaluate(self):
        return numeric(self.expr)

    def bound(self, point: Mapping[str, Any], measured: Mapping[str, Any] | None = None,
              constants: Mapping[str, Any] | None = None) -> np.ndarray:
        """The bound's value at a point (user names), with measured inputs (arrays over runs)
        and the typed constants unless others are given; float64, IEEE semantics."""
        env: dict[str, Any] = {AXES[k].symbol.name: float(v) for k, v in point.items() if k in AXES}
        if self.delta is not None:
            env["delta"] = self.delta
        for q in self.inputs:
            env[QUANTITIES[q].symbol.name] = np.asarray((measured or {})[q], dtype=float)
        env.update(dict(self.constants))
        env.update(constants or {})
        with np.errstate(all="ignore"):
            return np.asarray(self._evaluate(env), dtype=float)

    def table(self) -> dict:
        """The [[bound]] table this spec was parsed from, as typed (domain: the given symbols;
        optional fields at their defaults included): what :func:`boundlang.restate` edits and
        parses again."""
        out = {"name": self.name, "source": self.source, "quantity": self.quantity,
               "relation": self.relation, "expression": self.expression, "holds": self.holds,
               "alpha": self.alpha, "runs": self.runs, "tolerance": self.tolerance,
               "domain": {a.name: (a.lo if not a.varying else [a.lo, a.hi])
                          for a in self.domain if a.given}}
        for key, value in (("claim", self.claim), ("delta", self.delta)):
            if value is not None:
                out[key] = value
        if self.lets:
            out["let"] = dict(self.lets)
        if self.constants:
            out["constants"] = dict(self.constants)
        return out

    def record(self) -> dict:
        return {"name": self.name, "source": self.source, "claim": self.claim,
                "quantity": self.quantity, "relation": self.relation,
                "expression": self.expression, "let": dict(self.lets),
                "constants_typed": dict(self.constants), "holds": self.holds,
                "delta": self.delta, "alpha": self.alpha, "runs": self.runs,
                "tolerance": self.tolerance,
                "domain": {a.name: (a.lo if not a.varying else [a.lo, a.hi]) for a in self.domain},
                "defaults_used": sorted(a.name for a in self.domain if not a.given)}
