"""The claims table printed at the end of a run (at most 100 columns), with the statistic of
each claim, the replicates it used of its cap (claims decided in rounds) and the reasons for
any failure or undecided verdict listed below it."""
from __future__ import annotations

import textwrap

from tabulate import tabulate

__all__ = ["claims_table", "fmt"]

WIDTH = 100


def fmt(x, none: str = "inf") -> str:
    """A number in 4 significant digits; ``none`` for None (an infinite or missing value)."""
    if x is None:
        return none
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def _controls(rec: dict) -> str:
    many = rec.get("negative_controls")
    if many:
        rejected = sum(c["verdict"] == "rejected" for c in many)
        return f"{rejected}/{len(many)} rejected"
    return rec["negative_control"]["verdict"]


def _replicates(rec: dict) -> str:
    """Replicates used / cap of a claim decided in rounds; 'fixed' for a fixed design."""
    q = rec.get("sequential")
    return f"{q['replicates']}/{q['cap']}" if q else "fixed"


def claims_table(records: list[dict]) -> str:
    rows = []
    for r in records:
        cb = r["confidence_bound"]
        rows.append([r["id"], r["verdict"], fmt(r["statistic"]["value"]), fmt(cb["value"]),
                     f"{'<=' if cb['side'] == 'upper' else '>='} {fmt(r['bound'])}",
                     fmt(r["margin"]), _controls(r), _replicates(r),
                     f"{r.get('wall_s', 0):.0f} s"])
    table = tabulate(rows, headers=["id", "verdict", "statistic", "conf. bound", "bound", "margin",
                                    "neg. controls", "reps/cap", "time"])
    notes = []
    for r in records:
        line = f"{r['id']} {r['title']}: {r['statistic']['name']}"
        plain = r["confidence_bound"].get("plain")
        if plain:
            line += f"; {plain}"          # as written: 'm*' must not become 'M*'
        oc = r.get("operating_characteristic")
        if oc and oc.get("p_pass_at_null") is not None:
            line += (f". Tolerance: {oc['tolerance_plain']}; P(pass) when the claim holds "
                     f"exactly {oc['p_pass_at_null']:.3g}, >= 0.8 up to "
                     f"{oc['effect_name'].split(' ')[0]} = {fmt(oc['effect_pass_80'])}")
        fp = (r.get("error_bounds") or {}).get("false_pass")
        if fp is not None:
            line += f"; false-pass bound {fp:g}"
        if r["verdict"] != "pass":
            line += f". {r['verdict'].upper()}: {r['verdict_reason']}"
        notes += textwrap.wrap(line, WIDTH, subsequent_indent="    ")
    return table + "\n" + "\n".join(notes)
