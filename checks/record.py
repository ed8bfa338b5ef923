"""A claim's decision as a record of results.json: ClaimResult (statistic, confidence bound,
verdict and its reasons, subchecks, negative controls), the subcheck and control records, the
versions of the libraries, and JSON-safe numbers (checks/schemas/results.schema.json)."""
from __future__ import annotations

import math
import platform
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .io import json_safe

if TYPE_CHECKING:
    from .context import Context

__all__ = ["ClaimResult", "finite", "nanmax", "versions", "Timer"]


def finite(x: float) -> float | None:
    """JSON-safe number: None for inf/nan (results.json is strict JSON)."""
    return None if x is None or not math.isfinite(x) else float(x)


def nanmax(values) -> float:
    """max that returns NaN when any value is NaN (the builtin max may skip it)."""
    vals = [float(v) for v in values]
    return math.nan if any(math.isnan(v) for v in vals) else max(vals)


def versions() -> dict:
    import mpmath
    import numpy
    import sympy
    import torch

    import mtlcheck
    return {"mtlcheck": mtlcheck.__version__, "python": platform.python_version(),
            "torch": torch.__version__, "sympy": sympy.__version__, "mpmath": mpmath.__version__,
            "numpy": numpy.__version__}


@dataclass
class ClaimResult:
    """One claim's decision: the record written to results.json. ``primary`` is the Decision
    of the claim's main rule (checks/rules.py); subchecks and controls are the records of their
    rules' Decisions (``Decision.component`` / ``Decision.control``)."""

    id: str
    parameters: dict
    statistic_name: str
    primary: object               # checks.rules.Decision
    bound_provenance: str
    controls: list                # Decision.control(...) records, at least two
    subchecks: list = field(default_factory=list)
    seeds: list = field(default_factory=list)
    device: str = ""
    wall_s: float = 0.0
    details: dict = field(default_factory=dict)
    operating_characteristic: dict | None = None
    plain: str = ""               # the primary confidence bound in plain words
    sequential: dict | None = None  # how a claim decided in rounds stopped (sequential.py)

    @property
    def statistic(self) -> float:
        return self.primary.statistic

    @property
    def confidence_bound(self) -> float:
        return self.primary.confidence_bound

    @property
    def bound(self) -> float:
        return self.primary.boundary

    @property
    def side(self) -> str:
        return self.primary.side

    @property
    def alpha(self) -> float:
        return self.primary.alpha

    @property
    def primary_pass(self) -> bool:
        """The primary rule's verdict (a non-finite bound never passes)."""
        return self.primary.ok

    @property
    def margin(self) -> float:
        """bound - cb for an upper bound, cb - bound for a lower one: >= 0 passes."""
        return (self.bound - self.confidence_bound if self.side == "upper"
                else self.confidence_bound - self.bound)

    @property
    def negative_control(self) -> dict:
        """Summary of the controls: 'rejected' only when every one is rejected on evidence;
        'accepted' when the rule passes one; else 'undecided'."""
        verdicts = [c["verdict"] for c in self.controls]
        if not verdicts:
            summary = "undecided"
        elif all(v == "rejected" for v in verdicts):
            summary = "rejected"
        elif "accepted" in verdicts:
            summary = "accepted"
        else:
            summary = "undecided"
        return {"description": "; ".join(f"({i + 1}) {c['description']}"
                                         for i, c in enumerate(self.controls)),
                "verdict": summary}

    @property
    def verdict_reason(self) -> str:
        reasons = []
        if not self.primary_pass:
            reasons.append("primary decision")
        reasons += [f"subcheck: {s['name']}" for s in self.subchecks if s["verdict"] != "pass"]
        for c in self.controls:
            if c["verdict"] == "accepted":
                reasons.append(f"negative control accepted: {c['name']} (the rule cannot tell)")
            elif c["verdict"] != "rejected":
                reasons.append(f"negative control undecided: {c['name']} (its confidence "
                               "bound does not reach beyond the boundary)")
        if len(self.controls) < 2:
            reasons.append("fewer than two negative controls")
        return "; ".join(reasons)

    @property
    def verdict(self) -> str:
        """'pass' only when the primary decision and every subcheck pass AND every negative
        control was rejected on evidence (its own confidence bound beyond the boundary).
        'undecided' when a claim decided in rounds reached its cap with a component still
        undecided and none decided against it (checks/sequential.py)."""
        if not self.verdict_reason:
            return "pass"
        q = self.sequential or {}
        return "undecided" if q.get("stopped") == "cap" and q.get("state") == "open" else "fail"

    def components(self) -> list[dict]:
        return [self.primary.component("primary decision", "primary")] + list(self.subchecks)

    def error_bounds(self) -> dict:
        """The claim's error probabilities by the intersection-union principle
        (docs/derivations.md section 10.1): the claim passes only when every component passes,
        so when the claimed property fails - some false-pass component's null holds - it passes
        with probability at most that component's alpha: the false-pass bound is the largest
        alpha of the false-pass components (no Bonferroni). The false-alarm components fail on
        evidence of a violation; the chance that one of them fails a claim that holds is at
        most the sum of their alphas (a union). The chance of failing a claim that holds also
        includes 1 - P(pass) of the false-pass components (operating_characteristic)."""
        comps = self.components()
        fp = [c["alpha"] for c in comps if c["error"] == "false pass"]
        fa = [c["alpha"] for c in comps if c["error"] == "false alarm"]
        return {"false_pass": max(fp, default=0.0),
                "false_pass_method": "intersection-union: the largest alpha of the components "
                                     "that protect against a false pass",
                "false_alarm_components": float(sum(fa)),
                "false_alarm_note": "sum of the alphas of the false-alarm components (a union); "
                                    "failing a claim that holds is also possible through the "
                                    "false-pass components: see operating_characteristic",
                "components": [{"name": c["name"], "error": c["error"], "alpha": c["alpha"]}
                               for c in comps]}

    def record(self) -> dict:
        from .claims import get                     # the registry imports the claim modules
        c = get(self.id).statement
        p = self.primary
        return json_safe({
            "id": self.id, "title": c.title, "statement": c.statement,
            "statement_latex": c.latex,
            "provenance": list(c.provenance) + ([self.bound_provenance] if self.bound_provenance
                                                else []),
            "parameters": self.parameters,
            "statistic": {"name": self.statistic_name, "value": finite(self.statistic)},
            "confidence_bound": {"value": finite(self.confidence_bound), "side": self.side,
                                 "alpha": self.alpha, "method": p.method, "rule": p.rule,
                                 "relation": p.relation, "plain": self.plain},
            "primary": self.primary.component(self.statistic_name, "primary"),
            "bound": finite(self.bound), "margin": finite(self.margin), "verdict": self.verdict,
            "verdict_reason": self.verdict_reason,
            "error_bounds": self.error_bounds(),
            "subchecks": self.subchecks, "negative_control": self.negative_control,
            "negative_controls": self.controls,
            "operating_characteristic": self.operating_characteristic,
            "seeds": self.seeds, "device": self.device, "versions": versions(),
            "wall_s": self.wall_s, "details": self.details,
            **({"sequential": self.sequential} if self.sequential else {}),
        })

    def failure_message(self, ctx: Context) -> str:
        parts = [f"{self.id} failed ({self.verdict_reason}): {self.statistic_name}: confidence "
                 f"bound {self.confidence_bound:.4g} vs bound {self.bound:.4g} ({self.side})",
                 f"reproduce with: {ctx.reproduce(self.id)}"]
        return "; ".join(parts)


class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.s = time.perf_counter() - self.t0
