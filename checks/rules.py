"""Error rates and power of the decision rules, measured on synthetic data shaped like the real
data of a claim (docs/design.md section 4; docs/derivations.md section 10).

The synthetic data of a rule are fitted to the real per-replicate statistics of a run (for
example the log n* of each pretraining seed at each d; :class:`GroupData`): each group keeps
its measured standard deviation (heteroscedasticity across d), the shape of the distribution
(skewness, tails) is that of the pooled standardised residuals of all groups (a smoothed
bootstrap, so that a handful of seeds per group does not make the synthetic data discrete),
and the grid's censoring limits apply. Only the trend is set, so the truth of a synthetic
dataset is known. On it:

- the **false-pass rate at the boundary**: the trend sits exactly on the rule's bound (a slope
  equal to slope_max, a mean equal to the bound), and the rate at which the rule passes is
  counted over many datasets, with its Clopper-Pearson 95% upper bound;
- the **power**: for a named family of alternatives (n* proportional to d^gamma, ...), the
  smallest effect the rule detects (fails) with probability >= 0.8, found by bisection over the
  effect with common random numbers (the same resampling draws for every effect).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from scipy.optimize import brentq

from .stats import (clopper_pearson_lower, clopper_pearson_upper, group_slope_bound_batch,
                    mean_bound_batch)

__all__ = ["GroupData", "SlopeRule", "MeanRule", "BinomialRule", "EquivalenceRule",
           "false_pass", "effect_80", "slope_trend", "PowerRecord", "all_finite"]

TARGET_POWER = 0.8


@dataclass(frozen=True)
class GroupData:
    """Real per-replicate statistics by group: ``values[g]`` observed at ``xs[g]``; a synthetic
    statistic outside [lo, hi] is censored (NaN: the grid did not resolve it)."""

    xs: tuple
    values: tuple
    lo: float = -math.inf
    hi: float = math.inf
    sizes: tuple | None = None          # replicates per group of the design (default: as real)

    @staticmethod
    def of(xs: Sequence[float], values: Sequence[Sequence[float]], lo=-math.inf, hi=math.inf,
           sizes=None) -> "GroupData":
        return GroupData(tuple(float(x) for x in xs),
                         tuple(tuple(float(v) for v in g) for g in values), lo, hi,
                         None if sizes is None else tuple(int(s) for s in sizes))

    def scales(self) -> np.ndarray:
        """Each group's standard deviation (the heteroscedasticity kept in synthetic data)."""
        out = []
        for g in self.values:
            v = np.asarray([x for x in g if math.isfinite(x)], dtype=float)
            if len(v) < 2:
                raise ValueError("a group needs two finite replicates to be resampled")
            out.append(v.std(ddof=1))
        return np.asarray(out)

    def shape(self) -> np.ndarray:
        """The pooled standardised residuals of all groups (unit variance): the shape of the
        replicate distribution (its skewness and tails), estimated from every group at once."""
        res = []
        for g, sd in zip(self.values, self.scales()):
            v = np.asarray([x for x in g if math.isfinite(x)], dtype=float)
            if sd > 0:
                res.append((v - v.mean()) / sd * math.sqrt(len(v) / (len(v) - 1)))
        e = np.concatenate(res) if res else np.zeros(2)
        return e / (e.std() if e.std() > 0 else 1.0)

    def draws(self, rng: np.random.Generator, N: int) -> list[np.ndarray]:
        """N synthetic datasets' residuals: one array (N, n_g) per group (common random numbers
        for every trend evaluated on them). A smoothed bootstrap of the pooled shape (each draw
        plus Gaussian kernel noise of bandwidth h = 0.9 n^(-1/5), rescaled to unit variance),
        times the group's standard deviation."""
        e = self.shape()
        h = 0.9 * len(e) ** -0.2
        sizes = self.sizes or tuple(len(g) for g in self.values)
        out = []
        for sd, n in zip(self.scales(), sizes):
            z = e[rng.integers(0, len(e), size=(N, n))] + h * rng.standard_normal((N, n))
            out.append(sd * z / math.sqrt(1 + h * h))
        return out

    def datasets(self, draws: list[np.ndarray], trend: Sequence[float]) -> list[np.ndarray]:
        """All N synthetic datasets with ``trend``: per group an (N, n_g) array (censored NaN)."""
        out = []
        for r, t in zip(draws, trend):
            v = r + t
            out.append(np.where((v < self.lo) | (v > self.hi), np.nan, v))
        return out


@dataclass(frozen=True)
class SlopeRule:
    """Pass iff the one-sided bound of the group-mean slope is on the claim's side of
    ``threshold`` (side 'upper': bound <= threshold)."""

    threshold: float
    side: str
    alpha: float

    def passes(self, xs, groups) -> bool:
        return bool(self.passes_batch(xs, [np.asarray(g, dtype=float)[None] for g in groups])[0])

    def passes_batch(self, xs, groups: list[np.ndarray]) -> np.ndarray:
        b = group_slope_bound_batch(xs, groups, self.alpha, self.side)
        ok = b <= self.threshold if self.side == "upper" else b >= self.threshold
        return np.isfinite(b) & ok


@dataclass(frozen=True)
class MeanRule:
    """Pass iff the one-sided Student-t bound of the mean is on the claim's side of threshold."""

    threshold: float
    side: str
    alpha: float

    def passes(self, xs, groups) -> bool:
        return bool(self.passes_batch(xs, [np.asarray(groups[0], dtype=float)[None]])[0])

    def passes_batch(self, xs, groups: list[np.ndarray]) -> np.ndarray:
        b = mean_bound_batch(groups[0], self.alpha, self.side)
        ok = b <= self.threshold if self.side == "upper" else b >= self.threshold
        return np.isfinite(b) & ok


@dataclass(frozen=True)
class EquivalenceRule:
    """Pass iff the two one-sided t bounds of the mean both lie within [center - tol,
    center + tol] (each at alpha)."""

    center: float
    tol: float
    alpha: float

    def passes(self, xs, groups) -> bool:
        return bool(self.passes_batch(xs, [np.asarray(groups[0], dtype=float)[None]])[0])

    def passes_batch(self, xs, groups: list[np.ndarray]) -> np.ndarray:
        lo = mean_bound_batch(groups[0], self.alpha, "lower")
        hi = mean_bound_batch(groups[0], self.alpha, "upper")
        return (np.isfinite(lo) & np.isfinite(hi) & (lo >= self.center - self.tol)
                & (hi <= self.center + self.tol))


@dataclass(frozen=True)
class BinomialRule:
    """Pass iff the Clopper-Pearson lower bound of the success rate is >= p_min."""

    p_min: float
    alpha: float
    K: int

    def passes_k(self, k: int) -> bool:
        return clopper_pearson_lower(k, self.K, self.alpha) >= self.p_min

    def pass_probability(self, p: float) -> float:
        """Exact: sum over k of Binomial(K, p) weights of the passing k."""
        from scipy.stats import binom
        return float(sum(binom.pmf(k, self.K, p) for k in range(self.K + 1) if self.passes_k(k)))


def _rate(rule, data: GroupData, draws, trend) -> float:
    return float(np.mean(rule.passes_batch(data.xs, data.datasets(draws, trend))))


def false_pass(rule, data: GroupData, boundary_trend: Sequence[float], N: int,
               rng: np.random.Generator) -> dict:
    """Pass rate of ``rule`` on N synthetic datasets whose trend is exactly at its boundary."""
    draws = data.draws(rng, N)
    k = round(_rate(rule, data, draws, boundary_trend) * N)
    return {"datasets": N, "passes": k, "false_pass": k / N,
            "upper95": clopper_pearson_upper(k, N, 0.05),
            "lower95": clopper_pearson_lower(k, N, 0.05)}


def effect_80(rule, data: GroupData, trend_of: Callable[[float], Sequence[float]], lo: float,
              hi: float, N: int, rng: np.random.Generator, iters: int = 14) -> float | None:
    """The smallest effect e in [lo, hi] at which the rule fails with probability >= 0.8 on
    data with trend ``trend_of(e)`` (detection increasing in e), by bisection with common
    random numbers; None when even ``hi`` is not detected that often."""
    draws = data.draws(rng, N)

    def detect(e):
        return 1.0 - _rate(rule, data, draws, trend_of(e))

    if detect(hi) < TARGET_POWER:
        return None
    if detect(lo) >= TARGET_POWER:
        return lo
    # detection is a monotone step function of e: brentq converges to its jump through 0.8
    e = brentq(lambda x: detect(x) - TARGET_POWER + 1e-12, lo, hi, xtol=(hi - lo) * 2 ** -iters)
    while detect(e) < TARGET_POWER:            # the reported effect is detected (its side)
        e += (hi - lo) * 2 ** -iters
    return e


def slope_trend(xs: Sequence[float], base: float = 0.0) -> Callable[[float], list]:
    """The trend of slope e through the centre of xs: base + e (x - mean x)."""
    xbar = float(np.mean(xs))
    return lambda e: [base + e * (x - xbar) for x in xs]


@dataclass
class PowerRecord:
    """What a claim record's ``power`` holds."""

    alternative: str
    effect_80: float | None
    datasets: int
    method: str
    extra: dict = field(default_factory=dict)

    def record(self) -> dict:
        return {"alternative": self.alternative, "effect_80": self.effect_80,
                "datasets": self.datasets, "method": self.method, **self.extra}


def all_finite(groups) -> bool:
    """Every replicate of every group is a finite number (power and calibration need that)."""
    return all(math.isfinite(float(v)) for g in groups for v in g)
