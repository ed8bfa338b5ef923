"""One-sided confidence bounds used by the checks (DESIGN.md "How a check decides").

Each function states its false-alarm probability alpha: the probability, under the model it
assumes, that the bound is on the wrong side of the true value.
- Clopper-Pearson bounds for a binomial proportion: exact (conservative).
- Student-t bounds for a mean: exact for Gaussian data, approximate otherwise.
- Percentile-bootstrap bounds: approximate (coverage tends to 1 - alpha as samples grow).
"""
from __future__ import annotations

import math

import mpmath as mp

__all__ = ["clopper_pearson_lower", "clopper_pearson_upper", "t_quantile", "mean_bound",
           "bootstrap_bound", "ols_slope", "ols_slope_bound", "ols_fit"]


def _bisect(f, lo: float, hi: float, iters: int = 200) -> float:
    """Root of an increasing function f on [lo, hi]."""
    for _ in range(iters):
        mid = (lo + hi) / 2
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def clopper_pearson_lower(k: int, n: int, alpha: float) -> float:
    """Lower (1 - alpha) bound for p from k successes in n trials: P(Bin(n, p) >= k) = alpha."""
    if k == 0:
        return 0.0
    # P(X >= k | p) = I_p(k, n - k + 1), increasing in p
    return _bisect(lambda p: float(mp.betainc(k, n - k + 1, 0, p, regularized=True)) - alpha, 0.0, 1.0)


def clopper_pearson_upper(k: int, n: int, alpha: float) -> float:
    """Upper (1 - alpha) bound for p: P(Bin(n, p) <= k) = alpha."""
    if k == n:
        return 1.0
    return 1.0 - clopper_pearson_lower(n - k, n, alpha)


def t_quantile(q: float, nu: int) -> float:
    """Quantile of Student's t with nu degrees of freedom (q in (0, 1))."""
    def cdf(t):
        x = nu / (nu + t * t)
        tail = 0.5 * float(mp.betainc(nu / 2, 0.5, 0, x, regularized=True))
        return 1 - tail if t >= 0 else tail

    return _bisect(lambda t: cdf(t) - q, -1e6, 1e6)


def mean_bound(x, alpha: float, side: str) -> float:
    """One-sided Student-t bound ('upper' or 'lower') for the mean of the samples x."""
    x = [float(v) for v in x]
    n = len(x)
    mu = sum(x) / n
    if n < 2:
        return math.inf if side == "upper" else -math.inf
    sd = math.sqrt(sum((v - mu) ** 2 for v in x) / (n - 1))
    q = t_quantile(1 - alpha, n - 1) * sd / math.sqrt(n)
    return mu + q if side == "upper" else mu - q


def bootstrap_bound(replicates, alpha: float, side: str) -> float:
    """Percentile-bootstrap one-sided bound: the (1 - alpha) or alpha quantile of the replicates.
    An undefined (NaN) replicate counts against passing: +inf for an upper bound, -inf for a
    lower one; +-inf replicates are allowed."""
    bad = math.inf if side == "upper" else -math.inf
    vals = sorted(bad if math.isnan(float(v)) else float(v) for v in replicates)
    n = len(vals)
    q = 1 - alpha if side == "upper" else alpha
    idx = min(n - 1, max(0, math.ceil(q * n) - 1))
    return vals[idx]


def ols_fit(x, y) -> tuple[float, float, float]:
    """Least-squares line y = a + b x: (a, b, R^2)."""
    x = [float(v) for v in x]
    y = [float(v) for v in y]
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxx = sum((v - mx) ** 2 for v in x)
    sxy = sum((u - mx) * (v - my) for u, v in zip(x, y))
    b = sxy / sxx
    a = my - b * mx
    ss_res = sum((v - a - b * u) ** 2 for u, v in zip(x, y))
    ss_tot = sum((v - my) ** 2 for v in y)
    return a, b, (1 - ss_res / ss_tot) if ss_tot > 0 else 1.0


def ols_slope_bound(x, y, alpha: float, side: str) -> float:
    """One-sided Student-t confidence bound for the slope of the least-squares line (exact for
    independent Gaussian errors): b +- t_{n-2, 1-alpha} SE(b); NaN when some y is not finite."""
    x = [float(v) for v in x]
    y = [float(v) for v in y]
    n = len(x)
    if n < 3 or any(not math.isfinite(v) for v in y):
        return math.nan
    a, b, _ = ols_fit(x, y)
    mx = sum(x) / n
    sxx = sum((v - mx) ** 2 for v in x)
    s2 = sum((v - a - b * u) ** 2 for u, v in zip(x, y)) / (n - 2)
    q = t_quantile(1 - alpha, n - 2) * math.sqrt(s2 / sxx)
    return b + q if side == "upper" else b - q


def ols_slope(x, y) -> float:
    """Slope of the least-squares line; NaN (undefined) when some y is not finite."""
    if any(not math.isfinite(v) for v in y):
        return math.nan
    return ols_fit(x, y)[1]
