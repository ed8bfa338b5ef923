"""`mtlcheck audit --bounds`: where to look. The deterministic design over a bound's domain
(corners, centre, Halton points, cheapest first) and the derandomised Hypothesis search (no
database, no deadline, its storage in a scratch folder) that shrinks a violation to a minimal
configuration; configurations as text.
"""
from __future__ import annotations

import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..boundlang import AXES, BoundSpec
from .bound_decide import point_decision
from .bound_measure import _Clock, measure_point, run_flops

__all__ = ["SEARCH_EXAMPLES", "INTERIOR_POINTS", "design_points", "search", "hypothesis_scratch"]

SEARCH_EXAMPLES = 40               # Hypothesis examples per search
INTERIOR_POINTS = 6                # log-spaced interior points of the design


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
    """A configuration with its symbols in the order of boundlang.AXES."""
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
           alpha: float, upper: dict | None, progress, cache: dict | None = None,
           examples: int = SEARCH_EXAMPLES) -> tuple[dict | None, _Search]:
    """Derandomised Hypothesis search (no database, no deadline, ``examples`` examples) for a
    configuration where the exploratory test at level ``alpha`` (qa/bound_decide.py
    ``point_decision``) rejects the bound; the minimal one found, or None. ``cache`` holds
    results already measured with the same seeds (the design's). The one search of every audit
    path: `mtlcheck audit --bounds` and `mtlcheck counterexamples`."""
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import HypothesisException, NoSuchExample

    state = _Search(spec, seed, device, clock, deadline, alpha, progress, dict(cache or {}))
    s = settings(max_examples=examples, derandomize=True, database=None, deadline=None,
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
