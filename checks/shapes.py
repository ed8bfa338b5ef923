"""The family of data shapes on which `mtlcheck calibrate` measures each rule (docs/derivations.md
section 10.3).

A rule's data are groups of independent replicates (for example the log n* of each pretraining
seed at each d). Calibration keeps what a run measured - each group's standard deviation, its
replicates per group, the grid's censoring - and varies what a handful of replicates cannot pin
down: the shape of the replicate distribution, which can differ from group to group. Each shape
gives zero-mean residuals, one (N, n_g) array per group, scaled to the group's spread:

- ``pooled bootstrap``: the pooled standardised residuals of all groups, smoothed (a Gaussian
  kernel of bandwidth 0.9 n^(-1/5), rescaled to unit variance), times the group's sd: the same
  shape in every group;
- ``per-group bootstrap``: each group's own standardised residuals, smoothed the same way (a
  skew that differs between groups survives);
- ``skew at the ends (+/-)`` and ``(-/+)``: standardised Gamma residuals of skewness +s in the
  first group and -s in the last, Gaussian in between (opposite skews at the two ends move a
  slope's distribution the most); s is the largest |skewness| of the run's groups, clipped to
  [0.5, 2]. For one group the two shapes are skew +s and -s;
- ``growing spread, right skew at the top``: the sd grows linearly along the grid from the
  smallest to the largest group sd of the run, and the upper half of the groups has skewness +s;
- ``t3 tails``: Student t with 3 degrees of freedom, scaled to unit variance.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["SHAPES", "residuals", "skew_of"]

SHAPES = ("pooled bootstrap", "per-group bootstrap", "skew at the ends (+/-)",
          "skew at the ends (-/+)", "growing spread, right skew at the top", "t3 tails")


def _finite(g) -> np.ndarray:
    v = np.asarray(g, dtype=float)
    return v[np.isfinite(v)]


def _sd(g) -> float:
    v = _finite(g)
    if len(v) < 2:
        raise ValueError("a group needs two finite replicates to be resampled")
    return float(v.std(ddof=1))


def _standardised(v: np.ndarray) -> np.ndarray:
    sd = v.std(ddof=1) if len(v) > 1 else 0.0
    if sd <= 0:
        return np.zeros(2)
    return (v - v.mean()) / sd * math.sqrt(len(v) / (len(v) - 1))


def skew_of(groups) -> float:
    """The largest |sample skewness| over the groups with three or more values, clipped to
    [0.5, 2] (the skew the skewed shapes use)."""
    sk = []
    for g in groups:
        v = _finite(g)
        if len(v) > 2 and v.std() > 0:
            sk.append(abs(float(((v - v.mean()) ** 3).mean() / v.std() ** 3)))
    return float(min(2.0, max(0.5, max(sk, default=0.5))))


def _smoothed(e: np.ndarray, rng, N: int, n: int) -> np.ndarray:
    e = e / (e.std() if e.std() > 0 else 1.0)
    h = 0.9 * len(e) ** -0.2
    z = e[rng.integers(0, len(e), size=(N, n))] + h * rng.standard_normal((N, n))
    return z / math.sqrt(1 + h * h)


def _gamma(rng, N: int, n: int, skew: float) -> np.ndarray:
    """Unit-variance, zero-mean residuals of skewness ``skew`` (standardised Gamma(4/skew^2))."""
    if skew == 0:
        return rng.standard_normal((N, n))
    k = 4.0 / skew ** 2
    z = (rng.gamma(k, 1.0, size=(N, n)) - k) / math.sqrt(k)
    return z if skew > 0 else -z


def residuals(shape: str, groups: Sequence, sizes: Sequence[int], N: int,
              rng: np.random.Generator) -> list[np.ndarray]:
    """N synthetic datasets' zero-mean residuals in ``shape``: one (N, sizes[g]) array per group,
    group g scaled to the sd of the real ``groups[g]``."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; one of {SHAPES}")
    sds = np.array([_sd(g) for g in groups])
    G = len(groups)
    s = skew_of(groups)
    out = []
    if shape == "pooled bootstrap":
        e = np.concatenate([_standardised(_finite(g)) for g in groups])
        return [sd * _smoothed(e, rng, N, n) for sd, n in zip(sds, sizes)]
    if shape == "per-group bootstrap":
        return [sd * _smoothed(_standardised(_finite(g)), rng, N, n)
                for g, sd, n in zip(groups, sds, sizes)]
    if shape.startswith("skew at the ends"):
        sign = 1.0 if "(+/-)" in shape else -1.0
        for i, (sd, n) in enumerate(zip(sds, sizes)):
            if G == 1:
                sk = sign * s
            else:
                sk = sign * s if i == 0 else (-sign * s if i == G - 1 else 0.0)
            out.append(sd * _gamma(rng, N, n, sk))
        return out
    if shape == "growing spread, right skew at the top":
        grow = np.linspace(sds.min(), sds.max(), G) if G > 1 else sds
        for i, (sd, n) in enumerate(zip(grow, sizes)):
            out.append(sd * _gamma(rng, N, n, s if (G == 1 or i >= G / 2) else 0.0))
        return out
    # t3 tails: variance of t_nu is nu / (nu - 2) = 3
    return [sd * rng.standard_t(3, size=(N, n)) / math.sqrt(3.0) for sd, n in zip(sds, sizes)]
