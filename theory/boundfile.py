"""Bounds as data: the file format of `mtlcheck audit --bounds FILE.toml` (docs/bounds-as-data.md).

A bound file is TOML with one [[bound]] table per statement "quantity <= expression" (or >=), in
expectation, with probability >= 1 - delta, or always. This module (no torch) loads and validates
such a file, compiles each expression through an allow-list over Python's ``ast`` into a sympy
expression that it builds node by node (the text never reaches eval, sympify or parse_expr),
evaluates bounds numerically without generating code, and derives the structural facts (which
symbols a bound depends on, monotonicity in T and n2, admissibility for the claim it supports,
via theory/claims.py). The simulations that measure each quantity are in qa/boundaudit.py.

A file may come from anyone: every problem is a :class:`BoundFileError`, one line that names the
bound, the field and the problem (the CLI prints it and exits with status 2).
"""
from __future__ import annotations

import ast
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Callable, Mapping

import numpy as np
import sympy as sp

from . import symbols as S
from .claims import CLAIMS, bound_admissible, claim as get_claim, independent_of
from .params import MtlcheckError
from .tight import chernoff_eps_fast, e_out_hp_bound_tight

try:                                    # Python >= 3.11
    import tomllib as _toml
except ModuleNotFoundError:             # pragma: no cover - Python 3.10 needs the tomli backport
    import tomli as _toml

__all__ = ["BoundFileError", "Limits", "LIMITS", "Quantity", "QUANTITIES", "Axis", "AXES",
           "FUNCTIONS", "BoundSpec", "DomainAxis", "compile_expression", "numeric",
           "load_bounds", "parse_bounds", "structural_facts", "user_name", "quantities_help"]


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
    lambda_min (theory/tight.py chernoff_eps_fast, docs/derivations.md 12, T3); numeric only."""

    nargs = 3


class chernoff_upper(sp.Function):
    """e2 with r [e^e / (1 + e)^(1 + e)]^mu = delta (lambda_max); numeric only."""

    nargs = 3


class e_out_hp_tight(sp.Function):
    """The derived high-probability bound (b) on E_out, e_out_hp_tight(d, r, T, n1, n2, m, delta)
    (theory/tight.py e_out_hp_bound_tight, docs/derivations.md 9.5): its eight failure
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


# --- the expression compiler: an allow-list over ast, sympy built node by node ----------------

@dataclass(frozen=True)
class _Node:
    expr: sp.Expr
    value: float | None       # the numeric value of a constant subexpression
    powers: bool              # contains ** or exp (a tower guard)
    size: int                 # nodes, with `let` definitions expanded


_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_NAMED = {ast.Attribute: "attribute access", ast.Subscript: "subscripts", ast.Lambda: "lambdas",
          ast.ListComp: "comprehensions", ast.SetComp: "comprehensions",
          ast.DictComp: "comprehensions", ast.GeneratorExp: "comprehensions",
          ast.Compare: "comparisons", ast.BoolOp: "boolean operators",
          ast.IfExp: "conditional expressions", ast.NamedExpr: "assignments",
          ast.Starred: "starred arguments", ast.JoinedStr: "f-strings", ast.List: "lists",
          ast.Tuple: "tuples", ast.Set: "sets", ast.Dict: "dicts", ast.Await: "await",
          ast.Yield: "yield", ast.YieldFrom: "yield", ast.Slice: "slices"}


@dataclass(frozen=True)
class _Scope:
    """What names mean while compiling one expression."""

    constants: Mapping[str, float]
    lets: Mapping[str, _Node]
    quantities: frozenset[str]          # measured quantities allowed as symbols
    err: Callable[[str], BoundFileError]


def _parse(text: Any, err) -> ast.expr:
    """Text -> ast with the size, character and depth limits checked before anything else."""
    if not isinstance(text, str):
        raise err(f"must be a string, got {type(text).__name__}")
    if not text.strip():
        raise err("is empty")
    if len(text) > LIMITS.text_chars:
        raise err(f"is {len(text)} characters long (at most {LIMITS.text_chars})")
    bad = next((c for c in text if not (32 <= ord(c) < 127)), None)
    if bad is not None:
        raise err(f"contains the character {bad!r} (printable ASCII only)")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as e:
        msg = getattr(e, "msg", None) or str(e) or type(e).__name__
        col = getattr(e, "offset", None)
        raise err(f"is not a valid expression ({msg}{f' at column {col}' if col else ''})")
    nodes = sum(1 for _ in ast.walk(tree))
    if nodes > LIMITS.nodes:
        raise err(f"has {nodes} syntax nodes (at most {LIMITS.nodes})")
    stack = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > LIMITS.depth:
            raise err(f"is nested more than {LIMITS.depth} levels deep")
        stack.extend((c, depth + 1) for c in ast.iter_child_nodes(node))
    return tree.body


def _number(node: ast.Constant, err) -> _Node:
    v = node.value
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        kind = "strings" if isinstance(v, (str, bytes)) else f"the constant {v!r}"
        raise err(f"may not contain {kind} (numbers only)")
    if isinstance(v, int):
        if abs(v) > LIMITS.literal:
            raise err(f"contains the integer {v} (at most {LIMITS.literal:.0e} in absolute value)")
        return _Node(sp.Integer(v), float(v), False, 1)
    if not math.isfinite(v):
        raise err("contains a number that is not finite")
    return _Node(sp.Rational(repr(v)), v, False, 1)


def _name(node: ast.Name, scope: _Scope) -> _Node:
    n = node.id
    if n in scope.lets:
        return scope.lets[n]
    if n in scope.constants:
        v = scope.constants[n]
        sym = sp.Symbol(n, real=True, positive=v > 0 or None, negative=v < 0 or None,
                        zero=v == 0 or None)
        return _Node(sym, float(v), False, 1)
    if n in AXES:
        return _Node(AXES[n].symbol, None, False, 1)
    if n == "delta":
        return _Node(S.delta, None, False, 1)
    if n in scope.quantities:
        return _Node(QUANTITIES[n].symbol, None, False, 1)
    if n == "pi":
        return _Node(sp.pi, math.pi, False, 1)
    if n in FUNCTIONS:
        raise scope.err(f"uses the function {n!r} without calling it")
    if n in QUANTITIES:
        why = "it may be bounded but, being censored, not used in an expression" \
            if QUANTITIES[n].censored else "a bound may not use the quantity it bounds"
        raise scope.err(f"uses the quantity {n!r} ({why})")
    known = sorted(set(AXES) | {"delta", "pi"} | set(scope.quantities) | set(scope.constants)
                   | set(scope.lets))
    raise scope.err(f"uses the unknown symbol {n!r} (a constant must be declared in constants = "
                    f"{{ ... }}; known: {', '.join(known)})")


def _checked(value: float | None, err) -> float | None:
    if value is None:
        return None
    if isinstance(value, complex) or math.isnan(value):
        raise err("has a constant part that is not a real number")
    if abs(value) > LIMITS.magnitude:
        raise err(f"has a constant part larger than {LIMITS.magnitude:.0e} in absolute value")
    return value


def _arith(op: type, a: float | None, b: float | None, err) -> float | None:
    """The numeric value of a constant a op b, with the guards of the allow-list."""
    if a is None or b is None:
        return None
    if op in (ast.Div,) and b == 0:
        raise err("divides by zero")
    if op is ast.Pow:
        if a == 0 and b < 0:
            raise err("divides by zero (0 to a negative power)")
        if a < 0 and not float(b).is_integer():
            raise err("raises a negative number to a fractional power (not a real number)")
        if a != 0 and b * math.log10(abs(a)) > math.log10(LIMITS.magnitude):
            raise err(f"has a constant power larger than {LIMITS.magnitude:.0e}")
    try:
        return {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
                ast.Div: lambda: a / b, ast.Pow: lambda: float(a) ** float(b)}[op]()
    except (OverflowError, ZeroDivisionError):
        raise err("has a constant part that overflows")


def _binop(node: ast.BinOp, scope: _Scope) -> _Node:
    op = type(node.op)
    if op not in _OPS:
        sym = {ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.LShift: "<<",
               ast.RShift: ">>", ast.BitOr: "|", ast.BitAnd: "&",
               ast.BitXor: "^"}.get(op, op.__name__)
        raise scope.err(f"uses the operator {sym!r} (allowed: + - * / **)")
    a, b = _walk(node.left, scope), _walk(node.right, scope)
    if op is ast.Pow:
        if b.powers:
            raise scope.err("has a power tower (an exponent that contains ** or exp)")
        if b.value is not None and abs(b.value) > LIMITS.exponent:
            raise scope.err(f"has the exponent {b.value:g} (at most {LIMITS.exponent:g} in "
                            "absolute value)")
    value = _checked(_arith(op, a.value, b.value, scope.err), scope.err)
    x, y = a.expr, b.expr
    expr = {ast.Add: lambda: x + y, ast.Sub: lambda: x - y, ast.Mult: lambda: x * y,
            ast.Div: lambda: x / y, ast.Pow: lambda: sp.Pow(x, y)}[op]()
    return _Node(expr, value, a.powers or b.powers or op is ast.Pow, a.size + b.size + 1)


def _call(node: ast.Call, scope: _Scope) -> _Node:
    if not isinstance(node.func, ast.Name):
        what = ("attribute access" if isinstance(node.func, ast.Attribute)
                else "calls of computed functions")
        raise scope.err(f"uses {what} (allowed calls: {', '.join(FUNCTIONS)})")
    fname = node.func.id
    if fname not in FUNCTIONS:
        raise scope.err(f"calls {fname!r} (allowed calls: {', '.join(FUNCTIONS)})")
    if node.keywords:
        raise scope.err(f"passes keyword arguments to {fname!r} (not allowed)")
    if any(isinstance(a, ast.Starred) for a in node.args):
        raise scope.err(f"passes starred arguments to {fname!r} (not allowed)")
    build, (lo, hi) = FUNCTIONS[fname]
    if not lo <= len(node.args) <= hi:
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        raise scope.err(f"calls {fname!r} with {len(node.args)} arguments ({want} expected)")
    args = [_walk(a, scope) for a in node.args]
    if fname == "exp" and args[0].powers:
        raise scope.err("has a power tower (exp of an expression that contains ** or exp)")
    if fname == "log" and args[0].expr.is_nonpositive:
        raise scope.err("takes the logarithm of an expression that is never positive")
    if fname == "sqrt" and args[0].expr.is_negative:
        raise scope.err("takes the square root of an expression that is always negative")
    value = _call_value(fname, [a.value for a in args], scope.err)
    powers = fname == "exp" or any(a.powers for a in args)
    return _Node(build(*[a.expr for a in args]), value, powers, 1 + sum(a.size for a in args))


def _call_value(fname: str, vals: list, err) -> float | None:
    if any(v is None for v in vals) or fname.startswith(("chernoff", "e_out_hp")):
        return None
    v = vals[0]
    if fname == "sqrt" and v < 0:
        raise err("takes the square root of a negative number")
    if fname == "log" and v <= 0:
        raise err("takes the logarithm of a number <= 0")
    if fname == "exp" and v > math.log(LIMITS.magnitude):
        raise err(f"has a constant exp larger than {LIMITS.magnitude:.0e}")
    f = {"sqrt": math.sqrt, "log": math.log, "exp": math.exp, "ceil": math.ceil,
         "min": lambda *a: min(a), "max": lambda *a: max(a)}[fname]
    return _checked(float(f(*vals)), err)


def _walk(node: ast.AST, scope: _Scope) -> _Node:
    if isinstance(node, ast.Constant):
        return _number(node, scope.err)
    if isinstance(node, ast.Name):
        return _name(node, scope)
    if isinstance(node, ast.BinOp):
        return _binop(node, scope)
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            sym = {ast.Invert: "~", ast.Not: "not"}.get(type(node.op), type(node.op).__name__)
            raise scope.err(f"uses the operator {sym!r} (allowed: unary -)")
        a = _walk(node.operand, scope)
        neg = isinstance(node.op, ast.USub)
        return _Node(-a.expr if neg else a.expr, None if a.value is None else
                     (-a.value if neg else a.value), a.powers, a.size + 1)
    if isinstance(node, ast.Call):
        return _call(node, scope)
    what = _NAMED.get(type(node), f"{type(node).__name__} expressions")
    raise scope.err(f"uses {what} (not allowed: numbers, symbols, + - * / **, and "
                    f"{', '.join(FUNCTIONS)} only)")


def compile_expression(text: Any, constants: Mapping[str, float] | None = None,
                       lets: Mapping[str, Any] | None = None,
                       quantities: frozenset[str] | None = None,
                       err: Callable[[str], BoundFileError] | None = None) -> sp.Expr:
    """Compile ``text`` through the allow-list into a sympy expression (constants stay symbols).

    ``lets`` maps earlier definitions to their compiled nodes (as returned in ``_compile``);
    ``quantities``: the measured quantities it may use (default: every uncensored one).
    Raises BoundFileError for anything outside the allow-list or the limits."""
    if quantities is None:
        quantities = frozenset(q for q, Q in QUANTITIES.items() if not Q.censored)
    return _compile(text, constants or {}, lets or {}, quantities,
                    err or (lambda msg: BoundFileError(f"the expression {msg}")))[0].expr


def _compile(text, constants, lets, quantities, err) -> tuple[_Node, ast.expr]:
    tree = _parse(text, err)
    scope = _Scope(MappingProxyType(dict(constants)), MappingProxyType(dict(lets)),
                   frozenset(quantities), err)
    node = _walk(tree, scope)
    if node.size > LIMITS.total_nodes:
        raise err(f"has {node.size} nodes with its definitions expanded (at most "
                  f"{LIMITS.total_nodes})")
    bad = node.expr.atoms(sp.Number, sp.NumberSymbol) & {sp.zoo, sp.nan, sp.oo, -sp.oo}
    if bad or node.expr.has(sp.I, sp.zoo, sp.nan, sp.oo):
        raise err("is not a finite real expression (a division by zero, a logarithm of a "
                  "non-positive number or a square root of a negative one)")
    return node, tree


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

    def record(self) -> dict:
        return {"name": self.name, "source": self.source, "claim": self.claim,
                "quantity": self.quantity, "relation": self.relation,
                "expression": self.expression, "let": dict(self.lets),
                "constants_typed": dict(self.constants), "holds": self.holds,
                "delta": self.delta, "alpha": self.alpha, "runs": self.runs,
                "tolerance": self.tolerance,
                "domain": {a.name: (a.lo if not a.varying else [a.lo, a.hi]) for a in self.domain},
                "defaults_used": sorted(a.name for a in self.domain if not a.given)}


_FIELDS = ("name", "source", "claim", "quantity", "relation", "expression", "let", "constants",
           "holds", "delta", "alpha", "runs", "tolerance", "domain")
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+-")


def load_bounds(path: str) -> tuple[BoundSpec, ...]:
    """Read, parse and validate a bound file (BoundFileError on any problem)."""
    try:
        with open(path, "rb") as f:
            raw = f.read(LIMITS.file_bytes + 1)
    except OSError as e:
        raise BoundFileError(f"cannot read the bound file ({e.strerror or e})", path=str(path))
    if len(raw) > LIMITS.file_bytes:
        raise BoundFileError(f"the file is larger than {LIMITS.file_bytes} bytes", path=str(path))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BoundFileError("the file is not UTF-8 text", path=str(path))
    return parse_bounds(text, str(path))


def parse_bounds(text: str, path: str = "<string>") -> tuple[BoundSpec, ...]:
    """Parse TOML text holding [[bound]] tables into validated specs."""
    try:
        doc = _toml.loads(text)
    except _toml.TOMLDecodeError as e:
        raise BoundFileError(f"malformed TOML ({e})", path=path)
    extra = sorted(k for k in doc if k != "bound")
    if extra:
        raise BoundFileError(f"unknown top-level key {extra[0]!r} (a bound file holds [[bound]] "
                             "tables only)", path=path)
    tables = doc.get("bound")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise BoundFileError("no [[bound]] table (write one [[bound]] table per statement)",
                             path=path)
    if len(tables) > LIMITS.bounds:
        raise BoundFileError(f"{len(tables)} bounds (at most {LIMITS.bounds})", path=path)
    specs, seen = [], set()
    for i, table in enumerate(tables):
        spec = parse_bound(table, i, path)
        if spec.name in seen:
            raise BoundFileError("is a second bound with this name (names must be unique)",
                                 f"{spec.name!r} (#{i + 1})", "name", path)
        seen.add(spec.name)
        specs.append(spec)
    return tuple(specs)


def _err(path, label):
    return lambda fld, msg: BoundFileError(msg, label, fld, path)


def _string(table, key, err, required=True, limit=80) -> str | None:
    v = table.get(key)
    if v is None:
        if required:
            raise err(key, "is missing")
        return None
    if not isinstance(v, str):
        raise err(key, f"must be a string, got {type(v).__name__}")
    if len(v) > limit:
        raise err(key, f"is {len(v)} characters long (at most {limit})")
    if any(ord(c) < 32 and c not in "\t" for c in v):
        raise err(key, "contains control characters")
    return v


def parse_bound(table: Mapping[str, Any], index: int, path: str = "<string>") -> BoundSpec:
    """Validate one [[bound]] table (index: its position, 0-based)."""
    label = f"#{index + 1}"
    err = _err(path, label)
    name = _string(table, "name", err)
    if not name or not set(name) <= _NAME_CHARS or name[0] in ".+-":
        raise err("name", f"must be 1 to 80 letters, digits and _ . + - (starting with a letter "
                          f"or digit), got {name!r}")
    err = _err(path, f"{name!r} ({label})")
    unknown = sorted(set(table) - set(_FIELDS))
    if unknown:
        raise err(unknown[0], f"is not a field of a bound (fields: {', '.join(_FIELDS)})")
    source = _string(table, "source", err, required=False, limit=LIMITS.source_chars) or ""
    claim_id = _claim(table, err)
    quantity = _choice(table, "quantity", tuple(QUANTITIES), err)
    relation = _choice(table, "relation", ("<=", ">="), err)
    holds = _choice(table, "holds", ("expectation", "probability", "always"), err,
                    default="expectation")
    delta, alpha, runs = _statistics(table, holds, err)
    constants = _constants(table.get("constants"), err)
    lets, inputs_allowed = _lets(table.get("let"), constants, quantity, err)
    if "expression" not in table:
        raise err("expression", "is missing")
    node, _ = _compile(table.get("expression"), constants, lets, inputs_allowed,
                       lambda msg: err("expression", msg))
    expr = node.expr
    inputs = tuple(sorted(q for q in inputs_allowed if QUANTITIES[q].symbol in expr.free_symbols))
    if S.delta in expr.free_symbols and holds != "probability":
        raise err("expression", "uses delta, which needs holds = 'probability'")
    domain = _domain(table.get("domain"), quantity, inputs, expr, err)
    tolerance = float(_number_field(table, "tolerance", (lambda v: v >= 0, "[0"),
                                    (lambda v: v < 1, "1)"), err, default=0.0))
    return BoundSpec(index, name, source, claim_id, quantity, relation, table["expression"],
                     tuple((k, str(v)) for k, v in (table.get("let") or {}).items()),
                     tuple(constants.items()), holds, delta, alpha, runs, domain, expr, inputs,
                     path, tolerance)


def _claim(table, err) -> str | None:
    if "claim" not in table:
        return None
    v = table["claim"]
    ids = [c.id for c in CLAIMS]
    if not isinstance(v, str) or v not in ids:
        raise err("claim", f"must be one of {', '.join(ids)}, got {v!r}")
    return get_claim(v).id


def _choice(table, key, choices, err, default=None) -> str:
    v = table.get(key, default)
    if v is None:
        raise err(key, f"is missing (one of {', '.join(map(repr, choices))})")
    if not isinstance(v, str) or v not in choices:
        raise err(key, f"must be one of {', '.join(map(repr, choices))}, got {v!r}")
    return v


def _number_field(table, key, low, high, err, kind="float", default=None):
    v = table.get(key, default)
    noun = "an int" if kind == "int" else "a float"
    ok = (isinstance(v, int) if kind == "int" else isinstance(v, (int, float))) \
        and not isinstance(v, bool) and math.isfinite(v) and low[0](v) and high[0](v)
    if not ok:
        raise err(key, f"must be {noun} in {low[1]}, {high[1]}, got {v!r}")
    return v


def _statistics(table, holds, err) -> tuple[float | None, float, int]:
    """delta (probability only), alpha, runs per point (defaults by ``holds``)."""
    gt0, lt1 = (lambda v: v > 0, "(0"), (lambda v: v < 1, "1)")
    delta = None
    if holds == "probability":
        if "delta" not in table:
            raise err("delta", "is missing (holds = 'probability' needs delta in (0, 1))")
        delta = float(_number_field(table, "delta", gt0, lt1, err))
    elif "delta" in table:
        raise err("delta", f"is only for holds = 'probability' (holds is {holds!r})")
    alpha = float(_number_field(table, "alpha", gt0, (lambda v: v < 0.5, "0.5)"), err,
                                default=0.05))
    default = {"expectation": 8, "always": 8}.get(holds)
    if default is None:
        default = int(min(max(math.ceil(2 / delta), 10), LIMITS.runs))
    low = 2 if holds == "expectation" else 1
    runs = _number_field(table, "runs", (lambda v: v >= low, f"[{low}"),
                         (lambda v: v <= LIMITS.runs, f"{LIMITS.runs}]"), err, "int", default)
    return delta, alpha, int(runs)


def _identifier(key, what, err, fld):
    if not isinstance(key, str) or not key.isidentifier() or key.startswith("_") \
            or len(key) > 32:
        raise err(fld, f"has the {what} name {key!r} (a letter, then letters, digits or _, at "
                       "most 32 characters)")
    if key in _RESERVED:
        raise err(fld, f"redefines {key!r}, a name of the model (choose another {what} name)")


def _constants(table, err) -> dict[str, float]:
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise err("constants", "must be a table such as { C1 = 1.0, C2 = 4.0 }")
    if len(table) > LIMITS.constants:
        raise err("constants", f"declares {len(table)} constants (at most {LIMITS.constants})")
    out = {}
    for k, v in table.items():
        _identifier(k, "constant", err, "constants")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or abs(v) > LIMITS.literal:
            raise err(f"constants.{k}", f"must be a finite number (|value| <= "
                                        f"{LIMITS.literal:.0e}), got {v!r}")
        out[k] = float(v)
    return out


def _lets(table, constants, quantity, err) -> tuple[dict[str, _Node], frozenset[str]]:
    """Named subexpressions [bound.let], each may use the earlier ones; and the quantities an
    expression may use as measured inputs (all uncensored ones but the bounded quantity)."""
    inputs = frozenset(q for q, Q in QUANTITIES.items() if not Q.censored and q != quantity)
    if table is None:
        return {}, inputs
    if not isinstance(table, dict):
        raise err("let", "must be a table such as { q = \"sqrt(r / n2)\" }")
    if len(table) > LIMITS.lets:
        raise err("let", f"defines {len(table)} names (at most {LIMITS.lets})")
    lets: dict[str, _Node] = {}
    for k, text in table.items():
        _identifier(k, "let", err, "let")
        if k in constants:
            raise err("let", f"defines {k!r}, which is also a constant")
        node, _ = _compile(text, constants, lets, inputs, lambda msg, k=k: err(f"let.{k}", msg))
        lets[k] = node
    return lets, inputs


def _axis_value(name, v, err):
    ax = AXES[name]
    fld = f"domain.{name}"
    if isinstance(v, list):
        if len(v) != 2 or not all(ax.ok(x) for x in v):
            raise err(fld, f"must be {ax.constraint()} or a range [low, high] of them, got {v!r}")
        if v[0] > v[1]:
            raise err(fld, f"is the range {v!r} whose low end exceeds its high end")
        return DomainAxis(name, v[0], v[1])
    if not ax.ok(v):
        raise err(fld, f"must be {ax.constraint()} or a range [low, high] of them, got {v!r}")
    return DomainAxis(name, v, v)


def _domain(table, quantity, inputs, expr, err) -> tuple[DomainAxis, ...]:
    """The domain: given axes, defaults for the others the bound needs; refuses r > d, unknown
    or unused varying symbols and missing required ones."""
    table = {} if table is None else table
    if not isinstance(table, dict):
        raise err("domain", "must be a table such as { d = [16, 1024], m = 128 }")
    need = set(QUANTITIES[quantity].needs) | {user_name(s) for s in expr.free_symbols if s in _USER}
    for q in inputs:
        need |= set(QUANTITIES[q].needs)
    need.discard("delta")
    given = {}
    for k, v in table.items():
        if k == "delta":
            raise err("domain.delta", "is not a domain symbol (set the field delta)")
        if k not in AXES:
            what = "a measured quantity" if k in QUANTITIES else "not a symbol of the model"
            raise err(f"domain.{k}", f"is {what} (domain symbols: {', '.join(AXES)})")
        given[k] = _axis_value(k, v, err)
        if given[k].varying and k not in need:
            raise err(f"domain.{k}", f"varies {k}, which neither the quantity {quantity!r} nor "
                                     "the expression uses")
    axes = []
    for k in AXES:
        if k not in need:
            continue
        if k in given:
            axes.append(given[k])
        elif AXES[k].default is None:
            who = f"quantity {quantity!r}" if k in QUANTITIES[quantity].needs else "the expression"
            raise err("domain", f"has no value for {k}, which the {who} needs (add {k} = ... "
                                "to [bound.domain])")
        else:
            axes.append(DomainAxis(k, AXES[k].default, AXES[k].default, given=False))
    by = {a.name: a for a in axes}
    if "r" in by and "d" in by and by["r"].hi > by["d"].lo:
        raise err("domain.r", f"allows r > d (r up to {by['r'].hi}, d from {by['d'].lo}); the "
                              "model needs r <= d")
    return tuple(axes)


# --- structural facts (sympy, three-valued, time-limited) -------------------------------------

class _Timeout(BaseException):
    """Raised by :class:`_Alarm` (a BaseException: sympy's `except Exception`
    blocks must not swallow it)."""


class _Alarm:
    """Interrupt the body of a ``with`` block after ``seconds`` (SIGALRM; only in the main
    thread, else no limit).

    The alarm rings again every ``_Alarm.AGAIN`` seconds until the block is left: Python runs a
    signal handler wherever the main thread happens to be, and an exception raised while a
    garbage-collector callback runs (hypothesis installs one under pytest) is printed and
    dropped, so a single ring can be lost and the sympy step would then run unbounded (it ran
    6 minutes under a 10-second limit in CI). A ring after the block has been left does
    nothing."""

    AGAIN = 0.05

    def __init__(self, seconds: float | None):
        self.usable = (seconds is not None and hasattr(signal, "setitimer")
                       and threading.current_thread() is threading.main_thread())
        self.seconds = seconds
        self.armed = False
        self.old = None

    def _ring(self, signum, frame):
        if self.armed:
            raise _Timeout()

    def __enter__(self):
        if self.usable:
            self.old = signal.signal(signal.SIGALRM, self._ring)
            self.armed = True
            signal.setitimer(signal.ITIMER_REAL, max(float(self.seconds), 0.01), self.AGAIN)
        return self

    def disarm(self):
        """Stop ringing and restore the previous handler (idempotent)."""
        if not self.armed:
            return
        self.armed = False                  # from here on a ring does nothing
        signal.setitimer(signal.ITIMER_REAL, 0)
        # None: the previous handler was not installed from Python; the default is the closest
        signal.signal(signal.SIGALRM, signal.SIG_DFL if self.old is None else self.old)

    def __exit__(self, *exc):
        self.disarm()
        return False


@dataclass
class _SympyTime:
    """Time for the sympy steps of one bound: ``total`` seconds, at most ``each`` per step."""

    total: float
    each: float
    start: float = field(default_factory=time.perf_counter)

    def run(self, fn: Callable[[], Any], default=None):
        left = self.total - (time.perf_counter() - self.start)
        if left <= 0:
            return default
        alarm = _Alarm(min(self.each, left))
        try:
            with alarm:
                return fn()
        except _Timeout:
            while True:  # a ring that landed inside __exit__ skipped the disarm: do it here
                try:
                    alarm.disarm()
                    break
                except _Timeout:
                    continue
            return default


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
    from .lemmas import _decide_sign

    def decide():
        deriv = sp.diff(typed, sym)
        if deriv == 0:
            return "constant"
        if _decide_sign(deriv, _sign_subs(), "nonpositive"):
            return "nonincreasing"
        if _decide_sign(deriv, _sign_subs(), "nonnegative"):
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
