"""Typed views of a results.json (validated against checks/schemas/results.schema.json before
it reaches here): tables and figures read fields, not nested string keys."""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Control", "Subcheck", "Power", "ClaimRecord", "Results", "Curves", "C1Details"]


def _num(x):
    return None if x is None else float(x)


@dataclass(frozen=True)
class Control:
    name: str
    description: str
    statistic: float | None
    confidence_bound: float | None
    verdict: str


@dataclass(frozen=True)
class Subcheck:
    name: str
    statistic: float | None
    confidence_bound: float | None
    bound: float | None
    side: str
    verdict: str


@dataclass(frozen=True)
class OperatingCharacteristic:
    """A claim record's operating_characteristic (checks/rules.py)."""

    effect_name: str
    tolerance: float
    tolerance_plain: str
    p_pass_at_null: float | None
    effect_pass_80: float | None
    effect_fail_80: float | None
    datasets: int
    method: str


@dataclass(frozen=True)
class ClaimRecord:
    id: str
    title: str
    statement: str
    latex: str
    provenance: tuple
    statistic_name: str
    statistic: float | None
    confidence_bound: float | None
    side: str
    alpha: float
    method: str
    bound: float | None
    margin: float | None
    verdict: str
    verdict_reason: str
    subchecks: tuple
    controls: tuple
    oc: OperatingCharacteristic | None
    plain: str
    error_bounds: dict
    parameters: dict
    details: dict
    device: str
    wall_s: float

    @staticmethod
    def of(rec: dict) -> "ClaimRecord":
        cb = rec["confidence_bound"]
        controls = rec.get("negative_controls") or [
            {"name": "control", "description": rec["negative_control"]["description"],
             "statistic": None, "confidence_bound": None,
             "verdict": rec["negative_control"]["verdict"]}]
        p = rec.get("operating_characteristic")
        return ClaimRecord(
            rec["id"], rec["title"], rec["statement"], rec.get("statement_latex") or "",
            tuple(rec["provenance"]), rec["statistic"]["name"], _num(rec["statistic"]["value"]),
            _num(cb["value"]), cb["side"], float(cb["alpha"]), cb["method"], _num(rec["bound"]),
            _num(rec["margin"]), rec["verdict"], rec.get("verdict_reason", ""),
            tuple(Subcheck(s["name"], _num(s["statistic"]), _num(s["confidence_bound"]),
                           _num(s["bound"]), s["side"], s["verdict"]) for s in rec["subchecks"]),
            tuple(Control(c["name"], c.get("description", ""), _num(c["statistic"]),
                          _num(c["confidence_bound"]), c["verdict"]) for c in controls),
            None if not p else OperatingCharacteristic(
                p["effect_name"], float(p["tolerance"]), p["tolerance_plain"],
                _num(p["p_pass_at_null"]), _num(p["effect_pass_80"]), _num(p["effect_fail_80"]),
                int(p["datasets"]), p["method"]),
            cb.get("plain", ""), rec.get("error_bounds", {}),
            rec["parameters"], rec["details"], rec["device"], float(rec["wall_s"]))

    @property
    def controls_rejected(self) -> str:
        return f"{sum(c.verdict == 'rejected' for c in self.controls)}/{len(self.controls)}"


@dataclass(frozen=True)
class Results:
    claims: dict
    profile: str
    seed: int
    device: str
    versions: dict
    consistent: bool = True
    runs: tuple = field(default_factory=tuple)

    @staticmethod
    def of(doc: dict) -> "Results":
        claims = {c["id"]: ClaimRecord.of(c) for c in doc["claims"]}
        return Results(claims, doc["profile"], int(doc["seed"]), doc["device"],
                       doc.get("versions", {}), bool(doc.get("consistent", True)),
                       tuple(doc.get("runs", ())))

    def resolved_device(self) -> str:
        """The device the last run used (not the request 'auto')."""
        for run in reversed(self.runs):
            if run.get("resolved_device"):
                return str(run["resolved_device"])
        return self.device


@dataclass(frozen=True)
class Curves:
    """A complexity against d for several feature maps: geometric means, intervals, bounds."""

    value: dict          # name -> {d: value or None}
    interval: dict       # name -> {d: (lo, hi)}
    bound: dict          # {d: value or None}

    @staticmethod
    def of(details: dict, key: str) -> "Curves":
        ints = lambda m: {int(d): v for d, v in m.items()}
        return Curves({name: ints(v) for name, v in details[key].items()},
                      {name: {int(d): tuple(v) for d, v in m.items()}
                       for name, m in details.get(f"{key}_ci", {}).items()},
                      ints(details.get(f"{key}_bound", {})))

    def ds(self, name: str) -> list[int]:
        return sorted(self.value[name])


@dataclass(frozen=True)
class C1Details:
    """C1's sweeps as numbers: E_out and isotropy per T (multi-task and one task), prediction."""

    E_out: dict
    isotropy: dict
    single_E_out: dict
    single_isotropy: dict
    prediction: dict
    spectrum_multi: list
    spectrum_single: list

    @staticmethod
    def of(details: dict) -> "C1Details":
        ints = lambda m: {int(k): v for k, v in m.items()}
        return C1Details(ints(details["E_out_vs_T"]), ints(details["isotropy_vs_T"]),
                         ints(details["single_task_E_out_vs_T"]),
                         ints(details["single_task_isotropy_vs_T"]),
                         ints(details["prediction_vs_T"]), details["spectrum_multi"],
                         details["spectrum_single"])
