"""The constants audit, pure part (no torch): audit rows, the comparison rules, the lemma and
structural-fact sections, and the table. sim/audit.py runs the simulations that feed it.

For every constant of a derived result the audit reports the value the proof gives, the
smallest value consistent with simulation (a one-sided confidence bound), and the slack ratio
proof / simulation. A proof constant below what simulation requires is a VIOLATION: a bug in
the proof or in the code; the row then names the configuration that violates it.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from .lemmas import check_lemmas, structural_facts

__all__ = ["AuditRow", "exact_constant_row", "upper_constant_row", "theory_sections", "table"]


@dataclass
class AuditRow:
    constant: str
    section: str
    kind: str                    # 'exact' (an identity) | 'upper' (an upper bound) | 'lower'
    proof: float
    simulated: float             # point estimate
    consistent: float            # smallest (for 'upper') value consistent with simulation
    ci: tuple[float, float]
    slack: float                 # proof / simulated
    status: str                  # 'ok' | 'VIOLATION'
    config: dict = field(default_factory=dict)
    note: str = ""

    def record(self) -> dict:
        return asdict(self)


def _ratio(a: float, b: float) -> float:
    if b == 0:
        return math.inf if a > 0 else 1.0
    return a / b


def exact_constant_row(name: str, section: str, proof: float, est: float, se: float, z: float,
                       config: dict, note: str = "") -> AuditRow:
    """An identity constant: consistent with simulation when the proof value lies within the
    two-sided interval est +- z se."""
    lo, hi = est - z * se, est + z * se
    ok = lo <= proof <= hi
    return AuditRow(name, section, "exact", proof, est, lo, (lo, hi), _ratio(proof, est),
                    "ok" if ok else "VIOLATION", config, note)


def upper_constant_row(name: str, section: str, proof: float, needed: float, needed_lcb: float,
                       needed_ucb: float, config: dict, note: str = "") -> AuditRow:
    """An upper-bound constant: simulation needs at least ``needed`` (with a confidence interval
    [needed_lcb, needed_ucb]); the proof violates it when proof < needed_lcb."""
    ok = proof >= needed_lcb
    return AuditRow(name, section, "upper", proof, needed, needed_lcb, (needed_lcb, needed_ucb),
                    _ratio(proof, needed), "ok" if ok else "VIOLATION", config, note)


def lower_constant_row(name: str, section: str, proof: float, actual: float, config: dict,
                       note: str = "") -> AuditRow:
    """A lower bound compared with an exactly computed value: violated when proof > actual."""
    ok = proof <= actual + 1e-9
    return AuditRow(name, section, "lower", proof, actual, actual, (actual, actual),
                    _ratio(actual, proof) if proof > 0 else math.inf, "ok" if ok else "VIOLATION",
                    config, note)


def theory_sections(max_boxes: int = 20000) -> dict:
    """Interval-arithmetic lemma certificates and the symbolic structural facts."""
    return {"lemmas": check_lemmas(max_boxes), "structural_facts": structural_facts()}


def _fmt(x) -> str:
    if isinstance(x, float):
        if math.isinf(x):
            return "inf"
        return f"{x:.4g}"
    return str(x)


def table(rows: list[AuditRow]) -> str:
    from tabulate import tabulate
    return tabulate([[r.constant, r.section, r.kind, _fmt(r.proof), _fmt(r.simulated),
                      f"[{_fmt(r.ci[0])}, {_fmt(r.ci[1])}]", _fmt(r.slack), r.status]
                     for r in rows],
                    headers=["constant", "section", "kind", "proof", "simulation", "CI",
                             "slack", "status"])
