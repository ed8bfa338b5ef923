"""`mtlcheck audit --bounds`: the measurements (docs/bounds-as-data.md section 3). One run at a
configuration measures every registered quantity off one pretraining (or one draw of random
features); a point is ``runs`` such runs (seeds 1000 seed + k), each started only when the cost
model of the audit's clock says it fits before the deadline.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch

from ..boundlang import BoundSpec
from ..checks.context import derive_seed
from ..checks.complexity import crossing_status
from ..sim.pretrain import PretrainConfig, pretrain
from ..sim.probes import FeatureMap, probe_curve
from ..sim.samplers import generator, haar, make_target, sphere
from ..theory import bounds as TB
from ..theory.model import Algorithm, ReferenceModel
from ..theory.params import MtlcheckError

__all__ = ["PROBE_REPS", "N_TEST", "N_STAR_GRID", "SEED_BLOCK", "OVERHEAD_S", "RATE0", "MEASURES",
           "run_flops", "PointResult", "measure_point"]

PROBE_REPS = 4                     # downstream draws per run (probe_risk, probe_err01, n_star)
N_TEST = 2000                      # test points per downstream draw
N_STAR_GRID = tuple(2 ** k for k in range(3, 14))       # 8 .. 8192
SEED_BLOCK = 1000                  # run k of seed s uses 1000 s + k
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
        # "boundaudit-*": the seed names from before the split (the same seeds give the same runs)
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
