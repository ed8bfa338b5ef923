"""`mtlcheck audit --bounds FILE.toml`: audit statements a user types (theory/boundfile.py) against
simulation. The rules are stated in docs/bounds-as-data.md; this module runs them.

Per bound: structural facts from sympy; a deterministic design over the domain (corners, the
centre and log-spaced interior points, cheapest first, within the budget); a derandomised
Hypothesis search (no database, no deadline) that shrinks a violation to a minimal
configuration, confirmed with fresh seeds; the verdict with its error probability; the point of
least slack; for each constant the least value consistent with simulation.

Seeds: run k (k = 0..runs-1) at any point of the design or the search uses seed 1000 seed + k
(the built-in audit's scheme, so the same configuration gives the same runs); the confirmation
of a counterexample uses 1000 (seed + 1) + k, which is what `--seed seed+1 --at CONFIG`
reproduces.
"""
from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
import torch
from scipy import stats
from scipy.optimize import brentq

from ..checks.common import derive_seed
from ..checks.complexity import crossing_status
from ..checks.table import fmt
from ..sim.device import describe, resolve_device
from ..sim.pretrain import PretrainConfig, pretrain
from ..sim.probes import FeatureMap, probe_curve
from ..sim.samplers import generator, haar, make_target, sphere
from ..theory import bounds as TB
from ..theory.boundfile import AXES, BoundSpec, load_bounds, structural_facts
from ..theory.model import Algorithm, ReferenceModel
from ..theory.params import MtlcheckError, ParameterError, validate

__all__ = ["DEFAULT_BUDGET_S", "audit_bounds", "audit_spec", "main_audit_bounds",
           "measure_point", "point_decision", "needed_constants", "design_points", "search",
           "hypothesis_scratch", "exit_status", "text_report", "parse_at", "MEASURES"]

DEFAULT_BUDGET_S = 240.0          # leaves a minute of a 5-minute slot for imports and sympy
PROBE_REPS = 4                     # downstream draws per run (probe_risk, probe_err01, n_star)
N_TEST = 2000                      # test points per downstream draw
N_STAR_GRID = tuple(2 ** k for k in range(3, 14))       # 8 .. 8192
SEARCH_EXAMPLES = 40               # Hypothesis examples per search
INTERIOR_POINTS = 6                # log-spaced interior points of the design
SEED_BLOCK = 1000                  # run k of seed s uses 1000 s + k
MAX_SEED = (2 ** 63 - 1) // SEED_BLOCK - 2
OVERHEAD_S = 0.003                 # per run, besides the flops
RATE0 = 5e9                        # flop/s assumed before the first measured run
_RF = frozenset({"rf_risk", "rf_span_energy", "rf_m_star"})


# --- one run: the measurements of every registered quantity -----------------------------------

class _Run:
    """One run at configuration ``c`` with ``seed``: the pretrained W (or the random features)
    computed once, lazily, and every quantity read off them (intervals (lo, hi); lo == hi
    unless a complexity is censored)."""

    def __init__(self, c: dict, seed: int, device: str):
        self.c, self.seed, self.device = c, seed, device
        self._probes: dict = {}

    @cached_property
    def res(self):
        c = self.c
        model = ReferenceModel(c["d"], c["r"], noise=float(c.get("p", 0.0)))
        algo = Algorithm(c["T"], c["n1"], c["n2"], c["m"], eta_a=float(c.get("eta_a", 1.0)),
                         eta_w=float(c.get("eta_W", 1.0)))
        return pretrain(PretrainConfig(model, algo, seed=self.seed, device=self.device))

    @cached_property
    def metrics(self) -> dict:
        return self.res.metrics()

    @cached_property
    def WM(self) -> tuple[np.ndarray, np.ndarray]:
        return self.res.W.double().cpu().numpy(), self.res.M.double().cpu().numpy()

    @cached_property
    def rf(self) -> tuple[np.ndarray, np.ndarray]:
        """Random features: M Haar, W rows uniform on the sphere (float64, CPU)."""
        g = generator(derive_seed(self.seed, "boundaudit-rf"))
        M = haar(self.c["d"], self.c["r"], g, torch.float64)
        W = sphere(self.c["m"], self.c["d"], g, torch.float64)
        return W.numpy(), M.numpy()

    def probe(self, n_grid: tuple[int, ...]) -> dict:
        """Mean test errors of the ridge probe over PROBE_REPS downstream halfspace tasks."""
        if n_grid not in self._probes:
            g = generator(derive_seed(self.seed, "boundaudit-probe"), self.res.M.device)
            target = lambda gg: make_target("halfspace", self.c["r"], gg)
            curve = probe_curve(FeatureMap.network("pretrained", self.res.W), self.res.M, target,
                                list(n_grid), PROBE_REPS, N_TEST, float(self.c["lam"]), g)
            self._probes[n_grid] = {k: v.mean(0).tolist() for k, v in curve.items()}
        return self._probes[n_grid]


def _exact(v) -> tuple[float, float]:
    return float(v), float(v)


def _crossing(grid, values, eps) -> tuple[float, float]:
    """A complexity read off a curve as an interval: exact, (0, grid[0]] when the first point
    is already below eps (left-censored), [grid[-1], inf) when it never gets there."""
    x, cens = crossing_status(grid, values, eps)
    if cens == "left":
        return 0.0, float(grid[0])
    if cens == "right":
        return float(grid[-1]), math.inf
    return float(x), float(x)


def _widths(m: int) -> list[int]:
    return sorted({2 ** k for k in range(int(math.log2(m)) + 1)} | {m})


def _span_energy(W, M) -> float:
    Q, _ = np.linalg.qr(W.T)
    return float(np.sum((Q @ (Q.T @ M)) ** 2) / M.shape[1])


#: quantity -> its measurement on one run (docs/bounds-as-data.md, "Quantities")
MEASURES = {
    "E_out": lambda run: _exact(run.metrics["E_out"]),
    "isotropy": lambda run: _exact(run.metrics["isotropy"]),
    "sin2_max_angle": lambda run: _exact(run.metrics["sin2_max_angle"]),
    "probe_risk": lambda run: _exact(run.probe((run.c["n"],))["mse"][0]),
    "probe_err01": lambda run: _exact(run.probe((run.c["n"],))["err01"][0]),
    "probe_pop_risk": lambda run: _exact(TB.probe_population_risk(*run.WM, float(run.c["lam"]))),
    "pop_risk": lambda run: _exact(TB.width_risk_curve(*run.WM, [run.c["m"]])[0]),
    "lm_radius2": lambda run: _exact(TB.lm_radius2(TB.normalise_rows(run.WM[0]),
                                                   float(run.c["t"]))),
    "n_star": lambda run: _crossing(N_STAR_GRID, run.probe(N_STAR_GRID)["mse"],
                                    float(run.c["eps"])),
    "m_star": lambda run: _crossing(_widths(run.c["m"]), TB.width_risk_curve(
        *run.WM, _widths(run.c["m"])), float(run.c["eps"])),
    "rf_risk": lambda run: _exact(TB.width_risk_curve(*run.rf, [run.c["m"]])[0]),
    "rf_span_energy": lambda run: _exact(_span_energy(*run.rf)),
    "rf_m_star": lambda run: _crossing(_widths(run.c["m"]), TB.width_risk_curve(
        *run.rf, _widths(run.c["m"])), float(run.c["eps"])),
}


def run_flops(names, c: dict) -> float:
    """A flop count of one run (the cost model that keeps the audit within its budget):
    pretraining 2 d m (n1 + 2 n2) T plus sampling; probes and exact risks by their GEMMs and
    m x m solves."""
    d, m = c.get("d", 1), c.get("m", 1)
    total = 0.0
    if any(q not in _RF for q in names):
        total += 2.0 * d * m * (c["n1"] + 2 * c["n2"]) * c["T"]
        total += 8.0 * c["T"] * (c["n1"] + c["n2"]) * d
    if {"probe_risk", "probe_err01"} & set(names):
        total += PROBE_REPS * (2.0 * (c["n"] + N_TEST) * d * m + c["n"] * m * m + 2.0 * m ** 3)
    if "n_star" in names:
        total += PROBE_REPS * (2.0 * (N_STAR_GRID[-1] + N_TEST) * d * m
                               + sum(N_STAR_GRID) * m * m + len(N_STAR_GRID) * 2.0 * m ** 3)
    cubes = sum(1 for q in ("probe_pop_risk", "pop_risk", "lm_radius2", "rf_risk") if q in names)
    cubes += 2 * sum(1 for q in ("m_star", "rf_m_star") if q in names)
    total += cubes * (10.0 * m ** 3 + 2.0 * m * m * d)
    if _RF & set(names):
        total += 4.0 * d * m * min(d, m)
    return total


def _measure_run(names, c: dict, seed: int, device: str) -> dict[str, tuple[float, float]]:
    run = _Run(c, seed, device)
    return {q: MEASURES[q](run) for q in names}


# --- the budget -------------------------------------------------------------------------------

@dataclass
class _Clock:
    """The audit's budget and its cost model (one per audit, passed as an argument)."""

    deadline: float
    rate: float = RATE0
    runs: int = 0

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def run_s(self, names, c) -> float:
        return OVERHEAD_S + run_flops(names, c) / self.rate

    def calibrate(self, device: str) -> None:
        """Set the flop rate from one small pretraining run (after a warm-up run)."""
        c = {"d": 64, "r": 2, "T": 64, "n1": 512, "n2": 512, "m": 64}
        _measure_run(("E_out",), c, 0, device)
        t0 = time.perf_counter()
        _measure_run(("E_out",), c, 1, device)
        seconds = time.perf_counter() - t0
        self.rate = max(run_flops(("E_out",), c) / max(seconds - OVERHEAD_S, 1e-3), 1e6)

    def observe(self, names, c, seconds: float) -> None:
        """Update the flop rate from a measured run (geometric average; runs under 20 ms are
        dominated by overheads and say little)."""
        self.runs += 1
        if seconds > 0.02:
            obs = run_flops(names, c) / max(seconds - OVERHEAD_S, 1e-3)
            self.rate = math.exp(0.5 * math.log(self.rate) + 0.5 * math.log(max(obs, 1e6)))


@dataclass
class PointResult:
    """The runs at one configuration: the bounded quantity per run as an interval [lo, hi], the
    measured inputs of the expression, and the bound per run."""

    config: dict
    seeds: list[int]
    phase: str
    q_lo: np.ndarray = field(default_factory=lambda: np.zeros(0))
    q_hi: np.ndarray = field(default_factory=lambda: np.zeros(0))
    inputs: dict = field(default_factory=dict)
    bound: np.ndarray = field(default_factory=lambda: np.zeros(0))
    wall_s: float = 0.0
    skipped: str | None = None


def _seeds(seed: int, runs: int) -> list[int]:
    return [SEED_BLOCK * seed + k for k in range(runs)]


def measure_point(spec: BoundSpec, config: dict, seed: int, device: str,
                  clock: _Clock | None = None, deadline: float | None = None,
                  phase: str = "design") -> PointResult:
    """Measure ``spec.runs`` runs at ``config`` (seeds 1000 seed + k). A run that the cost model
    says would pass ``deadline`` is not started: the point is then skipped."""
    pr = PointResult(dict(config), _seeds(seed, spec.runs), phase)
    names = spec.measured
    values = []
    t0 = time.perf_counter()
    for s in pr.seeds:
        if clock is not None and deadline is not None \
                and time.perf_counter() + clock.run_s(names, config) > deadline:
            pr.skipped = "budget"
            return pr
        t1 = time.perf_counter()
        try:
            values.append(_measure_run(names, config, s, device))
        except MtlcheckError as e:                  # e.g. does not fit in memory
            pr.skipped = str(e)
            return pr
        if clock is not None:
            clock.observe(names, config, time.perf_counter() - t1)
    pr.wall_s = time.perf_counter() - t0
    q = spec.quantity
    pr.q_lo = np.array([v[q][0] for v in values], dtype=float)
    pr.q_hi = np.array([v[q][1] for v in values], dtype=float)
    pr.inputs = {i: np.array([v[i][0] for v in values], dtype=float) for i in spec.inputs}
    pr.bound = np.broadcast_to(spec.bound(config, pr.inputs), pr.q_lo.shape).astype(float)
    return pr


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


# --- the design and the search ----------------------------------------------------------------

def _halton(i: int, base: int) -> float:
    f, r = 1.0, 0.0
    while i > 0:
        f /= base
        r += f * (i % base)
        i //= base
    return r


_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)


def _at(axis, frac: float):
    """The point a fraction ``frac`` of the way along an axis: geometric for positive ranges,
    linear from 0; ints rounded."""
    lo, hi = float(axis.lo), float(axis.hi)
    v = lo * (hi / lo) ** frac if lo > 0 else lo + (hi - lo) * frac
    if axis.kind == "int":
        return int(min(max(round(v), axis.lo), axis.hi))
    return float(min(max(v, lo), hi))


def design_points(spec: BoundSpec) -> list[dict]:
    """The deterministic design: the corners of the varying axes (all of them up to 4 axes;
    beyond, the two extreme corners and each axis flipped alone at both), the centre, and
    INTERIOR_POINTS Halton points (log-spaced); duplicates removed, cheapest first."""
    fixed = {a.name: a.lo for a in spec.domain if not a.varying}
    var = list(spec.varying)
    k = len(var)
    if k <= 4:
        corners = [[(i >> j) & 1 for j in range(k)] for i in range(2 ** k)]
    else:
        corners = [[0] * k, [1] * k] + [[int(j == i) for j in range(k)] for i in range(k)] \
            + [[int(j != i) for j in range(k)] for i in range(k)]
    fracs = [list(map(float, c)) for c in corners]
    if k:
        fracs.append([0.5] * k)
        fracs += [[_halton(i, _PRIMES[j % len(_PRIMES)]) for j in range(k)]
                  for i in range(1, INTERIOR_POINTS + 1)]
    points, seen = [], set()
    for f in fracs:
        p = _ordered({**fixed, **{a.name: _at(a, x) for a, x in zip(var, f)}})
        key = tuple(sorted(p.items()))
        if key not in seen:
            seen.add(key)
            points.append(p)
    return sorted(points, key=lambda p: (run_flops(spec.measured, p), tuple(sorted(p.items()))))


def _strategy(spec: BoundSpec, upper: dict | None):
    """Hypothesis strategy over the varying axes (to ``upper`` when given: the box below a
    known violation); shrinking goes to the low end of each axis."""
    from hypothesis import strategies as st
    fixed = {a.name: a.lo for a in spec.domain if not a.varying}
    parts = {}
    for a in spec.varying:
        hi = a.hi if upper is None else upper[a.name]
        if a.kind == "int":
            parts[a.name] = st.integers(int(a.lo), int(hi))
        else:
            parts[a.name] = st.floats(float(a.lo), float(hi), allow_nan=False,
                                      allow_infinity=False)
    return st.fixed_dictionaries(parts).map(lambda v: _ordered({**fixed, **v}))


def _ordered(config: dict) -> dict:
    """A configuration with its symbols in the order of theory.boundfile.AXES."""
    return {k: config[k] for k in AXES if k in config}


@dataclass
class _Search:
    """State of one search: results by configuration (so Hypothesis sees a deterministic
    predicate), the phase deadline, the exploratory level."""

    spec: BoundSpec
    seed: int
    device: str
    clock: _Clock
    deadline: float
    alpha: float
    progress: object
    cache: dict = field(default_factory=dict)
    points: list = field(default_factory=list)
    calls: int = 0

    def violated(self, config: dict) -> bool:
        self.calls += 1
        key = tuple(sorted(config.items()))
        if key not in self.cache:
            self.cache[key] = self._evaluate(config)
        return self.cache[key]

    def _evaluate(self, config: dict) -> bool:
        """Measure and test one configuration; one that would take more than a quarter of the
        search time left is not measured (False), so that the search sees many points."""
        cost = self.spec.runs * self.clock.run_s(self.spec.measured, config)
        if cost > 0.25 * (self.deadline - time.perf_counter()):
            return False
        pr = measure_point(self.spec, config, self.seed, self.device, self.clock, self.deadline,
                           "search")
        if pr.skipped is not None:
            return False
        dec = point_decision(self.spec, pr, self.alpha)
        self.points.append((pr, dec))
        if dec["violated"]:
            self.progress(f"bound {self.spec.name!r}: search: violated at {_cfg(config)} "
                          f"(slack {dec['slack']:.4g})")
        return bool(dec["violated"])


@contextmanager
def hypothesis_scratch():
    """Hypothesis (6.13x on) caches the constants of the local modules it scans under
    ./.hypothesis/constants even without an example database: for the search its storage points
    at a temporary folder, removed afterwards, and the previous setting is restored, so that
    the audit leaves nothing on disk."""
    from hypothesis import configuration as hc
    old = hc.__dict__.get("__hypothesis_home_directory")
    with tempfile.TemporaryDirectory(prefix="mtlcheck-hypothesis-") as tmp:
        hc.set_hypothesis_home_dir(tmp)
        try:
            yield tmp
        finally:
            hc.set_hypothesis_home_dir(old)


def search(spec: BoundSpec, seed: int, device: str, clock: _Clock, deadline: float,
           alpha: float, upper: dict | None, progress, cache: dict | None = None
           ) -> tuple[dict | None, _Search]:
    """Derandomised Hypothesis search (no database, no deadline) for a configuration where the
    exploratory test at level ``alpha`` rejects the bound; the minimal one found, or None.
    ``cache`` holds results already measured with the same seeds (the design's)."""
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import HypothesisException, NoSuchExample

    state = _Search(spec, seed, device, clock, deadline, alpha, progress, dict(cache or {}))
    s = settings(max_examples=SEARCH_EXAMPLES, derandomize=True, database=None, deadline=None,
                 suppress_health_check=list(HealthCheck),
                 phases=[Phase.explicit, Phase.generate, Phase.shrink])
    try:
        with hypothesis_scratch():
            found = find(_strategy(spec, upper), state.violated, settings=s)
    except (NoSuchExample, HypothesisException):
        found = None
    return found, state


def _cfg(c: dict, exact: bool = False) -> str:
    """'d=16,r=1,...' (floats to 6 digits for display, exactly with ``exact``: for --at)."""
    return ",".join(f"{k}={_num(v, exact)}" for k, v in c.items())


def _num(v, exact: bool = False) -> str:
    if isinstance(v, int):
        return str(v)
    return repr(float(v)) if exact else f"{v:.6g}"


# --- one bound --------------------------------------------------------------------------------

@dataclass
class _Ctx:
    """What every bound of one audit shares: seed, device, progress, the clock, the file."""

    seed: int
    device: str
    progress: object
    clock: _Clock
    path: str


def _design_phase(spec: BoundSpec, ctx: _Ctx, deadline: float, alpha_each: float):
    """Visit the design cheapest first until the phase deadline. After a rejection the verdict
    is settled: the design goes on (for the slack and the constants) only within a quarter of
    the time then left."""
    visited, skipped = [], []
    for p in design_points(spec):
        pr = measure_point(spec, p, ctx.seed, ctx.device, ctx.clock, deadline)
        if pr.skipped is not None:
            why = "not visited: over the budget" if pr.skipped == "budget" else pr.skipped
            skipped.append({"config": p, "why": why})
            continue
        dec = point_decision(spec, pr, alpha_each)
        if dec["violated"] and not any(d["violated"] for _, d in visited):
            deadline = time.perf_counter() + 0.25 * max(deadline - time.perf_counter(), 0.0)
        visited.append((pr, dec))
        ctx.progress(f"bound {spec.name!r}: design {len(visited)}: {_cfg(p)}: slack "
                     f"{dec['slack']:.4g}{' VIOLATED' if dec['violated'] else ''}")
    return visited, skipped


def _search_phase(spec: BoundSpec, ctx: _Ctx, deadline: float, visited) -> dict:
    """Search (seeded with the design's results), then confirm the shrunk configuration with
    fresh seeds (block seed + 1) at level alpha / 2."""
    bad = [pr.config for pr, d in visited if d["violated"]]
    upper = bad[0] if bad else None
    reserve = 0.15 * max(deadline - time.perf_counter(), 0.0)
    found, st = None, None
    if deadline - reserve > time.perf_counter() or bad:
        seeded = {tuple(sorted(pr.config.items())): point_decision(spec, pr, spec.alpha)["violated"]
                  for pr, _ in visited}
        found, st = search(spec, ctx.seed, ctx.device, ctx.clock, deadline - reserve, spec.alpha,
                           upper, ctx.progress, seeded)
    out = {"examples": st.calls if st else 0, "evaluated": len(st.points) if st else 0,
           "box_upper": upper, "candidate": found, "confirmed": None, "confirmation": None,
           "points": st.points if st else []}
    if found is None:
        return out
    pr = measure_point(spec, found, ctx.seed + 1, ctx.device, ctx.clock, deadline, "confirm")
    if pr.skipped is not None:
        out["confirmed"] = False
        out["confirmation"] = {"skipped": pr.skipped}
        return out
    dec = point_decision(spec, pr, spec.alpha / 2)
    out.update(confirmed=dec["violated"], confirmation=dec, confirm_result=pr)
    ctx.progress(f"bound {spec.name!r}: confirmation at {_cfg(found)} with fresh seeds: "
                 f"{'violated' if dec['violated'] else 'not confirmed'}")
    return out


def _reproduce(spec: BoundSpec, config: dict, seed_block: int, path: str) -> list[str]:
    """The commands that rerun the runs behind a decision at ``config``."""
    import shlex
    vary = {a.name: config[a.name] for a in spec.varying}
    cmd = f"mtlcheck audit --bounds {shlex.quote(path)} --only {spec.name}"
    if vary:
        cmd += f" --at {_cfg(vary, exact=True)}"
    cmds = [cmd + f" --seed {seed_block}"]
    if any(q not in _RF for q in spec.measured):
        c = config
        s0 = SEED_BLOCK * seed_block
        extra = "".join(f" --{flag} {_num(c[k], True)}" for k, flag, dflt in
                        (("p", "noise", 0.0), ("eta_a", "eta-a", 1.0), ("eta_W", "eta-w", 1.0))
                        if k in c and c[k] != dflt)
        cmds.append(f"mtlcheck sim pretrain --d {c['d']} --r {c['r']} --T {c['T']} --n1 "
                    f"{c['n1']} --n2 {c['n2']} --m {c['m']}{extra} --seed {s0} --json "
                    f"(run k uses --seed {s0}+k, k = 0..{spec.runs - 1})")
    return cmds


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


def _verdict(spec: BoundSpec, visited, srch: dict, planned: int) -> tuple[str, str, dict | None]:
    """(verdict, reason, counterexample) from the design's and the search's decisions."""
    bad = [(pr, d) for pr, d in visited if d["violated"]]
    if srch.get("confirmed"):
        pr, d = srch["confirm_result"], srch["confirmation"]
        return ("violated", "the search's shrunk configuration is rejected again with fresh "
                "seeds", _counterexample(spec, pr, d, True, 1))
    if bad:
        pr, d = bad[0]
        note = "" if srch.get("candidate") is None else " (the search's shrunk candidate was " \
            "not confirmed by fresh seeds; this is the design point)"
        shrunk = all(pr.config[a.name] == a.lo for a in spec.varying)   # the low corner
        return ("violated", "a design point is rejected (Bonferroni over the design)" + note,
                _counterexample(spec, pr, d, shrunk, 0))
    if srch.get("candidate") is not None:
        return ("undecided", f"the search found a candidate at {_cfg(srch['candidate'])} that "
                "fresh seeds did not confirm", None)
    if not visited:
        return "undecided", "no point of the design fits in the budget", None
    if any(not d["valid"] for _, d in visited):
        return "undecided", "the bound or the measurement is undefined at a visited point", None
    return ("holds", f"no rejection at {len(visited)} of {planned} design points and "
            f"{srch.get('evaluated', 0)} search points", None)


def _counterexample(spec, pr: PointResult, dec: dict, shrunk: bool, offset: int) -> dict:
    seed_block = (pr.seeds[0] // SEED_BLOCK)
    return {"config": pr.config, "shrunk": shrunk, "confirmed": offset == 1,
            "seeds": pr.seeds, "slack": dec["slack"], "estimate": dec["estimate"],
            "bound": dec["bound"], "reproduce": _reproduce(spec, pr.config, seed_block,
                                                           spec.path)}


def audit_spec(spec: BoundSpec, budget_s: float, ctx: _Ctx) -> dict:
    """Audit one bound within ``budget_s`` seconds (docs/bounds-as-data.md, "Decision")."""
    t0 = time.perf_counter()
    deadline = t0 + budget_s
    facts = structural_facts(spec, seconds=min(0.25 * budget_s, max(0.08 * budget_s, 2.0), 20.0))
    planned = len(design_points(spec))
    k = len(spec.varying)
    a_design = spec.alpha if k == 0 else spec.alpha / 2 / planned
    left = deadline - time.perf_counter()
    visited, skipped = _design_phase(spec, ctx, time.perf_counter() + (left if k == 0 else
                                                                        0.55 * left), a_design)
    srch = _search_phase(spec, ctx, deadline, visited) if k else {}
    verdict, reason, cex = _verdict(spec, visited, srch, planned)
    decisions = [d for _, d in visited] + [d for _, d in srch.get("points", [])]
    if srch.get("confirmation") and "slack" in srch["confirmation"]:
        decisions.append(srch["confirmation"])
    valid = [d for d in decisions if d["valid"] and not math.isnan(d["slack"])]
    least = min(valid, key=lambda d: d["slack"]) if valid else None
    results = [pr for pr, _ in visited] + [pr for pr, _ in srch.get("points", [])]
    least_pr = next((pr for pr in results if least and pr.config == least["config"]), None)
    constants = needed_constants(spec, results, a_design)
    strength = None
    if verdict == "holds":
        strength = "shown" if all(d["shown"] for _, d in visited) else "not rejected"
    return {"name": spec.name, "source": spec.source, "claim": spec.claim,
            "quantity": spec.quantity, "relation": spec.relation, "expression": spec.expression,
            "expression_typed": facts["expression"], "holds": spec.holds, "delta": spec.delta,
            "verdict": verdict, "strength": strength, "reason": reason,
            "error_prob": spec.alpha,
            "error_prob_meaning": "probability of 'violated' when the bound holds at every "
                                  "visited point (Bonferroni over the design, alpha/2 each for "
                                  "the design and the confirmation)",
            "slack_min": least["slack"] if least else None,
            "at": least["config"] if least else None, "counterexample": cex,
            "constants": constants, "depends_on": facts["depends_on"], "structural": facts,
            "flagged": facts["flagged"], "flag": facts["flag"],
            "power": _power(spec, least_pr, a_design),
            "design": {"planned": planned, "visited": len(visited), "alpha_each": a_design,
                       "points": [d for _, d in visited], "skipped": skipped,
                       "seeds": {"rule": f"run k at every point uses seed {SEED_BLOCK}*{ctx.seed}"
                                         " + k", "values": _seeds(ctx.seed, spec.runs)}},
            "search": _search_record(srch, ctx.seed, spec.runs),
            "spec": spec.record(), "wall_s": time.perf_counter() - t0}


def _search_record(srch: dict, seed: int, runs: int) -> dict | None:
    if not srch:
        return None
    return {"examples": srch["examples"], "evaluated": srch["evaluated"],
            "box_upper": srch["box_upper"], "candidate": srch["candidate"],
            "confirmed": srch["confirmed"], "confirmation": srch["confirmation"],
            "exploratory_alpha": "alpha per point (unadjusted; only confirmed results count)",
            "points": [d for _, d in srch["points"]],
            "confirmation_seeds": _seeds(seed + 1, runs),
            "settings": {"max_examples": SEARCH_EXAMPLES, "derandomize": True,
                         "database": None, "deadline": None}}


# --- the whole file -----------------------------------------------------------------------------

def parse_at(text: str | None) -> dict | None:
    """'d=16,r=1,T=4' -> {'d': 16, 'r': 1, 'T': 4} (ints stay ints; for `--at`)."""
    if text is None:
        return None
    out = {}
    for part in str(text).split(","):
        key, sep, val = part.partition("=")
        if not sep or not key.strip():
            raise ParameterError("at", "audit --bounds", "a list NAME=VALUE,NAME=VALUE", text)
        try:
            out[key.strip()] = int(val)
        except ValueError:
            try:
                out[key.strip()] = float(val)
            except ValueError:
                raise ParameterError("at", "audit --bounds", "a list NAME=VALUE with numbers",
                                     text)
    return out


def _at_config(spec: BoundSpec, at: dict) -> dict:
    config = {a.name: a.lo for a in spec.domain}
    for k, v in at.items():
        if k not in config:
            raise ParameterError("at", "audit --bounds", f"symbols of bound {spec.name!r} "
                                 f"({', '.join(config)})", k)
        if not AXES[k].ok(v):
            raise ParameterError("at", "audit --bounds", f"{k} = {AXES[k].constraint()}", v)
        config[k] = v
    if config.get("r", 0) > config.get("d", math.inf):
        raise ParameterError("at", "audit --bounds", "a configuration with r <= d", at)
    return config


def _audit_at(spec: BoundSpec, at: dict, ctx: _Ctx) -> dict:
    """One configuration, the seeds of ``ctx.seed``, one test at level alpha (reproduction)."""
    t0 = time.perf_counter()
    config = _at_config(spec, at)
    pr = measure_point(spec, config, ctx.seed, ctx.device, None, None, "at")
    dec = point_decision(spec, pr, spec.alpha)
    verdict = "violated" if dec["violated"] else ("holds" if dec["valid"] else "undecided")
    facts = structural_facts(spec, seconds=5.0)
    return {"name": spec.name, "source": spec.source, "claim": spec.claim,
            "quantity": spec.quantity, "relation": spec.relation, "expression": spec.expression,
            "expression_typed": facts["expression"], "holds": spec.holds, "delta": spec.delta,
            "verdict": verdict, "strength": "shown" if dec["shown"] else "not rejected",
            "reason": f"one configuration (--at), one test at level {spec.alpha}",
            "error_prob": spec.alpha, "slack_min": dec["slack"], "at": config,
            "counterexample": _counterexample(spec, pr, dec, False, 0) if dec["violated"] else None,
            "constants": needed_constants(spec, [pr], spec.alpha),
            "depends_on": facts["depends_on"], "structural": facts, "flagged": facts["flagged"],
            "flag": facts["flag"], "power": _power(spec, pr, spec.alpha),
            "design": {"planned": 1, "visited": 1, "alpha_each": spec.alpha, "points": [dec],
                       "skipped": [], "seeds": {"values": pr.seeds}},
            "search": None, "spec": spec.record(), "wall_s": time.perf_counter() - t0}


def _share(specs: list[BoundSpec], clock: _Clock) -> float:
    """Seconds for the first of ``specs``: an even share of what is left, raised to what its
    cheapest configuration needs (1.5 times its runs, plus 5 s) when the later bounds' own
    needs still fit."""
    left = max(clock.left(), 0.0)

    def need(spec):
        p = design_points(spec)[0]
        return 1.5 * spec.runs * clock.run_s(spec.measured, p) + 5.0

    later = sum(need(s) for s in specs[1:])
    return min(left, max(left / len(specs), min(need(specs[0]), left - later)))


def _check_budget(budget_s) -> float:
    return validate("audit --bounds", budget=budget_s)["budget"]


def audit_bounds(path: str, budget_s: float = DEFAULT_BUDGET_S, seed: int = 0,
                 device: str = "auto", progress=None, only=None, at: dict | None = None) -> dict:
    """Audit every bound of a bound file within ``budget_s`` seconds (shared evenly among the
    bounds still to audit); returns the document of checks/schemas/audit.schema.json.

    ``only``: names of the bounds to audit; ``at``: one configuration to evaluate (with the seeds
    of ``seed``), as a reproduction command does. BoundFileError for a bad file, ParameterError
    for a bad argument."""
    budget = _check_budget(budget_s)
    v = validate("audit", seed=seed, device=device)
    if v["seed"] > MAX_SEED:
        raise ParameterError("seed", "audit --bounds", f"an int in [0, {MAX_SEED}]", seed)
    dev = resolve_device(v["device"], "audit")
    progress = progress or (lambda msg: None)
    specs = load_bounds(path)
    names = [s.name for s in specs]
    only = [only] if isinstance(only, str) else only
    for n in only or []:
        if n not in names:
            raise ParameterError("only", "audit --bounds", "names of bounds in the file ("
                                 + ", ".join(names) + ")", n)
    specs = [s for s in specs if not only or s.name in only]
    t0 = time.perf_counter()
    ctx = _Ctx(v["seed"], v["device"], progress, _Clock(t0 + budget), str(path))
    if at is None:
        ctx.clock.calibrate(v["device"])
    records = []
    for i, spec in enumerate(specs):
        progress(f"bound {spec.name!r}: {spec.quantity} {spec.relation} {spec.expression}")
        if at is not None:
            records.append(_audit_at(spec, at, ctx))
        else:
            records.append(audit_spec(spec, _share(specs[i:], ctx.clock), ctx))
    summary = {k: sum(r["verdict"] == k for r in records) for k in ("holds", "violated",
                                                                     "undecided")}
    summary["flagged"] = sum(bool(r["flagged"]) for r in records)
    return _jsonable({"file": str(path), "seed": v["seed"], "budget_s": budget,
                      "device": describe(dev), "bounds": records, "summary": summary,
                      "wall_s": time.perf_counter() - t0})


def _jsonable(x):
    """Strict JSON: numpy scalars to Python, inf and NaN to None (the schema's null)."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_jsonable(v) for v in x.tolist()]
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer, int)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(float(x)) else None
    return x


def exit_status(doc: dict) -> int:
    """0 when every bound holds and none is flagged; 1 otherwise (a violation, an undecided
    bound, or a structural flag)."""
    ok = all(r["verdict"] == "holds" and not r["flagged"] for r in doc["bounds"])
    return 0 if ok else 1


def main_audit_bounds(args) -> int:
    """`mtlcheck audit --bounds FILE [--budget S] [--seed N] [--device D] [--json]
    [--only NAME ...] [--at K=V,...]`: progress on stderr, the document or a text report on
    stdout; exit status 0 / 1 (exit_status); a bad file raises BoundFileError (status 2)."""
    progress = lambda m: print(m, file=sys.stderr, flush=True)
    budget = getattr(args, "budget", None)
    doc = audit_bounds(args.bounds, DEFAULT_BUDGET_S if budget is None else budget,
                       getattr(args, "seed", 0), getattr(args, "device", "auto"), progress,
                       getattr(args, "only", None), parse_at(getattr(args, "at", None)))
    print(json.dumps(doc) if getattr(args, "json", False) else text_report(doc))
    return exit_status(doc)


def _f(x) -> str:
    return fmt(x, none="-")


def _constants_lines(r: dict) -> list[str]:
    lines = []
    for name, c in r["constants"].items():
        if c["direction"] is None:
            lines.append(f"  constant {name}: typed {_f(c['typed'])}; {c.get('note', '')}")
            continue
        shown = "not reachable with these runs" if c["needed_ucb"] is None else _f(c["needed_ucb"])
        lines.append(f"  constant {name}: typed {_f(c['typed'])}; needed {c['direction']} "
                     f"{_f(c['needed'])} (simulation rejects beyond {_f(c['needed_lcb'])}; "
                     f"shown to hold from {shown})")
    return lines


def text_report(doc: dict) -> str:
    """The human-readable report of :func:`audit_bounds` (a summary table, then each bound)."""
    from tabulate import tabulate
    rows = [[r["name"], f"{r['quantity']} {r['relation']} ...", r["holds"], r["verdict"].upper()
             if r["verdict"] != "holds" else "holds", _f(r["slack_min"]), _f(r["error_prob"]),
             "FLAGGED" if r["flagged"] else ""] for r in doc["bounds"]]
    out = [tabulate(rows, headers=["bound", "statement", "holds in", "verdict", "least slack",
                                   "error prob.", "claim rules"])]
    for r in doc["bounds"]:
        out.append(f"\nbound {r['name']!r}: {r['quantity']} {r['relation']} {r['expression']} "
                   f"({r['holds']}{'' if r['delta'] is None else ', delta = ' + _f(r['delta'])})")
        if r["source"]:
            out.append(f"  source: {r['source']}")
        out.append(f"  verdict: {r['verdict']}"
                   + (f" ({r['strength']})" if r["strength"] else "")
                   + f"; {r['reason']}; error probability <= {_f(r['error_prob'])}")
        if r["at"] is not None:
            out.append(f"  least slack {_f(r['slack_min'])} at {_cfg(r['at'])}")
        cex = r["counterexample"]
        if cex:
            how = "shrunk by Hypothesis" if cex["shrunk"] else "not shrunk"
            out.append(f"  COUNTEREXAMPLE ({how}"
                       f"{', confirmed with fresh seeds' if cex['confirmed'] else ''}): "
                       f"{_cfg(cex['config'])}: measured {_f(cex['estimate'])} vs bound "
                       f"{_f(cex['bound'])}")
            out += [f"    reproduce: {c}" for c in cex["reproduce"]]
        out += _constants_lines(r)
        st = r["structural"]
        mono = ", ".join(f"{k}: {v['verdict']}" for k, v in st["monotone"].items())
        out.append(f"  depends on: {', '.join(st['depends_on']) or 'nothing'}; monotone in {mono}")
        if r["flag"]:
            out.append(f"  {r['flag']}")
        des = r["design"]
        out.append(f"  design: {des['visited']} of {des['planned']} points, "
                   f"{r['spec']['runs']} runs each; seeds {des['seeds']['values'][:3]}...")
    out.append(f"\n{doc['summary']} in {doc['wall_s']:.0f}s (budget {doc['budget_s']:.0f}s, "
               f"seed {doc['seed']}, {doc['device']})")
    return "\n".join(out)
