"""The constants audit, pure part (no torch): audit rows, the comparison rules, the lemma and
structural-fact sections, and the table. qa/audit.py runs the simulations that feed it.

For every derived result the audit reports the value the proof gives, the value simulation
needs (a quantile, a mean or an exact value, with a confidence interval), the slack ratio
proof / simulation and, for the bounds with a multi-step proof, the slack of every step
(theory/slacks.py: ``step_slacks``). Status: 'VIOLATION' when simulation needs more than the
proof allows (a bug in the proof or in the code; the row names the configuration), 'VACUOUS'
when the bound says nothing (an upper bound on E_out of 1, a lower bound of 0), 'LOOSE' when the
slack exceeds SLACK_MAX (the steps say where it is lost), 'ok' otherwise. Whether a row is
violated is not decided here: the caller passes ``violated``, the decision of the one rule that
every audit path uses (qa/bound_decide.py ``decide``, applied to the row's runs by qa/audit.py).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from .lemmas import check_lemmas, structural_facts

__all__ = ["AuditRow", "SLACK_MAX", "exact_constant_row", "upper_constant_row",
           "lower_constant_row", "theory_sections", "table"]

#: a derived bound farther than this from what simulation needs is marked LOOSE
SLACK_MAX = 10.0


@dataclass
class AuditRow:
    constant: str
    section: str
    kind: str                    # 'exact' (an identity) | 'upper' (an upper bound) | 'lower'
    proof: float
    simulated: float             # point estimate
    consistent: float            # the end of the interval least favourable to the proof
    ci: tuple[float, float]
    slack: float                 # proof / simulated (upper), simulated / proof (lower)
    status: str                  # 'ok' | 'VIOLATION' | 'VACUOUS' | 'LOOSE'
    config: dict = field(default_factory=dict)
    note: str = ""
    steps: list = field(default_factory=list)     # [{"name", "slack"}]: per inequality
    # [{"route", "n", "slack", "n_star", "crossing", "censored", "what"}]: the n a proof route
    # needs at least, with exact or simulated ingredients (a floor on the slack of every bound
    # along it; qa/probe_routes.py)
    ceilings: list = field(default_factory=list)

    def record(self) -> dict:
        out = asdict(self)
        out["ci"] = list(self.ci)
        for k in ("proof", "simulated", "consistent", "slack"):
            if isinstance(out[k], float) and not math.isfinite(out[k]):
                out[k] = None
        out["ci"] = [None if isinstance(x, float) and not math.isfinite(x) else x
                     for x in out["ci"]]
        out["steps"] = [{"name": s["name"], "slack": s["slack"]
                         if s["slack"] is None or math.isfinite(s["slack"]) else None}
                        for s in self.steps]
        return out


def _ratio(a: float, b: float) -> float:
    if b == 0:
        return math.inf if a > 0 else 1.0
    return a / b


def _status(violated: bool, vacuous: bool, slack: float) -> str:
    if violated:
        return "VIOLATION"
    if vacuous:
        return "VACUOUS"
    return "LOOSE" if not slack <= SLACK_MAX else "ok"


def exact_constant_row(name: str, section: str, proof: float, est: float,
                       ci: tuple[float, float], config: dict, note: str = "", *,
                       violated: bool) -> AuditRow:
    """An identity constant: the estimate ``est`` with its two-sided interval ``ci``;
    ``violated``: the proof value lies outside it (decided by the caller's rule)."""
    lo, hi = ci
    return AuditRow(name, section, "exact", proof, est, lo, (lo, hi), _ratio(proof, est),
                    "VIOLATION" if violated else "ok", config, note)


def upper_constant_row(name: str, section: str, proof: float, needed: float, needed_lcb: float,
                       needed_ucb: float, config: dict, note: str = "", steps=(),
                       vacuous: bool = False, *, violated: bool) -> AuditRow:
    """An upper bound: simulation needs at least ``needed`` (with a confidence interval
    [needed_lcb, needed_ucb]); ``violated``: the caller's decision on the runs."""
    slack = _ratio(proof, needed)
    return AuditRow(name, section, "upper", proof, needed, needed_lcb, (needed_lcb, needed_ucb),
                    slack, _status(violated, vacuous, slack), config, note, list(steps))


def lower_constant_row(name: str, section: str, proof: float, actual: float, config: dict,
                       note: str = "", actual_ci: tuple | None = None, steps=(), *,
                       violated: bool) -> AuditRow:
    """A lower bound compared with a value (exact, or with an interval); ``violated``: the
    caller's decision on the runs; a bound of 0 (or less) is vacuous."""
    lo, hi = actual_ci if actual_ci else (actual, actual)
    slack = _ratio(actual, proof) if proof > 0 else math.inf
    return AuditRow(name, section, "lower", proof, actual, hi, (lo, hi), slack,
                    _status(violated, proof <= 0, slack), config, note, list(steps))


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
