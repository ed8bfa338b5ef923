"""Empirical sample / neuron complexity from error curves.

n*(eps) is the smallest n at which the mean test error reaches eps, read off the curve by linear
interpolation in log n between the last grid point above eps and the first at or below it. A
crossing is *censored* when the curve is already below eps at the first grid point (left: the
grid does not resolve it) or never reaches eps (right); a censored crossing is not a measurement,
and the checks treat it as undecided (a fail), never as a value.
"""
from __future__ import annotations

import math

__all__ = ["crossing_status"]


def crossing_status(grid, mean_err, eps: float) -> tuple[float, str | None]:
    """(x*, censoring) with censoring None, 'left' (x* = grid[0]) or 'right' (x* = inf)."""
    prev = None
    for x, e in zip(grid, mean_err):
        if e <= eps:
            if prev is None:
                return float(x), "left"
            x0, e0 = prev
            if e0 == e:
                return float(x), None
            frac = (e0 - eps) / (e0 - e)
            return float(math.exp(math.log(x0) + frac * (math.log(x) - math.log(x0)))), None
        prev = (x, e)
    return math.inf, "right"

