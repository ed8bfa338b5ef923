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

__all__ = ["ClaimResult", "finite", "nanmax", "versions", "subcheck", "negative_control_record",
           "Timer"]


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
    """One claim's decision: the record written to results.json."""

    id: str
    parameters: dict
    statistic_name: str
    statistic: float
    confidence_bound: float
    side: str                     # "upper": pass iff cb <= bound; "lower": pass iff cb >= bound
    alpha: float
    method: str
    bound: float
    bound_provenance: str
    controls: list                # negative_control_record(...) dicts, at least two
    subchecks: list = field(default_factory=list)
    seeds: list = field(default_factory=list)
    device: str = ""
    wall_s: float = 0.0
    details: dict = field(default_factory=dict)
    power: dict | None = None

    @property
    def primary_pass(self) -> bool:
        """The primary decision needs evidence to pass: a non-finite (censored, undefined or
        NaN) confidence bound never passes."""
        if not math.isfinite(self.confidence_bound):
            return False
        return (self.confidence_bound <= self.bound if self.side == "upper"
                else self.confidence_bound >= self.bound)

    @property
    def margin(self) -> float:
        """bound - cb for an upper bound, cb - bound for a lower one: >= 0 passes."""
        return (self.bound - self.confidence_bound if self.side == "upper"
                else self.confidence_bound - self.bound)

    @property
    def negative_control(self) -> dict:
        """Summary of the controls: 'rejected' only when every one is rejected; 'undecided'
        when one is undecided (NaN or censored); else 'accepted'."""
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
                reasons.append(f"negative control undecided: {c['name']} (censored or NaN)")
        if len(self.controls) < 2:
            reasons.append("fewer than two negative controls")
        return "; ".join(reasons)

    @property
    def verdict(self) -> str:
        """'pass' only when the primary decision and every subcheck pass AND every negative
        control was rejected with a finite statistic: a rule that accepts a control, or cannot
        decide it, decides nothing."""
        return "fail" if self.verdict_reason else "pass"

    def error_bounds(self) -> dict:
        """Sums of the components' alphas by error direction (Bonferroni): 'false pass' bounds
        the chance of passing when the claimed property is false (at the boundary), 'false
        alarm' the chance of failing when it holds."""
        comps = [{"alpha": self.alpha, "error": "false pass"}] + self.subchecks
        return {e: sum(c["alpha"] for c in comps if c.get("error", "false pass") == e)
                for e in ("false pass", "false alarm")}

    def record(self) -> dict:
        from .claims import get                     # the registry imports the claim modules
        c = get(self.id).statement
        return json_safe({
            "id": self.id, "title": c.title, "statement": c.statement,
            "statement_latex": c.latex,
            "provenance": list(c.provenance) + ([self.bound_provenance] if self.bound_provenance
                                                else []),
            "parameters": self.parameters,
            "statistic": {"name": self.statistic_name, "value": finite(self.statistic)},
            "confidence_bound": {"value": finite(self.confidence_bound), "side": self.side,
                                 "alpha": self.alpha, "method": self.method},
            "bound": finite(self.bound), "margin": finite(self.margin), "verdict": self.verdict,
            "verdict_reason": self.verdict_reason,
            "error_bounds": self.error_bounds(),
            "subchecks": self.subchecks, "negative_control": self.negative_control,
            "negative_controls": self.controls, "power": self.power,
            "seeds": self.seeds, "device": self.device, "versions": versions(),
            "wall_s": self.wall_s, "details": self.details,
        })

    def failure_message(self, ctx: Context) -> str:
        parts = [f"{self.id} failed ({self.verdict_reason}): {self.statistic_name}: confidence "
                 f"bound {self.confidence_bound:.4g} vs bound {self.bound:.4g} ({self.side})",
                 f"reproduce with: {ctx.reproduce(self.id)}"]
        return "; ".join(parts)


def subcheck(name: str, statistic: float, cb: float, bound: float, side: str, alpha: float,
             method: str, error: str = "false pass", **extra) -> dict:
    """A component of a claim's decision, with its own one-sided bound and verdict.

    ``error`` says which error alpha bounds: 'false pass' (the component passes only with
    evidence: a non-finite bound fails) or 'false alarm' (it fails only with evidence of a
    violation). A NaN confidence bound never passes either way."""
    cbf = float(cb) if cb is not None else math.nan
    if math.isnan(cbf) or (error == "false pass" and not math.isfinite(cbf)):
        ok = False
    else:
        ok = cbf <= bound if side == "upper" else cbf >= bound
    return {"name": name, "statistic": finite(statistic), "confidence_bound": finite(cbf),
            "bound": finite(bound), "side": side, "alpha": alpha, "method": method,
            "error": error, "verdict": "pass" if ok else "fail", **extra}


def negative_control_record(name: str, description: str, statistic: float, bound: float,
                            rejected: bool, **extra) -> dict:
    """The claim's rule applied to a case where the claim must fail. 'rejected' (the good
    outcome) needs a finite statistic and confidence bound and the rule not passing; a NaN or
    infinite (censored) one is 'undecided', never 'rejected'."""
    ok = all(x is not None and math.isfinite(float(x)) for x in (statistic, bound))
    verdict = ("rejected" if rejected else "accepted") if ok else "undecided"
    return {"name": name, "description": description, "statistic": finite(statistic),
            "confidence_bound": finite(bound), "verdict": verdict, **extra}


class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.s = time.perf_counter() - self.t0
