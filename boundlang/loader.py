"""Loading a bound file: read the TOML (size and encoding checked), validate each [[bound]]
table field by field into a :class:`BoundSpec`; every problem is a one-line
:class:`BoundFileError` naming the file, the bound and the field.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

from ..theory import symbols as S
from ..theory.claims import CLAIMS, claim as get_claim
from .compiler import _compile, _Node
from .spec import BoundSpec, DomainAxis
from .vocabulary import _RESERVED, _USER, AXES, LIMITS, QUANTITIES, BoundFileError, user_name

try:                                    # Python >= 3.11
    import tomllib as _toml
except ModuleNotFoundError:             # pragma: no cover - Python 3.10 needs the tomli backport
    import tomli as _toml

__all__ = ["load_bounds", "parse_bounds", "parse_bound"]


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
