"""`mtlcheck audit --bounds`: for each constant of a bound, the least value consistent with
simulation (docs/bounds-as-data.md section 4): roots of the margins along a monotone line
c0 +- |c0| sinh(u), per run or for the aggregate rule of the bound.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

from ..boundlang import BoundSpec
from .bound_decide import _k_crit, _k_ok, _margins, _mean_bounds
from .bound_measure import PointResult

__all__ = ["U_RANGE", "needed_constants"]


# --- the constants a bound needs ----------------------------------------------------------------

U_RANGE = 60.0          # c(u) = c0 +- scale sinh(u), u in [-60, 60]: |c - c0| up to ~1e26 scale


def _line(c0: float, up: bool):
    """A monotone map u -> c along which the bound's margin grows ('up': c increases)."""
    scale = max(abs(c0), 1e-12)
    sign = 1.0 if up else -1.0
    return lambda u: c0 + sign * scale * np.sinh(u)


def _margin_fn(spec: BoundSpec, pr: PointResult, name: str, cmap, side: str):
    """u -> per-run margins D(c(u)) at point ``pr``; ``side`` picks the measured values least
    favourable to a violation ('v') or to holding ('h')."""
    q_v, q_h = (pr.q_lo, pr.q_hi) if spec.relation == "<=" else (pr.q_hi, pr.q_lo)
    q = q_v if side == "v" else q_h

    def D(u):
        b = spec.bound(pr.config, pr.inputs, {name: cmap(u)})
        return _margins(spec.relation, np.broadcast_to(b, q.shape), q)

    return D


def _direction(spec: BoundSpec, points: list[PointResult], name: str, c0: float) -> str | None:
    """'up' when raising the constant never lowers the margin at any visited run (and raises
    it somewhere), 'down' for the mirror image, None when neither (no effect, or not monotone)."""
    h = 1e-6 * max(1.0, abs(c0))
    signs = []
    for pr in points:
        lo = _margins(spec.relation, spec.bound(pr.config, pr.inputs, {name: c0 - h}), pr.q_lo)
        hi = _margins(spec.relation, spec.bound(pr.config, pr.inputs, {name: c0 + h}), pr.q_lo)
        with np.errstate(all="ignore"):
            d = np.atleast_1d(hi - lo)
        signs.extend(np.sign(d[np.isfinite(d)]).tolist())
    if signs and min(signs) >= 0 and max(signs) > 0:
        return "up"
    if signs and max(signs) <= 0 and min(signs) < 0:
        return "down"
    return None


def _run_roots(D, K: int, iters: int = 64) -> np.ndarray:
    """Per-run u where the margin crosses 0 (vectorised bisection; margins grow with u):
    -inf where it holds on the whole line, +inf where it never does."""
    lo, hi = np.full(K, -U_RANGE), np.full(K, U_RANGE)
    ok_lo, ok_hi = D(lo) >= 0, D(hi) >= 0
    for _ in range(iters):
        mid = (lo + hi) / 2
        good = D(mid) >= 0
        hi, lo = np.where(good, mid, hi), np.where(good, lo, mid)
    return np.where(ok_lo, -np.inf, np.where(ok_hi, hi, np.inf))


def _aggregate_root(crit) -> float:
    """u where a scalar criterion (increasing in u) crosses 0, by brentq; -+inf when it holds
    on the whole line / nowhere on it."""
    a, b = crit(-U_RANGE), crit(U_RANGE)
    if not math.isnan(a) and a >= 0:
        return -math.inf
    if math.isnan(b) or b < 0:
        return math.inf
    if math.isnan(a):
        return math.nan
    return float(brentq(crit, -U_RANGE, U_RANGE, xtol=1e-12, maxiter=200))


def _point_roots(spec: BoundSpec, pr: PointResult, name: str, cmap, alpha: float) -> tuple:
    """(needed, needed_lcb, needed_ucb) in u at one point: the point estimate, the least value
    not rejected at level alpha, and the least value shown to hold at level alpha."""
    Dv = _margin_fn(spec, pr, name, cmap, "v")
    Dh = _margin_fn(spec, pr, name, cmap, "h")
    K = len(pr.q_lo)
    if spec.holds == "expectation":
        mean = _aggregate_root(lambda u: float(np.mean(Dv(u))))
        lcb = _aggregate_root(lambda u: _mean_bounds(Dv(u), alpha)[1])
        ucb = _aggregate_root(lambda u: _mean_bounds(Dh(u), alpha)[0])
        return mean, lcb, ucb
    rv, rh = np.sort(_run_roots(Dv, K)), np.sort(_run_roots(Dh, K))
    if spec.holds == "always":
        return rv[-1], rv[-1], rh[-1]
    j = math.ceil(K * (1 - spec.delta))
    kc, ko = _k_crit(K, spec.delta, alpha), _k_ok(K, spec.delta, alpha)
    lcb = rv[K - kc] if kc <= K else -math.inf
    ucb = rh[K - ko - 1] if ko >= 0 else math.inf
    return rv[j - 1], lcb, ucb


def _snap(c: float, c0: float) -> float:
    """0 for a root within rounding of 0 (the sinh line loses ~1e-16 relative)."""
    return 0.0 if abs(c) < 1e-12 * max(1.0, abs(c0)) else c


def needed_constants(spec: BoundSpec, points: list[PointResult], alpha: float) -> dict:
    """For each constant, the others at their typed values: the value the bound needs to hold at
    every visited point ('needed', from the point estimates), the least value simulation does
    not reject ('needed_lcb': one-sided confidence bound, level alpha per point), and the least
    value shown to hold ('needed_ucb'); 'direction' '>=' (the constant must be at least that)
    or '<=' (at most). None where no value (or every value) works."""
    pts = [p for p in points if p.skipped is None and len(p.q_lo)]
    out = {}
    for name, c0 in spec.constants:
        rec = {"typed": c0, "needed": None, "needed_lcb": None, "needed_ucb": None,
               "direction": None, "at": None}
        way = _direction(spec, pts, name, c0) if pts else None
        if way is None:
            out[name] = {**rec, "note": "no effect on the bound at the visited points, or not "
                                        "monotone there"}
            continue
        cmap = _line(c0, way == "up")
        roots = [(_point_roots(spec, p, name, cmap, alpha), p.config) for p in pts]
        best = [max(roots, key=lambda r: -math.inf if math.isnan(r[0][i]) else r[0][i])
                for i in range(3)]
        vals = [_snap(float(cmap(r[0][i])), c0) if math.isfinite(r[0][i]) else r[0][i]
                for i, r in enumerate(best)]
        signed = [v if not math.isinf(v) else (v if way == "up" else -v) for v in vals]
        rec.update(needed=signed[0], needed_lcb=signed[1], needed_ucb=signed[2],
                   direction=">=" if way == "up" else "<=", at=best[0][1])
        if any(math.isinf(v) for v in signed):
            rec["note"] = ("null: every value in the direction's range works (-inf for '>=', "
                           "+inf for '<=') or none does, within 1e26 of the typed value")
        out[name] = rec
    return out
