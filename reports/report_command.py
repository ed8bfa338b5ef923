"""`mtlcheck report`."""
from __future__ import annotations

import sys

from ..checks.io import check_writable_folder
from .build import compile_pdf, write
from .load import load_audit, load_calibration, load_results


def main_report(args) -> int:
    out = check_writable_folder(args.out, "out", "report")
    results = load_results(args.results)
    audit = load_audit(getattr(args, "audit", None))
    calibration = load_calibration(getattr(args, "calibration", None))
    info = write(results, audit, out, calibration)
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
