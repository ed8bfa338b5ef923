"""`mtlcheck audit --bounds`: the decision rules at one point (docs/bounds-as-data.md section 4):
the slack, the one-sided Student-t bounds on the mean margin (expectation), the exact binomial
test and the Clopper-Pearson rule (probability), every run (always); and the power of the rule
at the point of least slack.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import stats
from scipy.optimize import brentq

from ..boundlang import BoundSpec
from .bound_measure import PointResult

__all__ = ["point_decision"]


# --- the decision at one point ----------------------------------------------------------------

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
    """One-sided Student-t bounds (each at level alpha) for E[D]: mean -+ t_{K-1,1-alpha} sd/sqrt K.
    A +-inf margin makes the mean +-inf; NaN or both signs of infinity: undefined."""
    if np.isnan(D).any() or (np.isposinf(D).any() and np.isneginf(D).any()):
        return math.nan, math.nan
    if np.isinf(D).any():
        v = math.inf if np.isposinf(D).any() else -math.inf
        return v, v
    K = len(D)
    mu = float(D.mean())
    if K < 2:
        return -math.inf, math.inf
    h = float(stats.t.ppf(1 - alpha, K - 1)) * float(D.std(ddof=1)) / math.sqrt(K)
    return mu - h, mu + h


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
    """Largest k whose Clopper-Pearson upper bound (level alpha) on the rate is <= delta (-1 if
    none): with at most k violating runs the rate is shown to be <= delta (the bound grows
    with k)."""
    best = -1
    for k in range(K):
        if float(stats.beta.ppf(1 - alpha, k + 1, K - k)) > delta:
            break
        best = k
    return best


def _tol(b: np.ndarray) -> np.ndarray:
    return 1e-9 * np.maximum(1.0, np.abs(np.nan_to_num(b, posinf=0, neginf=0)))


def point_decision(spec: BoundSpec, pr: PointResult, alpha: float) -> dict:
    """Decide one point at level ``alpha``: ``violated`` (evidence that the bound, widened by the
    relative ``tolerance``, fails here; false-alarm probability <= alpha), ``shown`` (evidence
    that the bound itself holds here), the slack (of the bound itself)."""
    b, rel = pr.bound, spec.relation
    q_v, q_h = (pr.q_lo, pr.q_hi) if rel == "<=" else (pr.q_hi, pr.q_lo)
    slack_b = (1 if rel == "<=" else -1) * spec.tolerance * np.abs(b)   # tolerance widens it
    Dv, Dh = _margins(rel, b + slack_b, q_v), _margins(rel, b, q_h)
    out = {"config": pr.config, "runs": len(b), "phase": pr.phase,
           "bound": float(np.mean(b)) if len(b) else math.nan,
           "estimate": float(np.mean(q_v)) if len(b) else math.nan}
    if not len(b) or np.isnan(b).any() or np.isnan(q_v).any():
        return {**out, "valid": False, "violated": False, "shown": False, "slack": math.nan,
                "why": "the bound or the measurement is undefined (NaN) here"}
    per_run = np.array([_slack(rel, x, y) for x, y in zip(b, q_v)])
    if spec.holds == "expectation":
        _, ucb = _mean_bounds(Dv, alpha)
        lcb, _ = _mean_bounds(Dh, alpha)
        violated, shown = ucb < 0, lcb >= 0
        slack = _slack(rel, float(np.mean(b)), float(np.mean(q_v)))
        extra = {"margin_ucb": ucb, "margin_lcb": lcb}
    elif spec.holds == "probability":
        K = len(b)
        k = int(np.sum(Dv < -_tol(b)))
        kh = int(np.sum(Dh < -_tol(b)))
        kc = _k_crit(K, spec.delta, alpha)
        violated, shown = k >= kc, kh <= _k_ok(K, spec.delta, alpha)
        j = math.ceil(K * (1 - spec.delta))
        slack = float(np.sort(per_run)[K - j])
        extra = {"violating_runs": k, "k_crit": kc, "quantile": 1 - spec.delta}
    else:
        violated = bool(np.any(Dv < -_tol(b)))
        shown = bool(np.all(Dh >= -_tol(b)))
        slack = float(per_run.min())
        extra = {"violating_runs": int(np.sum(Dv < -_tol(b)))}
    return {**out, "valid": True, "violated": bool(violated), "shown": bool(shown),
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
