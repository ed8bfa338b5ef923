"""`mtlcheck report`."""
from __future__ import annotations

import os
import sys

from .build import compile_pdf, write
from ..theory.params import Described, ParameterError
from .load import load_audit, load_results


def main_report(args) -> int:
    results = load_results(args.results)
    audit = load_audit(getattr(args, "audit", None))
    out = os.path.abspath(args.out)
    try:
        info = write(results, audit, out)
    except (KeyError, TypeError, IndexError, ValueError, AttributeError) as e:
        # a results file that passed the top-level checks but lacks a nested field
        raise ParameterError("results", "report", "a readable results.json written by "
                             "`mtlcheck run`", Described(f"{args.results!r} (malformed: missing or "
                                                         f"invalid field {e!s})")) from None
    print(f"mtlcheck report: {len(info['tables'])} tables, {len(info['figures'])} figures, "
          f"macros.tex and report.tex in {out}")
    if args.no_pdf:
        return 0
    ok, msg = compile_pdf(out)
    if ok:
        print(f"mtlcheck report: compiled {msg}")
        return 0
    print(f"mtlcheck report: {msg}", file=sys.stderr)
    return 0 if msg.startswith("pdflatex not found") else 1
