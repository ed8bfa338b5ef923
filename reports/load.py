"""Read and validate the files a report is built from (results.json of `mtlcheck run`, and
optionally the JSON of `mtlcheck audit --json`). A missing or malformed file is a
ParameterError naming the parameter, what is expected and what was found."""
from __future__ import annotations

import json
import os

from ..theory.params import Described, ParameterError

REQUIRED_CLAIM_KEYS = ("id", "title", "statement", "provenance", "statistic", "confidence_bound",
                       "bound", "margin", "verdict", "negative_control", "details")


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


def load_results(path: str, where: str = "report") -> dict:
    what = "a readable results.json written by `mtlcheck run`"
    data = _read_json(path, "results", where, what)
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list) or not data["claims"]:
        _fail("results", where, what, f"{path!r} (no list of claims)")
    for i, c in enumerate(data["claims"]):
        missing = [k for k in REQUIRED_CLAIM_KEYS if not isinstance(c, dict) or k not in c]
        if missing:
            _fail("results", where, what, f"{path!r} (claim {i} lacks {', '.join(missing)})")
    return data


def load_audit(path: str | None, where: str = "report") -> dict | None:
    if path is None:
        return None
    what = "a readable JSON file written by `mtlcheck audit --json`"
    data = _read_json(path, "audit", where, what)
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        _fail("audit", where, what, f"{path!r} (no audit rows)")
    return data
