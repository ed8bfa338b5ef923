"""The vocabulary of a bound file (docs/bounds-as-data.md sections 1 to 3): the one-line error
every problem raises, the size limits, the model symbols a [bound.domain] may fix or vary
(``AXES``), the measurable quantities (``QUANTITIES``) and the functions an expression may call
(``FUNCTIONS``). No torch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping

import sympy as sp

from ..theory import symbols as S
from ..theory.params import MtlcheckError

__all__ = ["BoundFileError", "Limits", "LIMITS", "Axis", "AXES", "Quantity", "QUANTITIES",
           "chernoff_lower", "chernoff_upper", "e_out_hp_tight", "FUNCTIONS", "quantities_help",
           "user_name"]


# --- errors and limits ------------------------------------------------------------------------

class BoundFileError(MtlcheckError):
    """A bad bound file: one line naming the file, the bound, the field and the problem."""

    def __init__(self, problem: str, bound: str | None = None, field: str | None = None,
                 path: str | None = None):
        self.problem, self.bound, self.field, self.path = problem, bound, field, path
        where = [] if path is None else [str(path)]
        if bound is not None:
            where.append(f"bound {bound}")
        if field is not None:
            where.append(f"field {field!r}")
        text = (", ".join(where) + ": " if where else "") + problem
        super().__init__(" ".join(text.split()))          # always one line


@dataclass(frozen=True)
class Limits:
    """What a file may ask for: sizes that keep parsing, sympy and the audit bounded."""

    file_bytes: int = 256 * 1024
    bounds: int = 64
    text_chars: int = 2000            # one expression
    source_chars: int = 1000
    nodes: int = 400                  # ast nodes of one expression
    total_nodes: int = 2000           # after the `let` definitions are expanded
    depth: int = 40                   # nesting of the ast
    lets: int = 16
    constants: int = 16
    exponent: float = 64.0            # |a numeric exponent|
    literal: float = 1e15             # |an integer literal|
    magnitude: float = 1e300          # |any constant subexpression|
    runs: int = 1000


LIMITS = Limits()


# --- the names an expression may use -----------------------------------------------------------

@dataclass(frozen=True)
class Axis:
    """A model symbol that a [bound.domain] may fix or vary: kind, valid range, default."""

    name: str
    symbol: sp.Symbol
    kind: str                          # 'int' | 'float'
    low: float
    high: float
    default: float | int | None
    open_low: bool = False
    open_high: bool = False
    doc: str = ""

    def constraint(self) -> str:
        noun = "an int" if self.kind == "int" else "a finite float"
        left, right = "(" if self.open_low else "[", ")" if self.open_high else "]"
        return f"{noun} in {left}{_fmt(self.low)}, {_fmt(self.high)}{right}"

    def ok(self, v) -> bool:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return False
        if self.kind == "int" and not isinstance(v, int):
            return False
        if isinstance(v, float) and not math.isfinite(v):
            return False
        lo_ok = v > self.low if self.open_low else v >= self.low
        hi_ok = v < self.high if self.open_high else v <= self.high
        return lo_ok and hi_ok


def _fmt(v) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e16 else f"{v:g}"


_SIZE = 2 ** 20
#: user name -> the axis (the model's symbols, theory/symbols.py); caps keep the audit bounded
AXES: Mapping[str, Axis] = MappingProxyType({a.name: a for a in (
    Axis("d", S.d, "int", 1, 65536, 32, doc="input dimension (r <= d)"),
    Axis("r", S.r, "int", 1, 4096, 2, doc="dimension of span(M)"),
    Axis("T", S.T, "int", 1, _SIZE, 64, doc="pretraining tasks"),
    Axis("n1", S.n1, "int", 1, _SIZE, 256, doc="head-step samples per task"),
    Axis("n2", S.n2, "int", 1, _SIZE, 256, doc="representation-step samples per task"),
    Axis("m", S.m, "int", 1, 65536, 64, doc="width"),
    Axis("n", S.n, "int", 1, _SIZE, 256, doc="downstream samples"),
    Axis("p", S.p, "float", 0.0, 0.5, 0.0, doc="label-flip probability"),
    Axis("eps", S.eps, "float", 0.0, 1.0, None, True, True, doc="target error (n_star, m_star)"),
    Axis("lam", S.lam, "float", 0.0, 1e6, 0.1, True, doc="ridge penalty of the probe"),
    Axis("t", S.t, "float", 0.0, 100.0, 4.0, True, doc="tail parameter of a quantile bound"),
    Axis("eta_a", S.eta_a, "float", 0.0, 1e6, 1.0, True, doc="head step size"),
    Axis("eta_W", S.eta_w, "float", 0.0, 1e6, 1.0, True, doc="representation step size"),
)})
_INT_AXES = ("d", "r", "T", "n1", "n2", "m", "n")


@dataclass(frozen=True)
class Quantity:
    """A measurable: what it is, what it is measured on, the symbols it reads (``needs``; those
    in ``requires`` have no default), whether it is random, and whether it may be censored (a
    complexity the grid does not resolve; then it may be bounded but not used in expressions)."""

    name: str
    description: str
    measured_on: str
    needs: tuple[str, ...]
    requires: tuple[str, ...] = ()
    random: bool = True
    censored: bool = False

    @property
    def symbol(self) -> sp.Symbol:
        return S.E_out if self.name == "E_out" else sp.Symbol(self.name, nonnegative=True)


_PRE = ("d", "r", "T", "n1", "n2", "m", "p", "eta_a", "eta_W")
_PRE_RUN = "one pretraining run (sim/pretrain.py, one-step algorithm, halfspace tasks)"
_PROBE = "a ridge probe on the unit-normalised features relu(W x) of the pretrained W"
QUANTITIES: Mapping[str, Quantity] = MappingProxyType({q.name: q for q in (
    Quantity("E_out", "out-of-span energy ||W(I - MM^T)||_F^2 / ||W||_F^2 (docs/model.md 4, C1)",
             _PRE_RUN, _PRE),
    Quantity("isotropy", "sigma_r(WM) / sigma_1(WM) (C1, C4; T = 1 is one task)", _PRE_RUN, _PRE),
    Quantity("sin2_max_angle", "sin^2 of the largest principal angle between the top-r right "
             "singular subspace of W and span(M) (FedRep's metric)", _PRE_RUN, _PRE),
    Quantity("probe_risk", "test squared error of the clipped probe (penalty lam, n samples of a "
             "fresh halfspace task; mean of 4 downstream draws, 2000 test points each)", _PROBE,
             _PRE + ("n", "lam")),
    Quantity("probe_err01", "test 0-1 error of the same probe", _PROBE, _PRE + ("n", "lam")),
    Quantity("probe_pop_risk", "exact min_beta E_v[R(beta) + lam |beta|^2] for halfspace tasks "
             "(theory/bounds.py probe_population_risk)", _PROBE, _PRE + ("lam",)),
    Quantity("pop_risk", "exact population risk of the best linear probe on the m pretrained "
             "features (n -> oo, lam -> 0; theory/bounds.py width_risk_curve)", _PROBE, _PRE),
    Quantity("lm_radius2", "Laurent-Massart radius B_t^2 of the unit rows of W: P(|Wx|^2 >= "
             "B_t^2) <= e^-t (theory/bounds.py lm_radius2)", _PRE_RUN, _PRE + ("t",)),
    Quantity("n_star", "downstream samples the probe needs: the mean test squared error over 4 "
             "draws reaches eps (log-interpolated on n = 8, 16, ..., 8192; checks/complexity.py)",
             _PROBE, _PRE + ("eps", "lam"), ("eps",), censored=True),
    Quantity("m_star", "width the pretrained features need: the exact population risk of the "
             "first m' rows reaches eps (m' = 1, 2, 4, ..., m)", _PROBE, _PRE + ("eps",),
             ("eps",), censored=True),
    Quantity("rf_risk", "exact population risk of the best linear probe on m random features "
             "(rows uniform on the sphere) for halfspace tasks", "random features W, Haar M",
             ("d", "r", "m")),
    Quantity("rf_span_energy", "||P_W M||_F^2 / r for the random features of rf_risk (same "
             "draw; docs/derivations.md 8.1)", "random features W, Haar M", ("d", "r", "m")),
    Quantity("rf_m_star", "width random features need: the exact population risk of the first "
             "m' random rows reaches eps (m' = 1, 2, 4, ..., m; C5)", "random features W, Haar M",
             ("d", "r", "m", "eps"), ("eps",), censored=True),
)})


class chernoff_lower(sp.Function):
    """e1 with r [e^-e / (1 - e)^(1 - e)]^mu = delta: Tropp's matrix Chernoff bound for
    lambda_min (theory/tails.py chernoff_eps_fast, docs/derivations.md 12, T3); numeric only."""

    nargs = 3


class chernoff_upper(sp.Function):
    """e2 with r [e^e / (1 + e)^(1 + e)]^mu = delta (lambda_max); numeric only."""

    nargs = 3


class e_out_hp_tight(sp.Function):
    """The derived high-probability bound (b) on E_out, e_out_hp_tight(d, r, T, n1, n2, m, delta)
    (theory/eout_bound.py e_out_hp_bound_tight, docs/derivations.md 9.5): its eight failure
    probabilities are split by an optimisation that no closed expression states; numeric only."""

    nargs = 7


#: function name -> (sympy builder, (min args, max args))
FUNCTIONS: Mapping[str, tuple[Callable, tuple[int, int]]] = MappingProxyType({
    "sqrt": (sp.sqrt, (1, 1)), "log": (sp.log, (1, 1)), "exp": (sp.exp, (1, 1)),
    "min": (sp.Min, (2, 8)), "max": (sp.Max, (2, 8)), "ceil": (sp.ceiling, (1, 1)),
    "chernoff_lower": (chernoff_lower, (3, 3)), "chernoff_upper": (chernoff_upper, (3, 3)),
    "e_out_hp_tight": (e_out_hp_tight, (7, 7)),
})
_USER = {a.symbol: a.name for a in AXES.values()} | {S.delta: "delta"}
_RESERVED = (set(AXES) | set(QUANTITIES) | set(FUNCTIONS) | {"delta", "pi", "epsilon", "lambda",
             "eta_w"})


def quantities_help() -> str:
    """The registered quantities, one line each (for `mtlcheck audit --help`)."""
    return "\n".join(f"  {q.name:<15} {q.description}" + (" [censored]" if q.censored else "")
                     for q in QUANTITIES.values())


def user_name(sym: sp.Symbol) -> str:
    """The name a file uses for a sympy symbol (eps for epsilon, lam for lambda)."""
    return _USER.get(sym, sym.name)
