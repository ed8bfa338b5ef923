"""Counterexample search: Hypothesis searches regions of configurations for one that violates a
derived bound, and shrinks a violation to a minimal configuration.

    mtlcheck counterexamples [--examples N] [--json]

It runs on the engine of `mtlcheck audit --bounds` (docs/bounds-as-data.md, "One engine"). Each
bound is a shipped bound statement (boundlang/derived.toml), restated (boundlang ``restate``)
with its region of REGIONS as the domain, delta = DELTA = 0.01, RUNS = 5 runs per
configuration and alpha = ALPHA = 1e-3; qa/bound_search.py ``search`` (derandomised Hypothesis,
no example database, shrinking towards the low end of every symbol) looks for a configuration
that qa/bound_decide.py ``point_decision`` rejects at level alpha. For the two probability
bounds that is the exact binomial test: k of the 5 runs beyond the bound are a violation when
P(Bin(5, 0.01) >= k) <= 1e-3, i.e. k >= 2 (P(Bin(5, 0.01) >= 2) = 9.8e-4, while >= 1 has
probability 0.049): the former "2 of 5 runs" rule, at the same alpha. The random-feature bound
holds on every draw: one of the 5 draws below it is a violation.

Run k at every configuration uses seed 1000 SEED + k (qa/bound_measure.py ``measure_point``,
SEED = 0), so a counterexample is reproduced by `mtlcheck audit --bounds builtin:counterexamples
--only NAME --at CONFIG --seed 0` (the `reproduce` line); it is also tried with fresh seeds
(1000 (SEED + 1) + k, `confirmed`). Deterministic: the same call explores the same
configurations.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache

from ..boundlang import BoundSpec, builtin_bound, restate
from ..theory.params import validate
from . import bound_search
from .bound_audit import COUNTEREXAMPLE_SET, _jsonable, _reproduce
from .bound_decide import point_decision
from .bound_measure import _Clock, _seeds, measure_point

__all__ = ["BOUNDS", "WRONG", "REGIONS", "DELTA", "RUNS", "ALPHA", "SEED", "Bound", "specs",
           "search", "main_counterexamples"]

DELTA = 0.01                       # failure probability of the two probability bounds
RUNS = 5                           # runs per configuration
ALPHA = 1e-3                       # level of the test per configuration: "2 of 5 runs" (above)
SEED = 0                           # run k uses seed 1000 SEED + k
WRONG_SCALE = 0.01                 # the negative control: the isotropy bound / 100


#: the region each bound is searched over (where it is not vacuous): (low, high) per symbol
REGIONS = {
    "single": dict(r=(2, 4), d=(5, 48), T=(1, 1), n1=(8, 512), n2=(8, 16384), m=(4, 64)),
    "hp": dict(r=(2, 2), d=(4, 12), T=(512, 1024), n1=(2048, 4096), n2=(2048, 4096), m=(128, 256)),
    "rf": dict(r=(2, 4), d=(5, 48), T=(1, 1), n1=(1, 1), n2=(1, 1), m=(1, 96)),
}


@dataclass(frozen=True)
class Bound:
    """A shipped statement (``statement``, boundlang/derived.toml) searched over ``region``;
    ``scale``: a deliberately wrong variant, the bound times ``scale``."""

    name: str
    section: str
    region: str
    statement: str
    examples: int = 25
    scale: float | None = None

    def spec(self) -> BoundSpec:
        """The bound statement the engine searches (:func:`_spec`)."""
        return _spec(self)

    def violated(self, config: dict, seed: int = SEED, device: str = "auto") -> bool:
        """The engine's decision (``point_decision`` at level ALPHA) on the RUNS runs at
        ``config`` (the spec's symbols; those left out at the low end of the region)."""
        spec = self.spec()
        full = {a.name: config.get(a.name, a.lo) for a in spec.domain}
        return bool(point_decision(spec, measure_point(spec, full, seed, device), spec.alpha)
                    ["violated"])


@lru_cache(maxsize=None)
def _spec(bound: Bound) -> BoundSpec:
    """The shipped statement restated over the region, with delta, RUNS runs and ALPHA (the
    probability bounds), or RUNS draws (always); the negative control multiplies the
    expression by ``scale`` and gets its own name."""
    base = builtin_bound(bound.statement)
    domain = {k: lo if lo == hi else [lo, hi] for k, (lo, hi) in REGIONS[bound.region].items()}
    fields = dict(domain=domain, runs=RUNS, alpha=ALPHA)
    if base.holds == "probability":
        fields["delta"] = DELTA
    if bound.scale is not None:
        fields.update(name=f"{base.name}-times-{bound.scale:g}",
                      source=f"negative control: {base.name} ({base.source}) times "
                             f"{bound.scale:g}, deliberately wrong",
                      expression=f"{bound.scale!r} * ({base.expression})")
    return restate(base, COUNTEREXAMPLE_SET, **fields)


BOUNDS = (
    Bound("single-task isotropy bound (delta=0.01)", "7", "single", "single-task-isotropy"),
    Bound("high-probability E_out bound (delta=0.01)", "9", "hp", "e-out-high-probability", 4),
    Bound("random-feature risk lower bound", "8.1", "rf", "random-feature-risk"),
)
#: a deliberately wrong bound (the isotropy bound divided by 100): the negative control of the
#: search, which must find and shrink a counterexample to it
WRONG = Bound("isotropy bound / 100 (deliberately wrong)", "7", "single", "single-task-isotropy",
              scale=WRONG_SCALE)


def specs() -> tuple[BoundSpec, ...]:
    """The statements searched, the negative control last (`--bounds builtin:counterexamples`)."""
    return tuple(b.spec() for b in BOUNDS + (WRONG,))


def search(bound: Bound, examples: int | None = None, device: str = "auto",
           progress=None) -> dict:
    """Search for a configuration violating ``bound`` with the engine's search; the minimal one
    found (``counterexample``, with the seed block of its runs), or None."""
    examples = examples or bound.examples
    spec = bound.spec()
    found, state = bound_search.search(spec, SEED, device, _Clock(math.inf), math.inf,
                                       spec.alpha, None, progress or (lambda m: None),
                                       examples=examples)
    out = {"bound": bound.name, "section": bound.section, "counterexample": None,
           "examples": examples, "statement": spec.name, "bound_file": COUNTEREXAMPLE_SET,
           "evaluated": len(state.points),
           "rule": f"{spec.holds}, runs {spec.runs}, alpha {spec.alpha:g}"
                   + (f", delta {spec.delta:g}" if spec.delta is not None else "")}
    if found is None:
        return out
    dec = next((d for pr, d in state.points if pr.config == found), {})
    fresh = point_decision(spec, measure_point(spec, found, SEED + 1, device, phase="confirm"),
                           spec.alpha)
    cmds = _reproduce(spec, found, SEED, COUNTEREXAMPLE_SET)
    out.update(counterexample={**found, "seed": SEED}, seeds=_seeds(SEED, spec.runs),
               slack=dec.get("slack"), estimate=dec.get("estimate"), at_bound=dec.get("bound"),
               violating_runs=dec.get("violating_runs"), confirmed=fresh["violated"],
               confirmation_seeds=_seeds(SEED + 1, spec.runs), commands=cmds,
               reproduce=cmds[0] + (f"; its runs: {cmds[1]}" if len(cmds) > 1 else ""))
    return _jsonable(out)


def main_counterexamples(args) -> int:
    """`mtlcheck counterexamples`: exit status 1 when a derived bound is broken, or when the
    deliberately wrong bound is not (the search would then be blind)."""
    examples = None
    if args.examples is not None:
        examples = validate("counterexamples", repeats=args.examples)["repeats"]
    out = [search(b, examples) for b in BOUNDS]
    wrong = search(WRONG, examples)
    if args.json:
        print(json.dumps({"bounds": out, "negative_control": wrong}))
    else:
        for r in out + [wrong]:
            ce = r["counterexample"]
            print(f"{r['bound']} (section {r['section']}): "
                  + ("no counterexample" if ce is None else f"COUNTEREXAMPLE {ce}; reproduce: "
                     f"{r['reproduce']}"))
    broken = any(r["counterexample"] is not None for r in out)
    return 1 if broken or wrong["counterexample"] is None else 0
