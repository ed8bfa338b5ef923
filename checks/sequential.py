"""Anytime-valid sequential decisions (docs/derivations.md section 10.6; docs/design.md
section 4): a claim draws its replicates in rounds and, after each round, every undecided
component asks its rule whether the evidence so far decides it; the claim stops when every
component is decided or its replicates reach the cap.

The test is the one-sided t-mixture e-process for the mean of independent replicates (derived
in section 10.6, following Lai 1976 and Wang and Ramdas, "Anytime-valid t-tests and confidence
sequences for Gaussian means with unknown variance", 2023): with Y_i = X_i - b, S = sum Y_i,
V = sum Y_i^2, A = S^2 / ((n + c) V),

    e_below(b) = 2 sqrt(c / (n + c)) (1 - A)^(-n/2) F_{t_n}(-sign(S) sqrt(n A / (1 - A)))

(e_above: +sign(S)), the likelihood ratio of the scale-invariant data under a half-normal
mixture over the standardised effect (mu - b) / sigma against mu = b. For Gaussian replicates
with mu = b it is a test martingale, so by Ville's inequality P(e ever reaches 1 / a) <= a
however the rounds are monitored. The rules look at a = LEVEL x alpha (alpha / 2, the level
calibration of the fixed t rules: skewed replicates); what the test does on the skewed and
censored shapes a real run produces is measured by `mtlcheck calibrate` (rows with monitoring
"every round"). Shares use a mixture e-value that is exact for the composite null, at alpha.

``confseq`` (Howard et al.) was evaluated: its boundaries assume a known sub-Gaussian or
sub-exponential scale, or bounded observations; our replicates (log n*, slope contrasts,
isotropies) are unbounded with an unknown scale, which is what the t-mixture handles.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import betainc, betaln, stdtr

__all__ = ["MIXTURE_C", "Design", "log_e_mean", "log_e_share", "first_decision", "cs_bound",
           "decide_single", "decide_composite", "outcomes", "flat_parts", "monitoring", "active",
           "component_looks", "count_at", "sweep_count", "round_state", "cell_params",
           "run_rounds", "claim_state", "settled_of", "NOT_IN_CELL_KEYS"]

#: the mixture's precision c: the standardised effect (mu - b) / sigma ~ N(0, 1 / c) on one
#: side; c = 1 puts the prior's scale at one standard deviation per replicate (section 10.6)
MIXTURE_C = 1.0


@dataclass(frozen=True)
class Design:
    """A claim's sequential design: the first look after ``first`` replicates, then every
    ``step`` more, up to ``cap`` (a profile's ``sequential`` field; its optional ``key`` names
    the profile entry that counts the replicates, default 'seeds')."""

    first: int
    step: int
    cap: int

    def __post_init__(self):
        if not (1 <= self.first <= self.cap and self.step >= 1):
            raise ValueError(f"a sequential design needs 1 <= first <= cap and step >= 1, got "
                             f"first={self.first}, step={self.step}, cap={self.cap}")

    def looks(self, upto: int | None = None) -> list[int]:
        """The replicate counts at which the rules look, up to ``upto`` (default: the cap)."""
        top = self.cap if upto is None else min(upto, self.cap)
        out = list(range(self.first, top + 1, self.step))
        if out and out[-1] != top and top >= self.first:
            out.append(top)
        return out

    def next_count(self, n: int) -> int:
        return min(self.cap, max(self.first, n + self.step))

    @staticmethod
    def of(spec) -> "Design":
        return spec if isinstance(spec, Design) else Design(int(spec["first"]),
                                                            int(spec["step"]), int(spec["cap"]))

    def as_dict(self) -> dict:
        return {"first": self.first, "step": self.step, "cap": self.cap}


def log_e_mean(x, b: float, direction: str, c: float = MIXTURE_C):
    """log of the one-sided t-mixture e-value for the mean of the replicates x (last axis)
    against mean = b: ``direction`` 'below' (evidence that the mean is < b) or 'above'. Any NaN
    in a row gives NaN. Vectorised over leading axes."""
    y = np.asarray(x, dtype=float) - b
    n = y.shape[-1]
    if n == 0:
        return np.zeros(y.shape[:-1]) if y.ndim > 1 else 0.0
    out = _log_e_from_sums(y.sum(axis=-1), (y * y).sum(axis=-1), n, direction, c)
    return float(out) if np.ndim(out) == 0 else out


def log_e_share(k, K, p0: float, direction: str):
    """log of the e-value for a Bernoulli share from k successes in K runs against p = p0:
    the likelihood ratio mixed over a uniform prior on the alternative side ('below': p in
    [0, p0); 'above': p in (p0, 1]). A supermartingale under every p on the null side
    (section 10.6), so the bound holds for the composite null exactly."""
    k, K = np.asarray(k, dtype=float), np.asarray(K, dtype=float)
    a, bb = k + 1.0, K - k + 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        if direction == "below":
            mass = np.log(np.maximum(betainc(a, bb, p0), 1e-300)) - math.log(p0)
        else:
            mass = np.log(np.maximum(1.0 - betainc(a, bb, p0), 1e-300)) - math.log(1.0 - p0)
        out = betaln(a, bb) + mass - k * math.log(p0) - (K - k) * math.log(1.0 - p0)
    return float(out) if np.ndim(out) == 0 else out


def first_decision(log_pass, log_refute, alpha_pass: float, alpha_refute: float):
    """The first look at which either e-value reaches its threshold, on per-look arrays (last
    axis = looks): (index of that look or -1, passed, refuted). A NaN at a look decides it as
    undefined (neither passed nor refuted: the data cannot become defined again)."""
    lp, lr = np.asarray(log_pass, dtype=float), np.asarray(log_refute, dtype=float)
    p = lp >= math.log(1.0 / alpha_pass)
    r = lr >= math.log(1.0 / alpha_refute)
    nan = np.isnan(lp) | np.isnan(lr)
    hit = p | r | nan
    any_hit = hit.any(axis=-1)
    idx = np.where(any_hit, hit.argmax(axis=-1), -1)
    take = lambda m: np.where(any_hit, np.take_along_axis(m, np.maximum(idx, 0)[..., None],
                                                          axis=-1)[..., 0], False)
    nan_at = take(nan)
    passed = take(p) & ~nan_at
    refuted = take(r) & ~nan_at & ~passed
    return idx, passed, refuted


def cs_bound(x, alpha: float, side: str, c: float = MIXTURE_C) -> float:
    """:func:`_cs_bound` (below), remembered: a claim decided in rounds asks again, every round,
    for the bounds at its earlier looks, on the same replicates."""
    x = np.ascontiguousarray(x, dtype=float)
    return _cs_bound_memo(x.tobytes(), float(alpha), side, float(c))


@lru_cache(maxsize=1 << 14)
def _cs_bound_memo(xb: bytes, alpha: float, side: str, c: float) -> float:
    return _cs_bound(np.frombuffer(xb, dtype=float), alpha, side, c)


def _cs_bound(x, alpha: float, side: str, c: float = MIXTURE_C) -> float:
    """The anytime-valid one-sided confidence bound of the mean at this look: 'upper' is the
    smallest b with e_below(b) >= 1 / alpha (every b above it is excluded), 'lower' the largest
    b with e_above(b) >= 1 / alpha; +-inf when no b is excluded (too few replicates), NaN with
    a NaN replicate. Found by bisection (e_below(b) grows with b beyond the mean)."""
    x = np.asarray(x, dtype=float)
    if len(x) == 0:
        return math.inf if side == "upper" else -math.inf
    if np.isnan(x).any():
        return math.nan
    thr = math.log(1.0 / alpha)
    m = float(x.mean())
    sd = float(x.std()) + 1e-12 * (abs(m) + 1.0)
    direction, sgn = ("below", 1.0) if side == "upper" else ("above", -1.0)
    e = lambda b: log_e_mean(x, b, direction, c)
    far = m + sgn * sd
    for _ in range(60):                      # find an excluded point
        if e(far) >= thr:
            break
        far = m + 2.0 * (far - m)
    else:
        return math.inf if side == "upper" else -math.inf
    return _bisect(e, thr, m, far, 80)


def _bisect(e, thr: float, near: float, far: float, steps: int) -> float:
    """The boundary between ``near`` (e < thr) and ``far`` (e >= thr), from the far side."""
    for _ in range(steps):
        mid = 0.5 * (near + far)
        if e(mid) >= thr:
            far = mid
        else:
            near = mid
    return float(far)


# --- the rules' sequential form ---------------------------------------------------------------

def truncate(data, n: int):
    """The first n replicates of a rule's input (Groups: of every group; a list of per-point
    or per-part inputs: of each; a sequence of booleans or z-scores: its first n)."""
    from .rules import Groups
    if isinstance(data, Groups):
        return Groups(data.xs, tuple(tuple(g[:n]) for g in data.values), data.lo, data.hi)
    if isinstance(data, (list, tuple)) and data and isinstance(data[0], (Groups, list, tuple)):
        return [truncate(x, n) for x in data]
    return list(data)[:n]


def replicates(data) -> int:
    """How many replicates a rule's input holds (the smallest count over its groups/points)."""
    from .rules import Groups
    if isinstance(data, Groups):
        return min(len(g) for g in data.values)
    if isinstance(data, (list, tuple)) and data and isinstance(data[0], (Groups, list, tuple)):
        return min(replicates(x) for x in data)
    return len(data)


def part_path(part, looks):
    """(look index or -1, passed, refuted, log e pass, log e refute) of one part: the
    e-values of :func:`_paths` (the same code as the many-dataset simulation) on its series."""
    X = np.asarray(part["series"], dtype=float)[None, :]
    lp, lr = (a[0] for a in _paths(part["kind"], X, part["boundary"], part["pass_dir"], looks,
                                   part.get("false_alarm", False)))
    i, p, r = first_decision(lp, lr, part["alpha_pass"], part["alpha_refute"])
    return int(i), bool(p), bool(r), lp, lr


def combine(times: list[tuple[int, bool, bool]]):
    """A component made of parts that must all pass, refuted when any part is: (look index or
    -1, passed, refuted) from its parts' (index, passed, refuted). Undefined (a NaN part)
    counts as refuted-or-failed at its look: it decides, and never passes."""
    INF = 10 ** 9
    pass_t = max((i if p else INF) for i, p, r in times)
    stop_t = min(((i if (r or (i >= 0 and not p)) else INF) for i, p, r in times), default=INF)
    if stop_t <= pass_t and stop_t < INF:
        refuted = any(r and i == stop_t for i, p, r in times)
        return stop_t, False, refuted
    if pass_t < INF:
        return pass_t, True, False
    return -1, False, False


def mean_parts(rule, series, kind: str = "mean") -> list[dict]:
    """The one-sided parts of a rule on one per-replicate series: '<=' b passes on evidence of a
    mean below b, '>=' above; 'within' c +- tol is two parts (above c - tol and below c + tol),
    each at the rule's alpha (intersection-union)."""
    # t-based rules look at their t level (LEVEL x alpha, LEVEL_ALARM x alpha for a false
    # alarm), as their fixed forms do (level calibration, section 10.3: skewed replicates); a
    # share's mixture is exact and keeps alpha
    a = rule.t_level if kind == "mean" else rule.alpha
    part = lambda b, d: {"kind": kind, "series": series, "boundary": float(b), "pass_dir": d,
                         "alpha_pass": a, "alpha_refute": a}
    if rule.relation == "within":
        return [part(rule.boundary - rule.tol, "above"), part(rule.boundary + rule.tol, "below")]
    return [part(rule.boundary, "below" if rule.relation == "<=" else "above")]


def _share_bound(x, alpha: float, side: str) -> float:
    """Anytime-valid one-sided bound on a share (the p0 where log_e_share reaches 1 / alpha)."""
    k, K = float(np.sum(x)), float(len(x))
    if K == 0:
        return 1.0 if side == "upper" else 0.0
    thr, ph = math.log(1.0 / alpha), k / K
    direction, far = ("below", 1.0 - 1e-12) if side == "upper" else ("above", 1e-12)
    e = lambda p: log_e_share(k, K, p, direction)
    if e(far) < thr:
        return 1.0 if side == "upper" else 0.0
    return _bisect(e, thr, min(max(ph, 1e-12), 1 - 1e-12), far, 60)


def _running(bound_at, looks, side):
    """The running intersection of a confidence sequence's bounds over ``looks``."""
    vals = [bound_at(n) for n in looks]
    if not vals:
        return math.inf if side == "upper" else -math.inf
    if any(math.isnan(v) for v in vals):
        return math.nan
    return float(min(vals) if side == "upper" else max(vals))


def _record(look_idx, looks, paths, passed, refuted):
    """What a sequential Decision records: where it stopped and its e-values there."""
    n = looks[look_idx] if look_idx >= 0 else (looks[-1] if looks else 0)
    j = look_idx if look_idx >= 0 else len(looks) - 1
    at = lambda a: (None if j < 0 or not np.isfinite(a[j]) else float(np.exp(min(a[j], 700))))
    return {"monitoring": "every round", "looks": list(looks), "replicates_used": int(n),
            "decided": look_idx >= 0, "passed": bool(passed), "refuted": bool(refuted),
            "e_pass": [at(lp) for _, _, _, lp, _ in paths],
            "e_refute": [at(lr) for _, _, _, _, lr in paths], "mixture_c": MIXTURE_C}


def decide_single(rule, data, looks) -> "object":
    """The sequential Decision of a rule with seq_parts (slope, mean, share): see
    Rule.decide_sequential."""
    from .rules import _relate
    looks = [int(n) for n in looks if 0 < n <= replicates(data)]
    parts = flat_parts(rule, data)
    paths = [part_path(p, looks) for p in parts]
    idx, passed, refuted = combine([(i, p, r) for i, p, r, _, _ in paths])
    n = looks[idx] if idx >= 0 else (looks[-1] if looks else 0)
    fixed = rule.decide(truncate(data, n))
    x = parts[0]["series"]
    upto = [m for m in looks if m <= n]
    a = parts[0]["alpha_pass"]
    if parts[0]["kind"] == "share":
        lo = _running(lambda m: _share_bound(x[:m], a, "lower"), upto, "lower")
        up = _running(lambda m: _share_bound(x[:m], a, "upper"), upto, "upper")
        what = ("mixture e-process of a Bernoulli share (uniform prior on the alternative "
                "side)")
    else:
        lo = _running(lambda m: cs_bound(x[:m], a, "lower"), upto, "lower")
        up = _running(lambda m: cs_bound(x[:m], a, "upper"), upto, "upper")
        what = (f"one-sided t-mixture e-process (c = {MIXTURE_C:g}) of the per-replicate "
                f"{'slope contrasts' if type(rule).__name__ == 'SlopeRule' else 'values'}")
    # _relate maps an equivalence's estimate to |theta - c| itself: give it the raw estimate
    # (the mean of the per-replicate series: the group mean, or the slope of equal groups)
    stat = float(np.mean(x[:n])) if rule.relation == "within" else fixed.statistic
    level = "alpha" if a == rule.alpha else f"({a / rule.alpha:g} alpha)"
    d = _relate(rule, fixed.rule, stat, lo, up,
                f"{what}, looked at after every round, decided when an e-value reaches "
                f"1 / {level}", data,
                **{k: v for k, v in fixed.extra.items() if k in ("k", "K", "se", "df")})
    d.passed, d.refuted = bool(passed), bool(refuted)
    d.extra["sequential"] = _record(idx, looks, paths, passed, refuted)
    d.params = {**rule.params(), "sequential": True, "monitoring": "every round",
                "mixture_c": MIXTURE_C, "looks": list(looks)}
    return d


def decide_composite(rule, rules, data, looks):
    """The sequential Decision of a rule made of parts (EveryPoint: the same point rule at
    every point; AllOf: one rule per part): each part decided by its own first crossing, the
    whole at the look where the last part passes or the first is refuted (undefined)."""
    from .rules import Decision
    looks = [int(n) for n in looks if 0 < n <= replicates(data)]
    subs = [r.decide_sequential(x, looks) for r, x in zip(rules, data)]
    times = []
    for s in subs:
        q = s.extra["sequential"]
        i = looks.index(q["replicates_used"]) if q["decided"] else -1
        times.append((i, s.passed, s.refuted or (q["decided"] and not s.passed)))
    idx, passed, refuted = combine(times)
    refuted = refuted and any(s.refuted for s in subs)
    worst = max if subs[0].relation == "<=" else min
    nanw = lambda xs: (math.nan if any(not np.isfinite(v) and np.isnan(v) for v in xs)
                       else worst(xs))
    d0 = subs[0]
    n = looks[idx] if idx >= 0 else (looks[-1] if looks else 0)
    if type(rule).__name__ == "AllOf":      # different rules: report the deciding part
        d0 = next((s for s in subs if s.refuted), next((s for s in subs if not s.passed), d0))
        stat, cb, rb = d0.statistic, d0.confidence_bound, d0.refute_bound
    else:
        stat, cb, rb = (nanw([s.statistic for s in subs]),
                        nanw([s.confidence_bound for s in subs]),
                        nanw([s.refute_bound for s in subs]))
    parts = [{"rule": s.rule, "statistic": s.statistic, "confidence_bound": s.confidence_bound,
              "refute_bound": s.refute_bound, "passed": s.passed, "refuted": s.refuted}
             for s in subs]
    d = Decision(f"every part ({d0.rule})", stat, cb, rb,
                 d0.boundary, d0.relation, rule.alpha, rule.error,
                 d0.method + "; the whole decided when the last part passes or one is refuted",
                 bool(passed), bool(refuted), {"points": len(subs), "parts": parts}, list(data),
                 {**rule.params(), "sequential": True, "monitoring": "every round",
                  "looks": list(looks), "parts": [s.params for s in subs]})
    d.extra["sequential"] = {"monitoring": "every round", "looks": list(looks),
                             "replicates_used": int(n), "decided": idx >= 0,
                             "passed": bool(passed), "refuted": bool(refuted),
                             "parts": [s.extra["sequential"] for s in subs]}
    return d


# --- many datasets at once: calibration and the operating characteristic ---------------------

def _log_e_from_sums(S, V, n, direction: str, c: float = MIXTURE_C):
    """The closed form of log_e_mean from the sums S = sum (x - b), V = sum (x - b)^2 of n
    replicates (arrays, broadcast together)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        A = np.where(V > 0, S * S / ((n + c) * V), 0.0)
        A = np.minimum(A, n / (n + c))         # Cauchy-Schwarz: S^2 <= n V
        sign = np.sign(S) if direction == "above" else -np.sign(S)
        arg = sign * np.sqrt(n * A / (1.0 - A))
        out = (math.log(2.0) + 0.5 * np.log(c / (n + c)) - 0.5 * n * np.log1p(-A)
               + np.log(np.maximum(stdtr(n, arg), 1e-300)))
    return np.where(np.isnan(S) | np.isnan(V), np.nan, out)


def _paths(part_kind: str, X, b: float, pass_dir: str, looks, false_alarm: bool):
    """(log e pass, log e refute) at each look for N series at once (X: N x replicates)."""
    opp = "above" if pass_dir == "below" else "below"
    L = np.asarray(looks, dtype=int)
    if part_kind == "share":
        k = np.cumsum(X, axis=1)[:, L - 1]
        lp, lr = log_e_share(k, L[None, :], b, pass_dir), log_e_share(k, L[None, :], b, opp)
        lp, lr = np.atleast_2d(lp), np.atleast_2d(lr)
    else:
        Y = X - b
        S, V = np.cumsum(Y, axis=1)[:, L - 1], np.cumsum(Y * Y, axis=1)[:, L - 1]
        lp = _log_e_from_sums(S, V, L[None, :], pass_dir)
        lr = _log_e_from_sums(S, V, L[None, :], opp)
    if false_alarm:                 # fails only on evidence: the pass side never decides it
        lp = np.where(np.isnan(lp), np.nan, -np.inf)
    return lp, lr


def flat_parts(rule, data) -> list[dict]:
    """A rule's one-sided parts, those of every point (EveryPoint) or part rule (AllOf)
    flattened: the whole passes when all pass and is refuted when one is (combine)."""
    from .rules import AllOf, EveryPoint
    if isinstance(rule, EveryPoint):
        inner = rule.point_rule(len(data))
        return [p for x in data for p in flat_parts(inner, x)]
    if isinstance(rule, AllOf):
        return [p for r, x in zip(rule.parts, data) for p in flat_parts(r, x)]
    return [{**p, "false_alarm": rule.error == "false alarm"} for p in rule.seq_parts(data)]


def outcomes(rule, datasets, looks):
    """The sequential rule on N datasets of ``max(looks)`` replicates, monitored at ``looks``:
    (ok: the component's verdict, replicates used when it stopped (the last look when never
    decided), decided) as arrays. Vectorised over the datasets; the same e-values and
    combination as decide_sequential."""
    looks = [int(n) for n in looks]
    per = [flat_parts(rule, x) for x in datasets]
    INF = 10 ** 9
    pass_t = np.full(len(per), -1)
    stop_t = np.full(len(per), INF)
    for j, p0 in enumerate(per[0]):
        X = np.array([np.asarray(ps[j]["series"], dtype=float)[:looks[-1]] for ps in per])
        lp, lr = _paths(p0["kind"], X, p0["boundary"], p0["pass_dir"], looks,
                        p0.get("false_alarm", False))
        i, p, r = first_decision(lp, lr, p0["alpha_pass"], p0["alpha_refute"])
        pass_t = np.maximum(pass_t, np.where(p, i, INF))
        st = np.where(r | ((i >= 0) & ~p), i, INF)
        stop_t = np.minimum(stop_t, st)
    passed = (pass_t < INF) & (pass_t < stop_t)
    failed = (stop_t < INF) & ~passed
    idx = np.where(passed, pass_t, np.where(failed, stop_t, len(looks) - 1))
    used = np.asarray(looks)[idx]
    # a false-alarm component fails on evidence (or an undefined part), else it passes
    ok = ~failed if rule.error == "false alarm" else passed
    return ok, used, passed | failed


# --- a claim in rounds ------------------------------------------------------------------------

_ACTIVE: ContextVar = ContextVar("mtlcheck_sequential", default=None)

#: profile entries that set how many replicates a claim draws, not what one replicate is: a
#: cell's cache key leaves them out, so a run with a higher cap reuses every finished replicate
NOT_IN_CELL_KEYS = ("seeds", "control_seeds", "sequential", "oc_datasets")


def cell_params(P: dict) -> dict:
    """A claim's parameters as they enter a cell's cache key (without NOT_IN_CELL_KEYS)."""
    return {k: v for k, v in P.items() if k not in NOT_IN_CELL_KEYS}


@contextmanager
def monitoring(design: Design, n: int):
    """Inside: Rule.judge decides sequentially, looked at after every round of ``design`` up to
    n replicates, and the operating characteristic simulates the design to its cap."""
    tok = _ACTIVE.set((design, int(n)))
    try:
        yield
    finally:
        _ACTIVE.reset(tok)


def active():
    """(design, replicates so far) inside :func:`monitoring`, else None."""
    return _ACTIVE.get()


def count_at(m: int, ratio: float) -> int:
    """A component's replicates when the claim's round has m: m times its profile ratio to the
    claim's count, at least 2 (the counts run_rounds gives every entry of its ``keys``)."""
    return max(2, int(round(m * ratio)))


def component_looks(design: Design, n: int, R: int | None, ratio: float | None = None
                    ) -> list[int]:
    """The looks of a component when the claim's round has n replicates. With ``ratio`` (the
    component's count to the claim's, from run_rounds' keys): its count at each of the claim's
    looks so far (:func:`count_at`), the same at every round, so the looks of a later round
    extend those of an earlier one. Without: the design's looks scaled by R / n (R: its
    replicates now; a component whose count is a multiple of the claim's, e.g. C1's
    prediction seeds, is looked at after each of its own rounds); the last is R."""
    if ratio is not None:
        return sorted({count_at(m, ratio) for m in design.looks(n)})
    if R == n:
        return design.looks(n)
    return sorted({max(1, int(round(m * R / n))) for m in design.looks(n)} | {R})


@dataclass
class RoundState:
    """What a round of run_rounds tells the claim's code: each key's ratio to the claim's count
    (for component_looks), the components decided in an earlier round with the replicates they
    were decided at (``settled``: id -> replicates; id = 'primary', a subcheck's key or a
    control's name), and, filled by :func:`sweep_count`, what each sweep computed."""

    ratios: dict
    settled: dict
    sweeps: dict


_ROUND: ContextVar = ContextVar("mtlcheck_round", default=None)


@contextmanager
def round_state(state: RoundState):
    tok = _ROUND.set(state)
    try:
        yield state
    finally:
        _ROUND.reset(tok)


def sweep_count(P: dict, key: str, readers, label: str | None = None) -> int:
    """How many replicates a sweep counted by P[key] computes this round: P[key], unless every
    component that reads it (``readers``: ids as in RoundState.settled) was decided in an
    earlier round; then the most replicates any of them was decided at. A decided component's
    first crossing lies in that prefix and its looks are those of its key (component_looks with
    the ratio), so judging it on the prefix gives the decision it had: the sweep stops growing
    without changing a verdict (docs/design.md section 4). Outside run_rounds: P[key]."""
    st, nominal = _ROUND.get(), int(P[key])
    readers = tuple(readers)
    count = nominal
    if st is not None and readers and all(r in st.settled for r in readers):
        count = min(nominal, max(st.settled[r] for r in readers))
    if st is not None:
        st.sweeps[label or key] = {"key": key, "computed": count, "nominal": nominal,
                                   "readers": list(readers)}
    return count


def looks_for(design: Design, n: int, data, key: str | None) -> list[int]:
    """The looks Rule.judge uses: those of ``key`` (its ratio in the RoundState) when given
    inside run_rounds, else the scaled looks of the data's replicates."""
    st = _ROUND.get()
    if key is not None and st is not None and key in st.ratios:
        return component_looks(design, n, None, st.ratios[key])
    return component_looks(design, n, replicates(data))


def _components(res) -> list[tuple[str, str, dict | None, str, bool]]:
    """(id, name, sequential record or None, error direction, is a control) of every component
    of a ClaimResult; id: 'primary', a subcheck's key, a control's name (RoundState.settled)."""
    return ([("primary", "primary", res.primary.extra.get("sequential"), res.primary.error,
              False)]
            + [(s.get("key", s["name"]), s["name"], s.get("sequential"), s["error"], False)
               for s in res.subchecks]
            + [(c["name"], c["name"], c.get("sequential"), c["error"], True)
               for c in res.controls])


def _sequential_records(res):
    """(name, sequential record, error, is a control) of every component of a ClaimResult
    decided in rounds."""
    return [(name, q, error, control) for _, name, q, error, control in _components(res) if q]


def _component_states(res) -> list[tuple[str, str]]:
    """(name, state) of every sequentially decided component of a ClaimResult: 'open'
    (undecided), 'pass' or 'fail' (decided; a control passes when rejected on evidence)."""
    out = []
    for name, q, error, control in _sequential_records(res):
        if control:
            state = ("open" if not q["decided"] else "pass" if q["refuted"] else "fail")
        elif error == "false alarm":
            state = "fail" if q["decided"] else "pass"
        else:
            state = "open" if not q["decided"] else ("pass" if q["passed"] else "fail")
        out.append((name, state))
    return out


def claim_state(res) -> tuple[str, list[str]]:
    """('fail' when some component is decided against the claim, else 'open' when one is
    still undecided, else 'pass'; the names of the undecided components)."""
    states = _component_states(res)
    open_ = [name for name, s in states if s == "open"]
    kinds = {s for _, s in states}
    return ("fail" if "fail" in kinds else "open" if open_ else "pass"), open_


def settled_of(res) -> dict:
    """{id: replicates} of the components of a ClaimResult whose verdict no longer waits for
    data: those decided (first crossing reached: more replicates cannot move it), and the
    undecided ones that fail only on evidence (a false alarm: they pass unless refuted, and
    claim_state already counts them as done). The latter stop being monitored once every other
    component reading their sweep is decided: a stopping time like the claim's own, under which
    Ville's inequality keeps their false-alarm bound (docs/design.md section 4)."""
    return {i: int(q["replicates_used"]) for i, _, q, error, control in _components(res)
            if q and (q["decided"] or (error == "false alarm" and not control))}


def run_rounds(ctx, cid: str, P: dict, decide_at, keys=("seeds",)):
    """Decide a claim in rounds: ``decide_at(ctx, P_n, final)`` decides it on the first n
    replicates (P_n: P with P[keys[0]] = n and every other entry of ``keys`` scaled with it, at
    its ratio to keys[0] in the profile, at least 2; the cells of earlier rounds come
    from the run's memo or the cache), under :func:`monitoring`. It stops after the first round
    in which every component is decided, or at the cap; the final call (final=True) adds what
    is only needed once (the operating characteristic). The ClaimResult gets ``sequential``."""
    design = Design.of(P["sequential"])
    cap = getattr(ctx, "max_replicates", None)
    if cap:                                     # --max-replicates: the cap, every claim
        design = Design(min(design.first, cap), design.step, cap)
    n, rounds = design.first, 0
    ratio = {k: P[k] / P[keys[0]] for k in keys}       # other counts keep the profile's ratio
    # a sweep whose readers were all decided in an earlier round stops growing (sweep_count);
    # ctx.settle = False computes every sweep to the round's count (tests compare the two)
    settle = getattr(ctx, "settle", True)
    settled: dict = {}
    while True:
        rounds += 1
        Pn = {**P, **{k: count_at(n, ratio[k]) for k in keys}}
        st = RoundState(ratio, settled if settle else {}, {})
        with monitoring(design, n), round_state(st):
            res = decide_at(ctx, Pn, False)
        _check_readers(cid, res, st)
        state, open_ = claim_state(res)
        ctx.progress(f"{cid} round {rounds}: {n} replicates of at most {design.cap}: "
                     + (f"undecided ({'; '.join(open_)[:120]})" if state == "open"
                        else f"decided ({state})"))
        if state != "open" or n >= design.cap:
            break
        settled = settled_of(res)
        n = design.next_count(n)
    with monitoring(design, n), round_state(st := RoundState(ratio, st.settled, {})):
        res = decide_at(ctx, Pn, True)
    state, open_ = claim_state(res)
    res.sequential = {
        "rounds": rounds, "replicates": n, "cap": design.cap, "design": design.as_dict(),
        "stopped": "decided" if state != "open" else "cap", "state": state,
        "open": open_,
        "sweeps": st.sweeps,
        "monitoring": "every round", "boundary": "e-value >= 1 / (LEVEL alpha) for the "
        f"t-mixture (c = {MIXTURE_C:g}) of means and slope contrasts, >= 1 / alpha for the "
        "uniform-prior mixture of shares",
        "e_values": {name: {"e_pass": q["e_pass"], "e_refute": q["e_refute"]}
                     for name, q, _, _ in _sequential_records(res) if "e_pass" in q}}
    return res


def _check_readers(cid: str, res, st: RoundState):
    """Every reader a sweep names is a component of the claim (a misspelt id would never
    settle; this says so instead of silently computing the sweep to the cap)."""
    ids = {c[0] for c in _components(res)}
    bad = sorted({r for s in st.sweeps.values() for r in s["readers"]} - ids)
    if bad:
        raise RuntimeError(f"{cid}: sweep readers {bad} are not components of the claim "
                           f"(components: {sorted(ids)})")
