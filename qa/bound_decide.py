"""The one decision procedure of every audit path (docs/bounds-as-data.md section 4 and "One
engine"): :func:`decide` says whether a bound is violated, or shown, from per-run values (or from
an interval of a summary); :func:`point_decision` applies it to the runs at one configuration of
a bound statement. `mtlcheck audit --bounds` (design, search, confirmation, `--at`), `mtlcheck
counterexamples` (through qa/bound_search.py ``search``) and the rows of the built-in `mtlcheck
audit` (qa/audit.py) all decide here. Also the power of the rule at the point of least slack.
The statistics are checks/stats.py's (Student-t mean bound, Clopper-Pearson bound).
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import stats
from scipy.optimize import brentq

from ..boundlang import BoundSpec
from ..checks.stats import clopper_pearson_upper, mean_bound
from .bound_measure import PointResult

__all__ = ["decide", "point_decision", "NUMERIC_TOL"]

#: a run violates a bound b only beyond NUMERIC_TOL max(1, |b|) (rounding is not a violation;
#: probability and always rules, and interval summaries)
NUMERIC_TOL = 1e-9


# --- the decision -----------------------------------------------------------------------------

def _slack(relation: str, b: float, q: float) -> float:
    """bound / measured for '<=' and measured / bound for '>=' (the built-in audit's ratio:
    >= 1 where the bound holds); signed infinities where a ratio means nothing."""
    num, den = (b, q) if relation == "<=" else (q, b)
    if den > 0:
        return num / den
    if den == 0:
        return math.inf if num > 0 else (1.0 if num == 0 else -math.inf)
    return math.inf if (b >= q if relation == "<=" else q >= b) else -math.inf


def _margins(relation: str, b: np.ndarray, q: np.ndarray) -> np.ndarray:
    """D = b - q ('<=') or q - b ('>='): D >= 0 where a run satisfies the bound."""
    with np.errstate(all="ignore"):
        return b - q if relation == "<=" else q - b


def _mean_bounds(D: np.ndarray, alpha: float) -> tuple[float, float]:
    """(lower, upper) one-sided Student-t bounds, each at level alpha, for the mean margin E[D]
    (checks/stats.py ``mean_bound``; +-inf with fewer than two runs). Infinite margins, which
    ``mean_bound`` does not treat, are handled here: a +-inf margin (an infinite bound: vacuous,
    or -inf: violated on that run) makes the mean and both bounds +-inf; NaN, or infinities of
    both signs: undefined (NaN)."""
    D = np.asarray(D, dtype=float)
    if np.isnan(D).any() or (np.isposinf(D).any() and np.isneginf(D).any()):
        return math.nan, math.nan
    if np.isinf(D).any():
        v = math.inf if np.isposinf(D).any() else -math.inf
        return v, v
    return mean_bound(D, alpha, "lower"), mean_bound(D, alpha, "upper")


@lru_cache(maxsize=256)
def _k_crit(K: int, delta: float, alpha: float) -> int:
    """Smallest k with P(Bin(K, delta) >= k) <= alpha (K + 1 if none): the exact binomial test
    of 'the violation rate exceeds delta'."""
    for k in range(K + 1):
        if stats.binom.sf(k - 1, K, delta) <= alpha:
            return k
    return K + 1


@lru_cache(maxsize=256)
def _k_ok(K: int, delta: float, alpha: float) -> int:
    """Largest k whose Clopper-Pearson upper bound (level alpha, checks/stats.py) on the rate is
    <= delta (-1 if none): with at most k violating runs the rate is shown to be <= delta (the
    bound grows with k)."""
    best = -1
    for k in range(K):
        if clopper_pearson_upper(k, K, alpha) > delta:
            break
        best = k
    return best


def _tol(b: np.ndarray) -> np.ndarray:
    return NUMERIC_TOL * np.maximum(1.0, np.abs(np.nan_to_num(b, posinf=0, neginf=0)))


def _widen(relation: str, b, tolerance: float):
    """The bound widened by the relative ``tolerance``: b + tau |b| ('<=') or b - tau |b|
    (an infinite bound stays as it is)."""
    if not tolerance:
        return b
    with np.errstate(all="ignore"):
        return np.where(np.isinf(b), b, b + (1 if relation == "<=" else -1) * tolerance * np.abs(b))


def decide(relation: str, bound, values=None, *, holds: str = "always", alpha: float = 0.05,
           delta: float | None = None, tolerance: float = 0.0, values_hold=None,
           interval: tuple[float, float] | None = None) -> dict:
    """THE violation rule (docs/bounds-as-data.md 4.1): is "value ``relation`` bound" violated
    (evidence at level ``alpha`` that the bound, widened by the relative ``tolerance``, fails),
    or shown (evidence at level ``alpha`` that the bound itself holds)?

    From per-run ``values`` (``bound`` a number or one per run, paired; ``values_hold`` the runs'
    values for 'shown' when they differ, as censored intervals do), per run the margin
    D = bound - value ('<=') or value - bound ('>='):

    - ``expectation``: Student-t bounds on E[D] (:func:`_mean_bounds`); violated when the upper
      bound is < 0, shown when the lower bound is >= 0;
    - ``probability`` (with ``delta``): k runs with D < -tol; violated when P(Bin(K, delta) >= k)
      <= alpha (exact binomial test: k >= ``k_crit``); shown when the Clopper-Pearson upper bound
      of the rate (level alpha) is <= delta. For a constant bound this is the order-statistic
      rule: violated exactly when the bound lies below the K - k_crit + 1-th smallest value;
    - ``always``: violated when a run has D < -tol, shown when none has;

    tol = NUMERIC_TOL max(1, |bound|). From an ``interval`` (lcb, ucb) of the bounded statistic
    instead (a summary whose runs are not at hand, each end a confidence bound at the caller's
    level, e.g. a Monte Carlo mean +- z se): violated when the widened bound lies beyond the end
    least favourable to a violation by more than tol (below lcb for '<=', above ucb for '>='),
    shown when the bound lies beyond the other end. A NaN bound or value: ``valid`` False,
    neither violated nor shown.

    Returns {"valid", "violated", "shown"} and the rule's statistics (expectation: margin_ucb,
    margin_lcb; probability: violating_runs, k_crit; always: violating_runs)."""
    if interval is not None:
        return _decide_interval(relation, float(bound), interval, tolerance)
    q_v = np.atleast_1d(np.asarray(values, dtype=float))
    q_h = q_v if values_hold is None else np.atleast_1d(np.asarray(values_hold, dtype=float))
    b = np.broadcast_to(np.asarray(bound, dtype=float), q_v.shape).astype(float)
    if not len(b) or np.isnan(b).any() or np.isnan(q_v).any():
        return {"valid": False, "violated": False, "shown": False}
    Dv, Dh = _margins(relation, _widen(relation, b, tolerance), q_v), _margins(relation, b, q_h)
    if holds == "expectation":
        _, ucb = _mean_bounds(Dv, alpha)
        lcb, _ = _mean_bounds(Dh, alpha)
        violated, shown = ucb < 0, lcb >= 0
        extra = {"margin_ucb": ucb, "margin_lcb": lcb}
    elif holds == "probability":
        K = len(b)
        k = int(np.sum(Dv < -_tol(b)))
        kh = int(np.sum(Dh < -_tol(b)))
        kc = _k_crit(K, delta, alpha)
        violated, shown = k >= kc, kh <= _k_ok(K, delta, alpha)
        extra = {"violating_runs": k, "k_crit": kc}
    elif holds == "always":
        violated = bool(np.any(Dv < -_tol(b)))
        shown = bool(np.all(Dh >= -_tol(b)))
        extra = {"violating_runs": int(np.sum(Dv < -_tol(b)))}
    else:
        raise ValueError(f"holds must be expectation, probability or always, got {holds!r}")
    return {"valid": True, "violated": bool(violated), "shown": bool(shown), **extra}


def _decide_interval(relation: str, b: float, interval, tolerance: float) -> dict:
    lcb, ucb = (float(x) for x in interval)
    if math.isnan(b) or math.isnan(lcb) or math.isnan(ucb):
        return {"valid": False, "violated": False, "shown": False}
    tol = float(_tol(np.float64(b)))
    bv = float(_widen(relation, b, tolerance))
    if relation == "<=":
        violated, shown = bv < lcb - tol, b >= ucb
    else:
        violated, shown = bv > ucb + tol, b <= lcb
    return {"valid": True, "violated": bool(violated), "shown": bool(shown),
            "interval": [lcb, ucb]}


def point_decision(spec: BoundSpec, pr: PointResult, alpha: float) -> dict:
    """Decide one point of a bound statement at level ``alpha`` with :func:`decide`:
    ``violated`` (evidence that the bound, widened by the relative ``tolerance``, fails here;
    false-alarm probability <= alpha), ``shown`` (evidence that the bound itself holds here),
    the slack (of the bound itself)."""
    b, rel = pr.bound, spec.relation
    q_v, q_h = (pr.q_lo, pr.q_hi) if rel == "<=" else (pr.q_hi, pr.q_lo)
    out = {"config": pr.config, "runs": len(b), "phase": pr.phase,
           "bound": float(np.mean(b)) if len(b) else math.nan,
           "estimate": float(np.mean(q_v)) if len(b) else math.nan}
    dec = decide(rel, b, q_v, holds=spec.holds, alpha=alpha, delta=spec.delta,
                 tolerance=spec.tolerance, values_hold=q_h) if len(b) else {"valid": False}
    if not dec["valid"]:
        return {**out, "valid": False, "violated": False, "shown": False, "slack": math.nan,
                "why": "the bound or the measurement is undefined (NaN) here"}
    per_run = np.array([_slack(rel, x, y) for x, y in zip(b, q_v)])
    extra = {k: v for k, v in dec.items() if k not in ("valid", "violated", "shown")}
    if spec.holds == "expectation":
        slack = _slack(rel, float(np.mean(b)), float(np.mean(q_v)))
    elif spec.holds == "probability":
        K = len(b)
        j = math.ceil(K * (1 - spec.delta))
        slack = float(np.sort(per_run)[K - j])
        extra["quantile"] = 1 - spec.delta
    else:
        slack = float(per_run.min())
    return {**out, "valid": True, "violated": dec["violated"], "shown": dec["shown"],
            "slack": slack, **extra}


# --- the power of the rule -----------------------------------------------------------------------

def _power(spec: BoundSpec, pr: PointResult | None, alpha: float) -> dict:
    """What the rule at level ``alpha`` detects with probability 0.8 at the least-slack point."""
    K = spec.runs
    if spec.holds == "always":
        return {"rule": "any violating run is a violation"}
    if spec.holds == "probability":
        kc = _k_crit(K, spec.delta, alpha)
        if kc > K:
            return {"k_crit": None, "rate_detected_80": None,
                    "note": f"{K} runs cannot reject at this level; raise runs"}
        f = lambda rho: float(stats.binom.sf(kc - 1, K, rho)) - 0.8
        return {"k_crit": kc, "rate_detected_80": float(brentq(f, 1e-12, 1 - 1e-12))}
    if pr is None or K < 2:
        return {}
    D = _margins(spec.relation, pr.bound, pr.q_lo)
    sd = float(np.std(D, ddof=1)) if np.all(np.isfinite(D)) else math.nan
    eff = (float(stats.t.ppf(1 - alpha, K - 1)) + 0.8416) * sd / math.sqrt(K)
    scale = abs(float(np.mean(pr.bound))) or 1.0
    return {"excess_detected_80": eff, "relative_excess_detected_80": eff / scale}
