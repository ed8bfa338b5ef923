"""`mtlcheck audit --bounds`: the human-readable report of an audit document (a summary table,
then each bound: verdict, counterexample and its reproduction commands, constants, structural
facts, design).
"""
from __future__ import annotations

from ..checks.claims_table import fmt
from .bound_search import _cfg

__all__ = ["text_report"]


def _f(x) -> str:
    return fmt(x, none="-")


def _constants_lines(r: dict) -> list[str]:
    lines = []
    for name, c in r["constants"].items():
        if c["direction"] is None:
            lines.append(f"  constant {name}: typed {_f(c['typed'])}; {c.get('note', '')}")
            continue
        shown = "not reachable with these runs" if c["needed_ucb"] is None else _f(c["needed_ucb"])
        lines.append(f"  constant {name}: typed {_f(c['typed'])}; needed {c['direction']} "
                     f"{_f(c['needed'])} (simulation rejects beyond {_f(c['needed_lcb'])}; "
                     f"shown to hold from {shown})")
    return lines


def text_report(doc: dict) -> str:
    """The human-readable report of :func:`audit_bounds` (a summary table, then each bound)."""
    from tabulate import tabulate
    rows = [[r["name"], f"{r['quantity']} {r['relation']} ...", r["holds"], r["verdict"].upper()
             if r["verdict"] != "holds" else "holds", _f(r["slack_min"]), _f(r["error_prob"]),
             "FLAGGED" if r["flagged"] else ""] for r in doc["bounds"]]
    out = [tabulate(rows, headers=["bound", "statement", "holds in", "verdict", "least slack",
                                   "error prob.", "claim rules"])]
    for r in doc["bounds"]:
        out.append(f"\nbound {r['name']!r}: {r['quantity']} {r['relation']} {r['expression']} "
                   f"({r['holds']}{'' if r['delta'] is None else ', delta = ' + _f(r['delta'])})")
        if r["source"]:
            out.append(f"  source: {r['source']}")
        out.append(f"  verdict: {r['verdict']}"
                   + (f" ({r['strength']})" if r["strength"] else "")
                   + f"; {r['reason']}; error probability <= {_f(r['error_prob'])}")
        if r["at"] is not None:
            out.append(f"  least slack {_f(r['slack_min'])} at {_cfg(r['at'])}")
        cex = r["counterexample"]
        if cex:
            how = "shrunk by Hypothesis" if cex["shrunk"] else "not shrunk"
            out.append(f"  COUNTEREXAMPLE ({how}"
                       f"{', confirmed with fresh seeds' if cex['confirmed'] else ''}): "
                       f"{_cfg(cex['config'])}: measured {_f(cex['estimate'])} vs bound "
                       f"{_f(cex['bound'])}")
            out += [f"    reproduce: {c}" for c in cex["reproduce"]]
        out += _constants_lines(r)
        st = r["structural"]
        mono = ", ".join(f"{k}: {v['verdict']}" for k, v in st["monotone"].items())
        out.append(f"  depends on: {', '.join(st['depends_on']) or 'nothing'}; monotone in {mono}")
        if r["flag"]:
            out.append(f"  {r['flag']}")
        des = r["design"]
        out.append(f"  design: {des['visited']} of {des['planned']} points, "
                   f"{r['spec']['runs']} runs each; seeds {des['seeds']['values'][:3]}...")
    out.append(f"\n{doc['summary']} in {doc['wall_s']:.0f}s (budget {doc['budget_s']:.0f}s, "
               f"seed {doc['seed']}, {doc['device']})")
    return "\n".join(out)
