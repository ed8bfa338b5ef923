"""A claim's decision rules placed at their boundary, for `mtlcheck calibrate` (qa/calibrate.py):
each :class:`Calibration` turns the claim's record of a run and a profile's parameters into
(rule, synthetic data, boundary trend, regime text) - checks/rules.py holds the rules and the
synthetic-data model, docs/derivations.md section 10 the method. Claim modules declare their
calibrations with these builders (``CALIBRATIONS``, checks/claims/__init__.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .profiles import ALPHA
from .rules import GroupData, MeanRule, SlopeRule, slope_trend

__all__ = ["Calibration", "Power", "sorted_groups", "regime", "slope_regime", "growth_regime",
           "mean_regime", "bound_regime"]


@dataclass(frozen=True)
class Calibration:
    """One decision rule of a claim: ``build(record, P)`` -> (rule, data, trend, regime), with
    ``record`` the claim's record of a run and ``P`` its parameters in one profile; the trend
    sits exactly on the rule's boundary."""

    name: str
    build: Callable[[dict, dict], tuple]
    note: str = ""


@dataclass(frozen=True)
class Power:
    """The power search of a claim's main slope rule: the effect (a slope) found between lo and
    hi at which the rule fails with probability 0.8, for the alternative ``alternative``."""

    build: Callable[[dict, dict], tuple]
    lo: float
    hi: float
    alternative: str


def sorted_groups(per_x: dict, f=lambda v: v) -> list[list[float]]:
    return [[f(v) for v in vals] for _, vals in sorted(per_x.items(), key=lambda kv: float(kv[0]))]


def regime(groups, xs, sizes, lo=-math.inf, hi=math.inf) -> GroupData:
    """The synthetic-data model of a regime: the real groups' spreads and pooled shape, mapped
    onto the regime's xs (group i of the regime takes the real group at the same relative
    position when the counts differ), with the regime's replicates and censoring."""
    idx = np.linspace(0, len(groups) - 1, len(xs)).round().astype(int)
    return GroupData.of(xs, [groups[i] for i in idx], lo, hi, [sizes] * len(xs))


def slope_regime(groups, xs, sizes, threshold, lo=-math.inf, hi=math.inf):
    data = regime(groups, xs, sizes, lo, hi)
    base = float(np.mean([v for g in groups for v in g]))
    return SlopeRule(threshold, "upper", ALPHA), data, slope_trend(xs, base)(threshold)


def growth_regime(grid_of: Callable[[dict], list]):
    """The d-independence rule of a d-sweep (C2, C3): UCB of the slope of mean log x* against
    log d at slope_max, censored at the grid's ends (``grid_of(P)``)."""
    def build(rec, P):
        groups = sorted_groups(rec["details"]["growth"]["pretrained"]["per_seed"],
                               lambda v: math.log(v))
        grid = grid_of(P)
        xs = [math.log(d) for d in P["d_grid"]]
        rule, data, trend = slope_regime(groups, xs, P["seeds"], P["slope_max"],
                                         math.log(min(grid)), math.log(max(grid)))
        return rule, data, trend, (f"{len(xs)} d x {P['seeds']} seeds, grid "
                                   f"[{min(grid)}, {max(grid)}]")
    return build


def mean_regime(values_of, side, threshold_of, size_key):
    """A Student-t mean rule at its boundary: the real values' spread and shape, the mean set
    exactly on the threshold."""
    def build(rec, P):
        vals = [float(v) for v in values_of(rec["details"])]
        thr = threshold_of(P)
        data = GroupData.of([0.0], [vals], sizes=[P[size_key]])
        return MeanRule(thr, side, ALPHA), data, [thr], f"{P[size_key]} replicates"
    return build


def bound_regime(rec, P):
    """The subcheck 'complexity below the derived bound' at one d: the Student-t upper bound of
    mean log x* (alpha / number of d) at most log(bound); boundary: the mean on log(bound)."""
    per = rec["details"]["growth"]["pretrained"]["per_seed"]
    vals = [math.log(v) for v in per[max(per, key=int)]]
    k = len(P["d_grid"])
    data = GroupData.of([0.0], [vals], sizes=[P["seeds"]])
    return (MeanRule(0.0, "upper", ALPHA / k), data, [0.0],
            f"{P['seeds']} seeds at one d, alpha/{k}")
