"""The project's derived bounds as bound statements, shipped with the package
(boundlang/derived.toml): each derived result is written once, in the bound language, and every
audit path runs it through the one engine (qa/bound_decide.py ``decide``, qa/bound_search.py
``search``): `mtlcheck audit --bounds builtin`, and `mtlcheck counterexamples`, which restates
three of them (:func:`restate`) over its own regions and statistics.
"""
from __future__ import annotations

from importlib import resources
from typing import Any

from .loader import parse_bound, parse_bounds
from .spec import BoundSpec
from .vocabulary import BoundFileError

__all__ = ["BUILTIN", "builtin_bounds", "builtin_bound", "restate"]

#: the name `mtlcheck audit --bounds` takes for the shipped statements (it is not read as a path)
BUILTIN = "builtin"


def builtin_bounds() -> tuple[BoundSpec, ...]:
    """The shipped statements (boundlang/derived.toml), validated like any bound file; their
    ``path`` is ``builtin``, so reproduction commands say `--bounds builtin`."""
    text = resources.files(__package__).joinpath("derived.toml").read_text(encoding="utf-8")
    return parse_bounds(text, BUILTIN)


def builtin_bound(name: str) -> BoundSpec:
    """One shipped statement by name (KeyError naming the shipped ones when unknown)."""
    specs = {s.name: s for s in builtin_bounds()}
    if name not in specs:
        raise KeyError(f"no shipped bound {name!r} (shipped: {', '.join(specs)})")
    return specs[name]


def restate(spec: BoundSpec, path: str | None = None, **fields: Any) -> BoundSpec:
    """``spec`` with some fields of its [[bound]] table replaced (``domain`` replaces the whole
    domain), validated again as a new table: the same statement over another region, with other
    statistics, or (``expression``) a variant of it. BoundFileError when the result is invalid."""
    table = spec.table()
    unknown = sorted(set(fields) - set(table) - {"claim", "delta", "let", "constants"})
    if unknown:
        raise BoundFileError(f"restate: {unknown[0]!r} is not a field of a bound", spec.name)
    table.update(fields)
    return parse_bound(table, spec.index, spec.path if path is None else path)
