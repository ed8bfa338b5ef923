"""Counterexample search: Hypothesis strategies over (d, r, T, n1, n2, m, seed) that try to
violate each derived bound and shrink a violation to a minimal configuration.

    mtlcheck counterexamples [--examples N] [--json]

Deterministic (derandomised Hypothesis, no example database): the same call explores the same
configurations. A probabilistic bound (failure probability delta) counts as violated at a
configuration only when at least 2 of 5 independent runs exceed it, which happens with
probability <= 10 delta^2 = 1e-3 (delta = 0.01) under a correct bound.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

import torch
from hypothesis import HealthCheck, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from ..sim.pretrain import PretrainConfig, pretrain
from ..sim.samplers import generator, haar, sphere
from ..theory.bounds import rf_risk_lower_bound, width_risk_curve
from ..theory.eout_bound import e_out_hp_bound_tight
from ..theory.isotropy_bound import single_task_isotropy_tight
from ..theory.model import Algorithm, ReferenceModel
from ..theory.params import validate
from .bound_search import hypothesis_scratch

__all__ = ["BOUNDS", "WRONG", "search", "main_counterexamples"]

DELTA = 0.01
RUNS = 5


#: the region each bound is searched over (where it is not vacuous)
REGIONS = {
    "single": dict(r=(2, 4), d=(5, 48), T=(1, 1), n1=(8, 512), n2=(8, 16384), m=(4, 64)),
    "hp": dict(r=(2, 2), d=(4, 12), T=(512, 1024), n1=(2048, 4096), n2=(2048, 4096), m=(128, 256)),
    "rf": dict(r=(2, 4), d=(5, 48), T=(1, 1), n1=(1, 1), n2=(1, 1), m=(1, 96)),
}


def _configs(region: str):
    R = REGIONS[region]

    @st.composite
    def cfg(draw):
        r = draw(st.integers(*R["r"]))
        d = draw(st.integers(max(r + 1, R["d"][0]), R["d"][1]))
        return {"d": d, "r": r, **{k: draw(st.integers(*R[k])) for k in ("T", "n1", "n2", "m")},
                "seed": draw(st.integers(0, 2 ** 16))}

    return cfg()


def _runs(c, metric):
    return [pretrain(PretrainConfig(ReferenceModel(c["d"], c["r"]),
                                    Algorithm(c["T"], c["n1"], c["n2"], c["m"]),
                                    seed=c["seed"] * RUNS + k)).metrics()[metric]
            for k in range(RUNS)]


def _isotropy_violated(c, scale=1.0):
    b = scale * single_task_isotropy_tight(c["r"], c["n2"], DELTA)
    return sum(v > b for v in _runs(c, "isotropy")) >= 2


def _e_out_violated(c):
    b = e_out_hp_bound_tight(c["d"], c["r"], c["T"], c["n1"], c["n2"], c["m"], DELTA)
    return b < 1 and sum(v > b for v in _runs(c, "E_out")) >= 2


def _rf_violated(c):
    """Section 8.1 is deterministic given W: the exact best-probe risk must not be below it."""
    g = generator(c["seed"])
    M = haar(c["d"], c["r"], g, torch.float64).numpy()
    W = sphere(c["m"], c["d"], g, torch.float64).numpy()
    return width_risk_curve(W, M, [c["m"]])[0] < rf_risk_lower_bound(W, M) - 1e-9


@dataclass(frozen=True)
class Bound:
    name: str
    section: str
    region: str
    violated: Callable[[dict], bool]
    examples: int = 25


BOUNDS = (
    Bound("single-task isotropy bound (delta=0.01)", "7", "single", _isotropy_violated),
    Bound("high-probability E_out bound (delta=0.01)", "9", "hp", _e_out_violated, 4),
    Bound("random-feature risk lower bound", "8.1", "rf", _rf_violated),
)
#: a deliberately wrong bound (the isotropy bound divided by 100): the negative control of the
#: search, which must find and shrink a counterexample to it
WRONG = Bound("isotropy bound / 100 (deliberately wrong)", "7", "single",
              lambda c: _isotropy_violated(c, scale=0.01))


def search(bound: Bound, examples: int | None = None) -> dict:
    """Search for a configuration violating ``bound``; the minimal one found, or None."""
    examples = examples or bound.examples
    s = settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                 suppress_health_check=list(HealthCheck))
    try:
        with hypothesis_scratch():        # Hypothesis writes nothing into the working folder
            found = find(_configs(bound.region), bound.violated, settings=s)
    except NoSuchExample:
        return {"bound": bound.name, "section": bound.section, "counterexample": None,
                "examples": examples}
    return {"bound": bound.name, "section": bound.section, "counterexample": found,
            "examples": examples,
            "reproduce": f"mtlcheck sim pretrain --d {found['d']} --r {found['r']} "
                         f"--T {found['T']} --n1 {found['n1']} --n2 {found['n2']} --m {found['m']} "
                         f"--seed {found['seed'] * RUNS} --json (and seeds +1..+{RUNS - 1})"}


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
