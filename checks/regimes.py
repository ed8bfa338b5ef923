"""A claim's decision rules placed in the regimes a profile uses, for `mtlcheck calibrate`
(qa/calibrate.py): each :class:`Calibration` turns the claim's record of a run and a profile's
parameters into (rule, real data, replicates per group, regime text). The rule is the very
object the claim decides with (its module builds both from the same function), and the real
data are the inputs that rule consumed in the run (the component's ``inputs``, found by its
``key``, never by position). calibrate puts the truth on each of the rule's boundaries and
draws synthetic data in every shape of checks/shapes.py. docs/derivations.md section 10 holds
the method.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .rules import Groups, deserialise

__all__ = ["Calibration", "inputs", "regime", "groups_calibration", "points_calibration",
           "exact_calibration"]


@dataclass(frozen=True)
class Calibration:
    """One decision rule of a claim: ``build(record, P)`` -> (rule, real data, sizes, regime),
    with ``record`` the claim's record of a run and ``P`` its parameters in one profile."""

    name: str
    build: Callable[[dict, dict], tuple]
    note: str = ""


def inputs(rec: dict, key: str):
    """The inputs the component ``key`` of a claim record decided on (deserialised)."""
    for c in [rec.get("primary") or {}] + list(rec.get("subchecks", [])):
        if c.get("key") == key:
            return deserialise(c["inputs"])
    raise KeyError(f"{rec.get('id')} has no decision component with key {key!r}")


def regime(real: Groups, xs, lo=None, hi=None) -> Groups:
    """The real groups' spreads and shapes mapped onto a regime's xs (group i of the regime
    takes the real group at the same relative position when the counts differ)."""
    idx = np.linspace(0, len(real.values) - 1, len(xs)).round().astype(int)
    return Groups.of(xs, [real.values[i] for i in idx], real.lo if lo is None else lo,
                     real.hi if hi is None else hi)


def groups_calibration(key: str, rule_of: Callable, size_key: str | None,
                       xs_of: Callable | None = None, limits_of: Callable | None = None,
                       label: str = "groups"):
    """A rule on groups (a slope or a mean): the run's inputs mapped onto the profile's xs
    (``xs_of(P)``, default the run's), censored at ``limits_of(P)`` (log grid ends), with
    P[size_key] replicates per group (None: the run's own counts)."""
    def build(rec, P):
        real = inputs(rec, key)
        xs = xs_of(P) if xs_of else list(real.xs)
        lo, hi = limits_of(P) if limits_of else (None, None)
        data = regime(real, xs, lo, hi)
        sizes = ([P[size_key]] * len(xs) if size_key else
                 [sum(1 for v in g if math.isfinite(v)) for g in data.values])
        return (rule_of(P), data, sizes, f"{len(xs)} {label} x {max(sizes)} replicates")
    return build


def points_calibration(key: str, rule_of: Callable, size_key: str, count_of: Callable,
                       label: str = "points"):
    """A rule at every point of a grid: the run's per-point inputs mapped onto the profile's
    number of points ``count_of(P)``."""
    def build(rec, P):
        pts = inputs(rec, key)
        k = count_of(P)
        idx = np.linspace(0, len(pts) - 1, k).round().astype(int)
        return (rule_of(P), [pts[i] for i in idx], [P[size_key]],
                f"{k} {label} x {P[size_key]} replicates")
    return build


def exact_calibration(rule_of: Callable, size_of: Callable, label: str):
    """A rule whose law at the boundary is known exactly (a binomial count, normal z-scores):
    no run's data needed, only the design's size."""
    def build(rec, P):
        n = size_of(P)
        return rule_of(P), [0.0] * n, n, f"{n} {label}"
    return build


def log_limits(grid_of: Callable) -> Callable:
    """(log min, log max) of a profile's grid: where synthetic complexities are censored."""
    return lambda P: (math.log(min(grid_of(P))), math.log(max(grid_of(P))))
