"""Empirical sample / neuron complexity from error curves, with bootstrap over repetitions.

n*(eps) is the smallest n at which the mean test error over repetitions reaches eps, read off
the curve by linear interpolation in log n between the last grid point above eps and the first
at or below it (inf when the curve never reaches eps). The same for the width m*.
"""
from __future__ import annotations

import math

import torch

__all__ = ["crossing", "bootstrap_crossing"]


def crossing(grid: list[float], mean_err: list[float], eps: float) -> float:
    """Smallest x on the (log-interpolated) curve with error <= eps; inf if never, grid[0] if at once."""
    prev = None
    for x, e in zip(grid, mean_err):
        if e <= eps:
            if prev is None:
                return float(x)
            x0, e0 = prev
            if e0 == e:
                return float(x)
            frac = (e0 - eps) / (e0 - e)
            return float(math.exp(math.log(x0) + frac * (math.log(x) - math.log(x0))))
        prev = (x, e)
    return math.inf


def bootstrap_crossing(grid: list[float], errors: torch.Tensor, eps: float, B: int,
                       gen: torch.Generator) -> torch.Tensor:
    """B bootstrap replicates of crossing(): repetitions (rows of ``errors``) resampled."""
    reps = errors.shape[0]
    idx = torch.randint(0, reps, (B, reps), generator=gen)
    means = errors[idx].mean(dim=1)                 # (B, len(grid))
    return torch.tensor([crossing(grid, row.tolist(), eps) for row in means], dtype=torch.float64)
