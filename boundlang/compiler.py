"""The expression compiler of a bound file: an allow-list over Python's ``ast`` that builds the
sympy expression node by node (the text never reaches eval, sympify or parse_expr), with the
size, depth, exponent and magnitude limits of ``LIMITS`` checked on the way
(docs/bounds-as-data.md section 2).
"""
from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping

import sympy as sp

from ..theory import symbols as S
from .vocabulary import AXES, FUNCTIONS, LIMITS, QUANTITIES, BoundFileError

__all__ = ["compile_expression"]


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
