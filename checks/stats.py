"""One-sided confidence bounds used by the checks (docs/design.md section 4).

Each function states what its alpha bounds: the probability, under the model it assumes, that
the bound lies on the wrong side of the true value. Quantiles come from scipy.stats.
- Clopper-Pearson bounds for a binomial proportion: exact (conservative).
- Student-t bounds for a mean: exact for Gaussian data, approximate otherwise.
- The slope of group means against x with a Welch-Satterthwaite t bound
  (:func:`group_slope_bound`): the d-independence and rate rules; heteroscedastic groups allowed.
- Least-squares slope bound: exact for independent Gaussian errors of equal variance.
- Percentile bootstrap (kept for the per-d intervals that figures show): approximate.
Every rule's false-pass rate at its boundary is measured by `mtlcheck calibrate`.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import stats as st

__all__ = ["clopper_pearson_lower", "clopper_pearson_upper", "t_quantile", "mean_bound",
           "mean_bound_batch", "ols_fit",
           "group_slope_bound", "group_slope_bound_batch", "GroupSlope"]


def clopper_pearson_lower(k: int, n: int, alpha: float) -> float:
    """Lower (1 - alpha) bound for p from k successes in n trials: P(Bin(n, p) >= k) = alpha,
    i.e. the alpha quantile of Beta(k, n - k + 1)."""
    return 0.0 if k == 0 else float(st.beta.ppf(alpha, k, n - k + 1))


def clopper_pearson_upper(k: int, n: int, alpha: float) -> float:
    """Upper (1 - alpha) bound for p: the 1 - alpha quantile of Beta(k + 1, n - k)."""
    return 1.0 if k == n else float(st.beta.ppf(1 - alpha, k + 1, n - k))


def t_quantile(q: float, nu: float) -> float:
    """Quantile of Student's t with nu degrees of freedom (q in (0, 1))."""
    return float(st.t.ppf(q, nu))


def mean_bound(x, alpha: float, side: str) -> float:
    """One-sided Student-t bound ('upper' or 'lower') for the mean of the samples x; NaN when a
    sample is NaN, +-inf (no evidence) with fewer than two samples."""
    x = np.asarray([float(v) for v in x])
    if np.isnan(x).any():
        return math.nan
    n = len(x)
    if n < 2:
        return math.inf if side == "upper" else -math.inf
    q = t_quantile(1 - alpha, n - 1) * x.std(ddof=1) / math.sqrt(n)
    return float(x.mean() + q if side == "upper" else x.mean() - q)


def mean_bound_batch(X: np.ndarray, alpha: float, side: str) -> np.ndarray:
    """:func:`mean_bound` of every row of X (N, n) at once (NaN rows give NaN)."""
    n = X.shape[1]
    q = t_quantile(1 - alpha, n - 1) * X.std(axis=1, ddof=1) / math.sqrt(n)
    return X.mean(axis=1) + q if side == "upper" else X.mean(axis=1) - q


def ols_fit(x, y) -> tuple[float, float, float]:
    """Least-squares line y = a + b x: (a, b, R^2)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    b, a = np.polyfit(x, y, 1)
    res = y - a - b * x
    ss_tot = float(((y - y.mean()) ** 2).sum())
    return float(a), float(b), (1 - float((res ** 2).sum()) / ss_tot) if ss_tot > 0 else 1.0


class GroupSlope(NamedTuple):
    """The result of :func:`group_slope_bound`."""

    slope: float
    bound: float
    se: float
    df: float


def group_slope_bound(xs, groups, alpha: float, side: str) -> GroupSlope:
    """Slope of the group means against x, with a one-sided Welch-Satterthwaite t bound.

    ``groups[g]`` holds independent replicate values observed at ``xs[g]`` (for example the
    log n* of each pretraining seed at one d). The slope is b = sum_g c_g ybar_g with
    c_g = (x_g - xbar) / sum_h (x_h - xbar)^2 (least squares through the group means), its
    variance sum_g c_g^2 s_g^2 / n_g (s_g^2 the group's sample variance), and the degrees of
    freedom those of Welch-Satterthwaite: (sum v_g)^2 / sum v_g^2 / (n_g - 1), v_g =
    c_g^2 s_g^2 / n_g. Exact for Gaussian groups in the limit of one group, approximate (and
    calibrated by `mtlcheck calibrate`) otherwise. A non-finite value or a group with fewer than
    two values makes the slope and the bound NaN (the decision then fails)."""
    x = np.asarray(xs, dtype=float)
    vals = [np.asarray(g, dtype=float) for g in groups]
    if any(len(v) < 2 or not np.isfinite(v).all() for v in vals) or len(vals) < 2:
        return GroupSlope(math.nan, math.nan, math.nan, math.nan)
    c = (x - x.mean()) / ((x - x.mean()) ** 2).sum()
    means = np.array([v.mean() for v in vals])
    var_g = np.array([c_ ** 2 * v.var(ddof=1) / len(v) for c_, v in zip(c, vals)])
    b = float(c @ means)
    var = float(var_g.sum())
    if var == 0:
        return GroupSlope(b, b, 0.0, math.inf)
    df = var ** 2 / float(sum(vg ** 2 / (len(v) - 1) for vg, v in zip(var_g, vals)))
    q = t_quantile(1 - alpha, df) * math.sqrt(var)
    return GroupSlope(b, b + q if side == "upper" else b - q, math.sqrt(var), df)


def group_slope_bound_batch(xs, groups: list[np.ndarray], alpha: float, side: str) -> np.ndarray:
    """The bound of :func:`group_slope_bound` for N datasets at once: ``groups[g]`` is an
    (N, n_g) array, row i the replicates of group g in dataset i. NaN where a value is NaN."""
    x = np.asarray(xs, dtype=float)
    c = (x - x.mean()) / ((x - x.mean()) ** 2).sum()
    means = np.stack([G.mean(axis=1) for G in groups], axis=1)              # (N, groups)
    var_g = np.stack([c_ ** 2 * G.var(axis=1, ddof=1) / G.shape[1]
                      for c_, G in zip(c, groups)], axis=1)
    b = means @ c
    var = var_g.sum(axis=1)
    dof = np.array([G.shape[1] - 1 for G in groups], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = var ** 2 / (var_g ** 2 / dof).sum(axis=1)
        q = np.where(var > 0, st.t.ppf(1 - alpha, np.where(var > 0, df, 1.0)) * np.sqrt(var), 0.0)
    return b + q if side == "upper" else b - q
