"""`mtlcheck report`. The CLI runs `mtlcheck verify` (qa/verify.py) on the results file first and
passes its summary in as plain data (reports/ may not import qa/, docs/design.md): a file that
verifies gets its digest stated in the report; one that does not is refused before anything is
written, unless --unverified, and then the report says NOT VERIFIED at the top."""
from __future__ import annotations

import sys

from ..checks.io import check_writable_folder
from .build import compile_pdf, write
from .load import load_audit, load_calibration, load_results

#: mismatch lines a NOT VERIFIED report lists (the verifier prints them all)
SHOWN = 5


def _refuse(args, verification: dict) -> int:
    """Print why the file does not verify; 1 for mismatches, 2 for a file it cannot check."""
    if "error" in verification:
        print(f"mtlcheck report: error: {args.results} cannot be verified "
              f"({verification['error']}); nothing written. Pass --unverified to build a report "
              "marked NOT VERIFIED.", file=sys.stderr)
        return 2
    lines = verification["mismatches"]
    print("\n".join(lines), file=sys.stderr)
    print(f"mtlcheck report: error: {args.results} does not verify: mtlcheck verify found "
          f"{len(lines)} mismatch{'es' if len(lines) != 1 else ''} (above); nothing written. "
          "Pass --unverified to build a report marked NOT VERIFIED.", file=sys.stderr)
    return 1


def main_report(args, verification: dict | None = None) -> int:
    """``verification``: qa/verify.verify_file's summary of args.results (None: not run)."""
    check_writable_folder(args.out, "out", "report", create=False)   # before reading anything
    results = load_results(args.results)              # unreadable / schema-invalid: exit 2
    audit = load_audit(getattr(args, "audit", None))
    calibration = load_calibration(getattr(args, "calibration", None))
    verification = verification or {"ok": False, "error": "the verifier was not run",
                                    "mismatches": []}
    unverified = getattr(args, "unverified", False)
    if not verification["ok"] and not unverified:
        return _refuse(args, verification)
    out = check_writable_folder(args.out, "out", "report")
    info = write(results, audit, out, calibration, verification={**verification, "shown": SHOWN})
    if verification["ok"]:
        print(f"mtlcheck report: verified by mtlcheck verify: digest {verification['digest']}, "
              f"{verification['components']} components re-decided, 0 mismatches")
    else:
        why = verification.get("error") or f"{len(verification['mismatches'])} mismatch(es)"
        print(f"mtlcheck report: WARNING: NOT VERIFIED ({why}); built anyway (--unverified), "
              "the report says so", file=sys.stderr)
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
