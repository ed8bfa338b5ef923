"""One-sided confidence bounds used by the checks (docs/design.md section 4).

Each function states what its alpha bounds: the probability, under the model it assumes, that
the bound lies on the wrong side of the true value. Quantiles come from scipy.stats.
- Clopper-Pearson bounds for a binomial proportion: exact (conservative).
- Student-t bounds for a mean (:func:`mean_bound`, kept for descriptive intervals and the
  bound audit): exact for Gaussian data, approximate otherwise.
- A contrast of group means (a slope against x, or one mean) with a Welch-Satterthwaite t bound
  widened by a Cornish-Fisher skew term (:func:`contrast_bound`): the bounds of the decision
  rules (checks/rules.py); heteroscedastic groups allowed.
Every rule's error rate at its boundaries is measured by `mtlcheck calibrate`.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import stats as st
from scipy.special import stdtrit

__all__ = ["clopper_pearson_lower", "clopper_pearson_upper", "t_quantile", "mean_bound",
           "Contrast", "contrast_bound", "slope_weights"]


def clopper_pearson_lower(k: int, n: int, alpha: float) -> float:
    """Lower (1 - alpha) bound for p from k successes in n trials: P(Bin(n, p) >= k) = alpha,
    i.e. the alpha quantile of Beta(k, n - k + 1)."""
    return 0.0 if k == 0 else float(st.beta.ppf(alpha, k, n - k + 1))


def clopper_pearson_upper(k: int, n: int, alpha: float) -> float:
    """Upper (1 - alpha) bound for p: the 1 - alpha quantile of Beta(k + 1, n - k)."""
    return 1.0 if k == n else float(st.beta.ppf(1 - alpha, k + 1, n - k))


def t_quantile(q: float, nu: float) -> float:
    """Quantile of Student's t with nu degrees of freedom (q in (0, 1)); scipy.special.stdtrit
    (the same function scipy.stats.t.ppf evaluates, without its per-call overhead)."""
    if math.isinf(nu):
        return float(st.norm.ppf(q))
    return float(stdtrit(nu, q))


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


class Contrast(NamedTuple):
    """The result of :func:`contrast_bound`: the estimate sum_g c_g ybar_g, its two one-sided
    (1 - alpha) bounds, standard error, Welch-Satterthwaite degrees of freedom, and the
    estimated skewness of the estimate (the Cornish-Fisher term widens the bound on the side
    its skew makes anti-conservative)."""

    estimate: float
    lower: float
    upper: float
    se: float
    df: float
    skew: float


def slope_weights(xs) -> np.ndarray:
    """c_g = (x_g - xbar) / sum_h (x_h - xbar)^2: least squares through the group means."""
    x = np.asarray(xs, dtype=float)
    return (x - x.mean()) / ((x - x.mean()) ** 2).sum()


def contrast_bound(c, groups, alpha: float) -> Contrast:
    """One-sided (1 - alpha) bounds of the contrast sum_g c_g mu_g of group means, each group's
    replicates independent (docs/derivations.md section 10.2).

    The Welch-Satterthwaite t bound b +- t_{1-alpha}(nu) se (se^2 = sum c_g^2 s_g^2 / n_g) is
    widened by the first Edgeworth (Cornish-Fisher) term of the studentized contrast,
    q = t + max(0, +-gamma) (2 t^2 + 1) / 6, where gamma = sum c_g^3 k3_g / n_g^2 / se^3 is the
    estimated skewness of b (k3_g the unbiased third cumulant of group g): a right-skewed b makes
    the upper bound too low (the studentized statistic has a heavy left tail), a left-skewed one
    the lower bound too high. The term only widens (never narrows) a bound. A group with fewer than
    two values, or any non-finite value, gives NaN bounds (the decision then fails)."""
    c = np.asarray(c, dtype=float)
    vals = [np.asarray(g, dtype=float) for g in groups]
    nan = Contrast(math.nan, math.nan, math.nan, math.nan, math.nan, math.nan)
    if not vals or any(len(v) < 2 or not np.isfinite(v).all() for v in vals):
        return nan
    n = np.array([len(v) for v in vals], dtype=float)
    means = np.array([v.mean() for v in vals])
    s2 = np.array([v.var(ddof=1) for v in vals])
    b = float(c @ means)
    var_g = c ** 2 * s2 / n
    var = float(var_g.sum())
    if var == 0:
        return Contrast(b, b, b, 0.0, math.inf, 0.0)
    df = var ** 2 / float((var_g ** 2 / (n - 1)).sum())
    k3 = np.array([len(v) / ((len(v) - 1) * (len(v) - 2)) * ((v - v.mean()) ** 3).sum()
                   if len(v) > 2 else 0.0 for v in vals])
    gamma = float((c ** 3 * k3 / n ** 2).sum() / var ** 1.5)
    t = t_quantile(1 - alpha, df)
    se = math.sqrt(var)
    q_up = t + max(0.0, gamma) * (2 * t * t + 1) / 6
    q_lo = t + max(0.0, -gamma) * (2 * t * t + 1) / 6
    return Contrast(b, b - q_lo * se, b + q_up * se, se, df, gamma)
