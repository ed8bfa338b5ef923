"""Read and validate the files a report is built from: results.json of `mtlcheck run` against
its JSON Schema (checks/schemas/results.schema.json), the audit JSON of `mtlcheck audit --json`
and the calibration JSON of `mtlcheck calibrate --json`. A missing or malformed file is one
ParameterError naming the parameter, what is expected and what was found, never a traceback and
never a report built on numbers that are not numbers."""
from __future__ import annotations

import json
import math
import os

from ..checks.results import validation_errors
from ..theory.params import Described, ParameterError

__all__ = ["load_results", "load_audit", "load_calibration"]


def _fail(name, where, what, got):
    raise ParameterError(name, where, what, Described(got))


def _read_json(path: str, name: str, where: str, what: str):
    """The JSON in ``path``, or one ParameterError naming ``name`` and why it cannot be read."""
    if not os.path.exists(path):
        _fail(name, where, what, f"{path!r} (no such file)")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, UnicodeDecodeError) as e:
        _fail(name, where, what, f"{path!r} ({e.__class__.__name__})")
    except json.JSONDecodeError as e:
        _fail(name, where, what, f"{path!r} (not JSON: line {e.lineno}, column {e.colno})")


def _non_finite(obj, path=""):
    """The first path at which a JSON document holds NaN or infinity (Python's json reads them)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return path or "(top level)"
    if isinstance(obj, dict):
        for k, v in obj.items():
            bad = _non_finite(v, f"{path}.{k}" if path else str(k))
            if bad:
                return bad
    if isinstance(obj, list):
        for i, v in enumerate(obj):
            bad = _non_finite(v, f"{path}[{i}]")
            if bad:
                return bad
    return None


def _checked(path: str, name: str, where: str, what: str, schema: str):
    data = _read_json(path, name, where, what)
    errors = validation_errors(data, schema, limit=1)
    if errors:
        _fail(name, where, what, f"{path!r} ({errors[0]})")
    bad = _non_finite(data)
    if bad:
        _fail(name, where, what, f"{path!r} ({bad}: not a finite number)")
    return data


def load_results(path: str, where: str = "report") -> dict:
    return _checked(path, "results", where, "a results.json written by `mtlcheck run` (schema: "
                    "checks/schemas/results.schema.json)", "results")


def load_audit(path: str | None, where: str = "report") -> dict | None:
    if path is None:
        return None
    return _checked(path, "audit", where, "a JSON file written by `mtlcheck audit --json` "
                    "(schema: checks/schemas/audit.schema.json)", "audit")


def load_calibration(path: str | None, where: str = "report") -> dict | None:
    if path is None:
        return None
    return _checked(path, "calibration", where, "a JSON file written by `mtlcheck calibrate "
                    "--json` (schema: checks/schemas/calibration.schema.json)", "calibration")
