"""Bounds as data: the file format of `mtlcheck audit --bounds FILE.toml` (docs/bounds-as-data.md).

A bound file is TOML with one [[bound]] table per statement "quantity <= expression" (or >=), in
expectation, with probability >= 1 - delta, or always. This package (no torch) loads and
validates such a file (loader.py, into spec.py's BoundSpec over vocabulary.py's names), compiles
each expression through an allow-list over Python's ``ast`` into a sympy expression that it
builds node by node (compiler.py; the text never reaches eval, sympify or parse_expr), evaluates
bounds numerically without generating code (evaluator.py), and derives the structural facts
(facts.py, under the time limits of timers.py: which symbols a bound depends on, monotonicity in
T and n2, admissibility for the claim it supports, via theory/claims.py). The project's own
derived bounds ship as a bound file, derived.toml (builtin.py: ``builtin_bounds``, ``restate``).
It imports theory/ only. The simulations that measure each quantity are in qa/bound_measure.py.

A file may come from anyone: every problem is a :class:`BoundFileError`, one line that names the
bound, the field and the problem (the CLI prints it and exits with status 2).
"""
from .builtin import BUILTIN, builtin_bound, builtin_bounds, restate
from .compiler import compile_expression
from .evaluator import numeric
from .facts import structural_facts
from .loader import load_bounds, parse_bound, parse_bounds
from .spec import BoundSpec, DomainAxis
from .vocabulary import (AXES, FUNCTIONS, LIMITS, QUANTITIES, Axis, BoundFileError, Limits,
                         Quantity, quantities_help, user_name)

__all__ = ["BoundFileError", "Limits", "LIMITS", "Quantity", "QUANTITIES", "Axis", "AXES",
           "FUNCTIONS", "BoundSpec", "DomainAxis", "compile_expression", "numeric",
           "load_bounds", "parse_bounds", "parse_bound", "structural_facts", "user_name",
           "quantities_help", "BUILTIN", "builtin_bounds", "builtin_bound", "restate"]
