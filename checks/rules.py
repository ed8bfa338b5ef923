"""The decision rules: one object per kind of decision, used by the claims to decide and by
`mtlcheck calibrate` and the operating characteristic to measure (docs/design.md section 4;
docs/derivations.md section 10). What is calibrated is what decides: both call ``decide``.

Every rule has a boundary (or two), a relation ('<=', '>=', or 'within' center +- tol) and an
``error`` direction:

- ``false pass``: the component passes only with evidence that the property holds (its
  confidence bound on the claim's side of the boundary); alpha bounds the chance of passing
  when the truth sits on the boundary;
- ``false alarm``: the component fails only with evidence of a violation (its opposite bound
  beyond the boundary); alpha bounds the chance of failing when the truth sits on the boundary.

``decide(data) -> Decision`` gives both bounds: ``passed`` (the claim's side shown) and
``refuted`` (the opposite shown, the evidence a negative control needs). A non-finite statistic
or bound never passes and never refutes.

Kinds: :class:`SlopeRule` (growth slope of group means, or a rate), :class:`MeanRule` (one
mean), :class:`BinomialRule` (a share, Clopper-Pearson), :class:`ExactRule` (a deterministic
identity), :class:`ZRule` (normal z-scores against a formula), :class:`EveryPoint` (a rule that
must hold at every point of a grid) and :class:`AllOf` (a claim's rule made of parts, as its
negative controls see it).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from scipy.stats import binom, norm

from . import sequential as seq
from .shapes import residuals
from .stats import clopper_pearson_lower, clopper_pearson_upper, contrast_bound, slope_weights

__all__ = ["Groups", "Decision", "serialise", "deserialise", "SlopeRule", "MeanRule", "BinomialRule", "ExactRule", "ZRule",
           "EveryPoint", "AllOf", "operating_characteristic", "OC_FIELDS", "LEVEL"]


@dataclass(frozen=True)
class Groups:
    """Independent replicates by group: ``values[g]`` observed at ``xs[g]`` (NaN: censored).
    ``lo``/``hi``: the grid's limits; a synthetic value outside them is censored."""

    xs: tuple
    values: tuple
    lo: float = -math.inf
    hi: float = math.inf

    @staticmethod
    def of(xs: Sequence[float], values: Sequence[Sequence[float]], lo=-math.inf,
           hi=math.inf) -> "Groups":
        return Groups(tuple(float(x) for x in xs),
                      tuple(tuple(float(v) for v in g) for g in values), float(lo), float(hi))

    @staticmethod
    def one(values: Sequence[float]) -> "Groups":
        return Groups.of([0.0], [values])

    def finite(self) -> bool:
        return all(math.isfinite(v) for g in self.values for v in g)

    def draws(self, shape: str, N: int, rng, sizes: Sequence[int] | None = None) -> list:
        """N datasets' residuals in ``shape`` (checks/shapes.py), ``sizes[g]`` per group."""
        sizes = list(sizes or [len(g) for g in self.values])
        if len(sizes) == 1 < len(self.values):
            sizes = sizes * len(self.values)
        return residuals(shape, self.values, sizes, N, rng)

    def build(self, R: list, means: Sequence[float]) -> list["Groups"]:
        """The datasets ``R + means`` (group g's mean ``means[g]``), censored at lo/hi."""
        V = [np.where((r + m < self.lo) | (r + m > self.hi), np.nan, r + m)
             for r, m in zip(R, means)]
        return [Groups(self.xs, tuple(tuple(v[i]) for v in V), self.lo, self.hi)
                for i in range(len(V[0]))]

    def synthetic(self, shape: str, means: Sequence[float], N: int, rng,
                  sizes: Sequence[int] | None = None) -> list["Groups"]:
        """N datasets whose group g has mean ``means[g]``, the real group's spread and the
        residual ``shape``, ``sizes[g]`` replicates, censored at lo/hi."""
        return self.build(self.draws(shape, N, rng, sizes), means)


def serialise(data):
    """A rule's input as JSON: Groups as {xs, values, lo, hi} (NaN and infinities as null),
    sequences element-wise, booleans and numbers as themselves."""
    if isinstance(data, Groups):
        return {"xs": [_num(x) for x in data.xs],
                "values": [[_num(v) for v in g] for g in data.values],
                "lo": _num(data.lo), "hi": _num(data.hi)}
    if isinstance(data, (list, tuple, np.ndarray)):
        return [serialise(x) for x in data]
    if isinstance(data, (bool, np.bool_)):
        return bool(data)
    return _num(data)


def deserialise(obj, default_lo=-math.inf, default_hi=math.inf):
    """The inverse of :func:`serialise` (null values come back as NaN; null limits as +-inf)."""
    if isinstance(obj, dict) and "values" in obj:
        return Groups.of(obj["xs"], [[math.nan if v is None else v for v in g]
                                     for g in obj["values"]],
                         default_lo if obj.get("lo") is None else obj["lo"],
                         default_hi if obj.get("hi") is None else obj["hi"])
    if isinstance(obj, list):
        return [deserialise(x) for x in obj]
    return math.nan if obj is None else obj


#: the t-based rules compute their bounds at LEVEL x alpha (level calibration, Loh 1987): at
#: alpha itself the false-pass rate over the shape family of checks/shapes.py reached 6.9% (C2's
#: slope, opposite skews at the grid's ends, 10 seeds per d); `mtlcheck calibrate` measures the
#: rate of the calibrated rule on every shape (docs/derivations.md section 10.3)
LEVEL = 0.5
#: a false-alarm t rule (a derived bound that must not be refuted: C2's risk bound (c), C5's
#: consistency and lower bound) at LEVEL_ALARM x alpha: its replicates are per-seed averages
#: whose law calibrate fits from the run's own replicates, as few as 5 when a claim decided in
#: rounds stops early; at LEVEL the C2 risk rule's false-alarm rate on the pooled bootstrap of
#: such a run reached 0.0665 (CP95 0.0764) at the boundary (docs/derivations.md section 10.6)
LEVEL_ALARM = 0.25


def _f(x) -> float:
    return math.nan if x is None else float(x)


def _num(x):
    """JSON-safe number (None for inf/nan)."""
    return None if x is None or not math.isfinite(float(x)) else float(x)


@dataclass
class Decision:
    """What a rule decided on one dataset."""

    rule: str
    statistic: float
    confidence_bound: float          # the claim's side: passes when within the boundary
    refute_bound: float              # the opposite side: refutes when beyond the boundary
    boundary: float
    relation: str                    # '<=' or '>=' (equivalence rules: '<=' on |theta - c|)
    alpha: float
    error: str
    method: str
    passed: bool
    refuted: bool
    extra: dict = field(default_factory=dict)
    data: object = None              # the input the rule decided on (evidence)
    params: dict = field(default_factory=dict)   # the rule that decided (Rule.params)

    @property
    def ok(self) -> bool:
        """The component's verdict: a false-pass component needs evidence for the claim, a
        false-alarm component fails only with evidence against it; NaN never passes."""
        if not math.isfinite(_f(self.statistic)):
            return False
        if self.error == "false alarm":
            return not math.isnan(_f(self.refute_bound)) and not self.refuted
        return self.passed

    @property
    def side(self) -> str:
        return "upper" if self.relation == "<=" else "lower"

    def _common(self) -> dict:
        return {"rule": self.rule, "statistic": _num(self.statistic),
                "boundary": _num(self.boundary), "bound": _num(self.boundary),
                "relation": self.relation, "side": self.side, "alpha": self.alpha,
                "method": self.method, "error": self.error}

    def component(self, name: str, key: str, **extra) -> dict:
        """The record of a decision component (the primary decision or a subcheck); ``key``
        names it for calibrate (never looked up by position), ``inputs`` holds what the rule
        decided on."""
        return {"name": name, "key": key, **self._common(),
                "confidence_bound": _num(self.confidence_bound),
                "refute_bound": _num(self.refute_bound),
                "verdict": "pass" if self.ok else "fail", **self.extra, **extra,
                "params": self.params, "inputs": serialise(self.data)}

    def control(self, name: str, description: str, **extra) -> dict:
        """The record of a negative control: 'rejected' only on evidence, i.e. when its own
        confidence bound (the one opposite the claim's side) lies beyond the boundary;
        'accepted' when the rule passes it; else 'undecided'. Only 'rejected' lets the claim
        pass."""
        verdict = "rejected" if self.refuted else ("accepted" if self.passed else "undecided")
        return {"name": name, "description": description, **self._common(),
                "confidence_bound": _num(self.refute_bound),
                "claim_side_bound": _num(self.confidence_bound), "verdict": verdict,
                **self.extra, **extra, "params": self.params, "inputs": serialise(self.data)}


def _relate(rule, kind, stat, lower, upper, method, data, **extra) -> Decision:
    """A Decision from an estimate's two one-sided bounds under the rule's relation."""
    lower, upper = _f(lower), _f(upper)
    if rule.relation == "within":
        c, tol = rule.boundary, rule.tol
        cb = max(upper - c, c - lower)
        rb = max(lower - c, c - upper)
        stat = abs(_f(stat) - c)
        bnd, rel = tol, "<="
    elif rule.relation == "<=":
        cb, rb, bnd, rel = upper, lower, rule.boundary, "<="
    else:
        cb, rb, bnd, rel = lower, upper, rule.boundary, ">="
    fin = math.isfinite(cb) and math.isfinite(rb) and math.isfinite(_f(stat))
    passed = fin and (cb <= bnd if rel == "<=" else cb >= bnd)
    refuted = fin and (rb > bnd if rel == "<=" else rb < bnd)
    return Decision(kind, _f(stat), cb, rb, bnd, rel, rule.alpha, rule.error, method,
                    bool(passed), bool(refuted), extra, data, rule.params())


class Rule:
    """The common interface. Subclasses set ``relation``, ``boundary`` (and ``tol`` for
    'within'), ``alpha``, ``error`` and implement ``decide`` and ``means_at``."""

    relation: str
    boundary: float
    tol: float = 0.0
    alpha: float
    error: str = "false pass"

    def decide(self, data) -> Decision:                       # pragma: no cover - abstract
        raise NotImplementedError

    def params(self) -> dict:
        """What a record needs to re-decide this rule independently (`mtlcheck verify`): its
        kind, relation ('<=', '>=', 'within' with boundary = centre and tol), boundary, alpha,
        error direction, and the level of its t bounds (t-based rules)."""
        out = {"kind": type(self).__name__, "relation": self.relation,
               "boundary": _num(self.boundary), "tol": _num(self.tol), "alpha": self.alpha,
               "error": self.error}
        if isinstance(self, (SlopeRule, MeanRule)):
            out["t_level"] = self.t_level
        return out

    @property
    def t_level(self) -> float:
        """The level of a t-based rule's bounds: LEVEL x alpha, LEVEL_ALARM x alpha for a
        false-alarm rule."""
        return self.alpha * (LEVEL_ALARM if self.error == "false alarm" else LEVEL)

    def seq_parts(self, data) -> list[dict]:
        """The rule's sequential form (checks/sequential.py): one-sided mean (or share) tests on
        per-replicate series, all of which must pass (any refuted refutes)."""
        raise NotImplementedError(f"{type(self).__name__} has no sequential form")

    #: whether the rule has a sequential form (seq_parts or parts that all have one)
    sequential: bool = False

    def judge(self, data, key: str | None = None) -> Decision:
        """The decision of a claim's component in a run: the anytime-valid one when the claim
        runs in rounds (inside sequential.monitoring) and the rule has a sequential form, else
        :meth:`decide` on the data as they are. ``key``: the profile entry that counts the
        data's replicates; in rounds the looks are then that key's counts at the claim's looks
        (sequential.component_looks), also when the data stop short of this round's count (a
        settled sweep: sequential.sweep_count)."""
        mon = seq.active()
        if mon is None or not self.sequential:
            return self.decide(data)
        design, n = mon
        return self.decide_sequential(data, seq.looks_for(design, n, data, key))

    def decide_sequential(self, data, looks) -> Decision:
        """The anytime-valid decision on replicates in their order, looked at after each count
        in ``looks`` (docs/derivations.md section 10.6): decided at the first look where every
        part's e-value on the pass side, or one part's on the refute side, reaches 1 / alpha;
        the statistic and the anytime-valid bounds are those at that look (running
        intersection), or at the last look when undecided."""
        return seq.decide_single(self, data, looks)

    def ok_rate(self, datasets) -> float:
        """The share of datasets on which the component passes (through ``decide``)."""
        return float(np.mean([self.decide(x).ok for x in datasets]))

    def boundaries(self) -> list[tuple[str, float]]:
        """(side, truth): where calibration puts the truth - on each boundary of the rule."""
        if self.relation == "within":
            return [("lower", self.boundary - self.tol), ("upper", self.boundary + self.tol)]
        return [("upper" if self.relation == "<=" else "lower", self.boundary)]

    def synthetic(self, real, truth: float, shape: str, N: int, rng, sizes=None) -> list:
        """N datasets shaped like ``real`` (checks/shapes.py) with the rule's parameter at
        ``truth``."""
        return real.synthetic(shape, self.means_at(real, truth), N, rng, sizes)


@dataclass(frozen=True)
class SlopeRule(Rule):
    """The slope of the group means against x (least squares through the means) with one-sided
    Welch-Satterthwaite t bounds widened by the Cornish-Fisher skew term
    (checks/stats.py: contrast_bound). Data: :class:`Groups`."""

    relation: str
    boundary: float
    alpha: float
    error: str = "false pass"
    tol: float = 0.0

    sequential = True

    def decide(self, data: Groups) -> Decision:
        c = contrast_bound(slope_weights(data.xs), data.values, self.t_level)
        return _relate(self, "slope of group means", c.estimate, c.lower, c.upper,
                       f"Welch-Satterthwaite t bound on the slope of the group means at "
                       f"{self.t_level / self.alpha:g} alpha, Cornish-Fisher skew correction",
                       data, se=_num(c.se),
                       df=_num(c.df), skew=_num(c.skew), t_level=self.t_level)

    def seq_parts(self, data: Groups) -> list[dict]:
        n = {len(g) for g in data.values}
        if len(n) != 1:
            raise ValueError("a sequential slope needs the same replicates in every group")
        w = slope_weights(data.xs)
        # row by row (not one matrix product, whose rounding depends on the row count): a
        # prefix of the replicates gives the same series values bit for bit
        series = (np.asarray(data.values, dtype=float).T * w).sum(axis=1)
        return seq.mean_parts(self, series)

    def means_at(self, real: Groups, slope: float) -> list[float]:
        """Group means on a line of slope ``slope`` through the real data's grand mean."""
        xbar = float(np.mean(real.xs))
        vals = [v for g in real.values for v in g if math.isfinite(v)]
        base = float(np.mean(vals)) if vals else 0.0
        return [base + slope * (x - xbar) for x in real.xs]


@dataclass(frozen=True)
class MeanRule(Rule):
    """One mean with one-sided Student-t bounds and the Cornish-Fisher skew term (the one-group
    case of :func:`checks.stats.contrast_bound`). Data: :class:`Groups` with one group."""

    relation: str
    boundary: float
    alpha: float
    error: str = "false pass"
    tol: float = 0.0

    sequential = True

    def decide(self, data: Groups) -> Decision:
        if len(data.values) != 1:
            raise ValueError("MeanRule takes one group")
        c = contrast_bound([1.0], data.values, self.t_level)
        return _relate(self, "mean", c.estimate, c.lower, c.upper,
                       f"Student t bound of the mean at {self.t_level / self.alpha:g} alpha, "
                       "Cornish-Fisher skew correction", data, se=_num(c.se), df=_num(c.df),
                       skew=_num(c.skew), t_level=self.t_level)

    def seq_parts(self, data: Groups) -> list[dict]:
        return seq.mean_parts(self, np.asarray(data.values[0], dtype=float))

    def means_at(self, real: Groups, mean: float) -> list[float]:
        return [mean]


@dataclass(frozen=True)
class BinomialRule(Rule):
    """A share of independent runs with a property: Clopper-Pearson bounds (exact). Data: a
    sequence of booleans (True: the run has the property)."""

    relation: str
    boundary: float
    alpha: float
    error: str = "false pass"
    tol: float = 0.0

    sequential = True

    def decide(self, data) -> Decision:
        data = [bool(x) for x in data]
        K, k = len(data), sum(data)
        if K == 0:
            return _relate(self, "share", math.nan, math.nan, math.nan, "Clopper-Pearson", data)
        return _relate(self, "share", k / K, clopper_pearson_lower(k, K, self.alpha),
                       clopper_pearson_upper(k, K, self.alpha),
                       "Clopper-Pearson (exact binomial)", data, k=k, K=K)

    def synthetic(self, real, truth: float, shape: str, N: int, rng, sizes=None) -> list:
        K = sizes or len(real)
        return [[bool(u) for u in row] for row in rng.random((N, K)) < truth]

    def seq_parts(self, data) -> list[dict]:
        return seq.mean_parts(self, np.asarray([bool(x) for x in data], dtype=float), "share")

    def ok_probability(self, p: float, K: int) -> float:
        """Exact: the Binomial(K, p) weight of the counts on which the component passes."""
        return float(sum(binom.pmf(k, K, p) for k in range(K + 1)
                         if self.decide([True] * k + [False] * (K - k)).ok))


@dataclass(frozen=True)
class ExactRule(Rule):
    """A deterministic identity: the error must be <= tol (float64 rounding); no alpha."""

    boundary: float
    relation: str = "<="
    alpha: float = 0.0
    error: str = "false pass"
    tol: float = 0.0

    def decide(self, data: float) -> Decision:
        x = _f(data)
        return _relate(self, "exact identity", x, x, x, "exact identity in float64 "
                       "(deterministic)", x)


@dataclass(frozen=True)
class ZRule(Rule):
    """Normal z-scores of estimates against a formula, two-sided with Bonferroni over the k
    scores (a union: the false-alarm direction). Data: a sequence of z-scores."""

    alpha: float
    relation: str = "<="
    boundary: float = 0.0
    error: str = "false alarm"
    tol: float = 0.0

    def decide(self, data) -> Decision:
        z = np.abs(np.asarray(data, dtype=float))
        crit = float(norm.ppf(1 - self.alpha / (2 * len(z))))
        worst = float(z.max()) if len(z) and np.isfinite(z).all() else math.nan
        # |z| - crit > 0 refutes; the pass-side bound is the same number (a z test has one)
        return _relate(self, "z-scores", worst - crit, worst - crit, worst - crit,
                       "normal z-scores, two-sided, Bonferroni over the scores",
                       [float(v) for v in np.asarray(data, dtype=float)],
                       max_abs_z=_num(worst), critical=crit)

    def synthetic(self, real, truth: float, shape: str, N: int, rng, sizes=None) -> list:
        return list(rng.standard_normal((N, len(real))) + truth)


@dataclass(frozen=True)
class EveryPoint(Rule):
    """A rule that must hold at every point of a grid, on data transformed so that each point's
    boundary is the same (e.g. log x* - log bound(d) <= 0). Data: one dataset of ``inner``
    per point.

    - error 'false pass' (an intersection of properties): passes only when every point passes
      at alpha; by the intersection-union principle this has size alpha, no Bonferroni;
    - error 'false alarm' (fails on evidence of a violation at some point): each point is
      refuted at alpha / k (Bonferroni over the k points: the union needs it)."""

    inner: Callable[[float], Rule]         # alpha -> the point rule
    alpha: float
    error: str = "false pass"
    relation: str = "<="
    boundary: float = 0.0
    tol: float = 0.0

    @property
    def sequential(self) -> bool:
        return self.point_rule(1).sequential

    def point_rule(self, k: int) -> Rule:
        return self.inner(self.alpha / k if self.error == "false alarm" else self.alpha)

    def decide(self, data) -> Decision:
        rule = self.point_rule(len(data))
        ds = [rule.decide(x) for x in data]
        worst = (max if ds[0].relation == "<=" else min)
        nanw = lambda xs: math.nan if any(math.isnan(_f(x)) for x in xs) else worst(xs)
        d0 = ds[0]
        return Decision(f"every point ({d0.rule})", nanw([d.statistic for d in ds]),
                        nanw([d.confidence_bound for d in ds]),
                        nanw([d.refute_bound for d in ds]), d0.boundary, d0.relation,
                        self.alpha, self.error,
                        d0.method + (f", each point at alpha / {len(ds)} (Bonferroni: a union)"
                                     if self.error == "false alarm" else
                                     ", each point at alpha (intersection-union, no Bonferroni)"),
                        all(d.passed for d in ds), any(d.refuted for d in ds),
                        {"points": len(ds)}, list(data),
                        {**super().params(), "inner": rule.params(), "points": len(ds)})

    def decide_sequential(self, data, looks) -> Decision:
        rule = self.point_rule(len(data))
        return seq.decide_composite(self, [rule] * len(data), data, looks)

    def boundaries(self):
        r = self.inner(self.alpha)
        return r.boundaries()

    def synthetic(self, real, truth: float, shape: str, N: int, rng, sizes=None) -> list:
        """False pass: one point (the widest) on the boundary, the others far inside (the least
        favourable configuration of an intersection-union test); false alarm: every point on
        the boundary (the least favourable for the union)."""
        rule = self.point_rule(len(real))
        spreads = [np.nanstd(np.asarray(g.values[0], dtype=float)) for g in real]
        widest = int(np.argmax(spreads))
        per = []
        for i, g in enumerate(real):
            if self.error == "false alarm" or i == widest:
                t = truth
            elif rule.relation == "within":
                t = rule.boundary                           # the centre: deep inside
            else:
                t = truth + (-20.0 if rule.relation == "<=" else 20.0) * (spreads[i] + 1e-12)
            per.append(rule.synthetic(g, t, shape, N, rng, sizes))
        return [[p[i] for p in per] for i in range(N)]


@dataclass(frozen=True)
class AllOf(Rule):
    """A claim rule made of parts that must all pass (e.g. C1: the rate AND the isotropy). As a
    negative control sees it: refuted when any part is refuted. Data: one dataset per part."""

    parts: tuple
    alpha: float = 0.05
    relation: str = "<="
    boundary: float = 0.0
    error: str = "false pass"
    tol: float = 0.0

    @property
    def sequential(self) -> bool:
        return all(p.sequential for p in self.parts)

    def decide(self, data) -> Decision:
        ds = [r.decide(x) for r, x in zip(self.parts, data)]
        pick = next((d for d in ds if d.refuted), next((d for d in ds if not d.passed), ds[0]))
        return Decision(f"all of ({', '.join(d.rule for d in ds)})", pick.statistic,
                        pick.confidence_bound, pick.refute_bound, pick.boundary, pick.relation,
                        pick.alpha, self.error, pick.method, all(d.passed for d in ds),
                        any(d.refuted for d in ds),
                        {"parts": [{"rule": d.rule, "statistic": _num(d.statistic),
                                    "confidence_bound": _num(d.confidence_bound),
                                    "refute_bound": _num(d.refute_bound),
                                    "boundary": _num(d.boundary), "relation": d.relation,
                                    "passed": d.passed, "refuted": d.refuted} for d in ds]},
                        list(data), {**super().params(), "parts": [d.params for d in ds]})

    def decide_sequential(self, data, looks) -> Decision:
        return seq.decide_composite(self, list(self.parts), data, looks)


# --- the operating characteristic ------------------------------------------------------------

OC_FIELDS = ("effect_name", "tolerance", "tolerance_plain", "p_pass_at_null", "effect_pass_80",
             "effect_fail_80", "datasets", "method")


def operating_characteristic(rule: Rule, real, truth_of: Callable[[float], float], null: float,
                             tolerance: float, far: float, N: int, seed: int, effect_name: str,
                             tolerance_plain: str, shape: str = "pooled bootstrap") -> dict:
    """P(pass) of ``rule`` as a function of an effect e (the rule's parameter at
    ``truth_of(e)``), by simulation at the run's spread (``real``) with common random numbers:
    the pass probability at the null effect (the claim holding exactly), the largest effect in
    [null, tolerance] that still passes with probability >= 0.8, and the smallest effect in
    [tolerance, far] that fails with probability >= 0.8 (None when none does). The effect grows
    away from the null towards and past the tolerance."""
    rng = np.random.default_rng(seed)
    mon = seq.active() if rule.sequential else None
    if mon is None:
        R = real.draws(shape, N, rng)

        def p_pass(e: float) -> float:
            return rule.ok_rate(real.build(R, rule.means_at(real, truth_of(e))))
    else:                       # the sequential rule, each dataset drawn to the cap
        design = mon[0]
        R = real.draws(shape, N, rng, [design.cap] * len(real.values))

        def p_pass(e: float) -> float:
            ds = real.build(R, rule.means_at(real, truth_of(e)))
            return float(np.mean(seq.outcomes(rule, ds, design.looks())[0]))

    def search(lo, hi, want_pass: bool):
        # p_pass is non-increasing in e; find the last e with p >= 0.8 / first with p <= 0.2
        good = (lambda e: p_pass(e) >= 0.8) if want_pass else (lambda e: p_pass(e) <= 0.2)
        if want_pass and not good(lo):
            return None
        if not want_pass and not good(hi):
            return None
        if not want_pass and good(lo):
            return lo
        for _ in range(18):
            mid = 0.5 * (lo + hi)
            if good(mid) == want_pass:
                lo = mid
            else:
                hi = mid
        return lo if want_pass else hi

    p0 = p_pass(null)
    return {"effect_name": effect_name, "tolerance": float(tolerance),
            "tolerance_plain": tolerance_plain, "p_pass_at_null": p0,
            "effect_pass_80": search(null, tolerance, True),
            "effect_fail_80": search(tolerance, far, False),
            "datasets": N,
            "method": (f"simulation of the deciding rule ({type(rule).__name__}.decide) on "
                       if mon is None else
                       f"simulation of the sequential rule ({type(rule).__name__}, looked at "
                       f"after every round of {mon[0].as_dict()}, to the cap) on ")
                      + f"{N} synthetic datasets at this run's spread ({shape}), common random "
                      "numbers, bisection over the effect",
            **({"monitoring": "every round", "design": mon[0].as_dict()} if mon else {})}
