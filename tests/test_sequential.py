"""Anytime-valid sequential decisions (checks/sequential.py, docs/derivations.md section 10.6):
the e-value's closed form against its defining integral, Ville's inequality under monitoring
after every round, the vectorised simulation against the per-dataset decision, the independent
re-decision of `mtlcheck verify`, the claim driver's stopping and its cache reuse."""
import math

import numpy as np
import pytest
from scipy import integrate, stats

from mtlcheck.checks import sequential as seq
from mtlcheck.checks.cache import Cache
from mtlcheck.checks.claims import get
from mtlcheck.checks.context import Context
from mtlcheck.checks.rules import AllOf, BinomialRule, EveryPoint, Groups, MeanRule, SlopeRule
from mtlcheck.qa import verify as V


def _mixture_by_quadrature(x, b, direction, c=seq.MIXTURE_C):
    """The defining integral (section 10.6): the likelihood ratio of the maximal invariant
    (x / scale) under mean b + delta sigma, delta ~ half-normal(0, 1/c) on the alternative
    side, against delta = 0, integrated over delta and the scale (Haar prior 1/sigma)."""
    y = np.asarray(x, dtype=float) - b
    n, sgn = len(y), (-1.0 if direction == "below" else 1.0)

    def dens(delta):       # integral over sigma of prod N(y | delta sigma, sigma^2) / sigma
        f = lambda ls: math.exp(-n * ls - 0.5 * float(((y - delta * math.exp(ls)) ** 2).sum())
                                / math.exp(2 * ls))
        return integrate.quad(f, -12, 12, limit=200)[0]

    base = dens(0.0)
    prior = lambda dl: 2 * math.sqrt(c / (2 * math.pi)) * math.exp(-c * dl * dl / 2)
    num = integrate.quad(lambda dl: prior(dl) * dens(sgn * dl), 0, 12, limit=200)[0]
    return math.log(num / base)


@pytest.mark.parametrize("direction", ["below", "above"])
@pytest.mark.parametrize("n", [3, 6, 11])
def test_closed_form_equals_the_mixture_integral(direction, n):
    rng = np.random.default_rng(n)
    x = rng.normal(0.3, 1.2, n)
    got = seq.log_e_mean(x, 0.1, direction)
    want = _mixture_by_quadrature(x, 0.1, direction)
    assert abs(got - want) < 1e-5, (got, want)


def test_share_e_value_is_the_uniform_mixture():
    k, K, p0 = 17, 20, 0.6
    lr = lambda p: (p / p0) ** k * ((1 - p) / (1 - p0)) ** (K - k)
    want = integrate.quad(lr, p0, 1)[0] / (1 - p0)
    assert abs(seq.log_e_share(k, K, p0, "above") - math.log(want)) < 1e-9
    want = integrate.quad(lr, 0, p0)[0] / p0
    assert abs(seq.log_e_share(k, K, p0, "below") - math.log(want)) < 1e-9


@pytest.mark.parametrize("kind", ["gaussian", "share"])
def test_ville_monitoring_every_round_keeps_alpha(kind):
    """At the boundary, monitored after every round to 40 replicates, the chance that the
    e-value ever reaches 1 / alpha stays below alpha (Clopper-Pearson 95% upper bound)."""
    rng = np.random.default_rng(7)
    N, looks = 4000, seq.Design(2, 1, 40).looks()
    if kind == "gaussian":
        X = rng.normal(0.5, 2.0, (N, 40))
        lp, lr = seq._paths("mean", X, 0.5, "below", looks, False)
    else:
        X = (rng.random((N, 40)) < 0.8).astype(float)
        lp, lr = seq._paths("share", X, 0.8, "above", looks, False)
    crossed = (lp >= math.log(20)).any(axis=1)
    k = int(crossed.sum())
    assert stats.beta.ppf(0.95, k + 1, N - k) <= 0.05, k / N


def _datasets(rule, rng, N):
    mk = {
        "mean": lambda: Groups.one(rng.normal(-0.4, 1, 40)),
        "alarm": lambda: Groups.one(rng.normal(0.3, 1, 40)),
        "within": lambda: Groups.one(rng.normal(1.01, 0.03, 40)),
        "slope": lambda: Groups.of([0, 1, 2], [rng.normal(0.05 * i, 0.3, 40) for i in range(3)]),
        "every": lambda: [Groups.one(rng.normal(-1.2, 1, 40)) for _ in range(3)],
        "share": lambda: list(rng.random(40) < 0.95),
        "allof": lambda: (Groups.of([0, 1, 2], [rng.normal(-0.3 * i, 0.2, 40) for i in range(3)]),
                          Groups.one(rng.normal(0.8, 0.2, 40))),
    }[rule]
    return [mk() for _ in range(N)]


RULES = {
    "mean": MeanRule("<=", 0.0, 0.05),
    "alarm": MeanRule("<=", 0.0, 0.05, "false alarm"),
    "within": MeanRule("within", 1.0, 0.05, tol=0.03),
    "slope": SlopeRule("<=", 0.25, 0.05),
    "every": EveryPoint(lambda a: MeanRule("<=", 0.0, a), 0.05),
    "share": BinomialRule(">=", 0.8, 0.05),
    "allof": AllOf((SlopeRule("<=", -0.1, 0.05), MeanRule(">=", 0.5, 0.05))),
}


@pytest.mark.parametrize("name", list(RULES))
def test_vectorised_outcomes_agree_with_each_decision(name):
    rule, looks = RULES[name], seq.Design(4, 4, 40).looks()
    ds = _datasets(name, np.random.default_rng(3), 30)
    ok, used, decided = seq.outcomes(rule, ds, looks)
    for k, x in enumerate(ds):
        d = rule.decide_sequential(x, looks)
        q = d.extra["sequential"]
        assert (d.ok, q["replicates_used"], q["decided"]) == (ok[k], used[k], decided[k]), k
    assert decided.any()                      # the datasets exercise early stopping


@pytest.mark.parametrize("name", list(RULES))
def test_verify_re_decides_sequential_components(name):
    """qa/verify.py's own implementation agrees with the record of each decision, and a
    changed input is caught."""
    rule, looks = RULES[name], seq.Design(4, 4, 40).looks()
    for x in _datasets(name, np.random.default_rng(5), 6):
        rec = rule.decide_sequential(x, looks).component("c", "c")
        assert V.verify_record(rec) == [], V.verify_record(rec)
    bad = dict(rec, verdict="fail" if rec["verdict"] == "pass" else "pass")
    assert any("verdict" in line for line in V.verify_record(bad))


def test_design_looks_and_component_looks():
    d = seq.Design(4, 2, 11)
    assert d.looks() == [4, 6, 8, 10, 11] and d.looks(6) == [4, 6]
    assert seq.component_looks(d, 8, 8) == [4, 6, 8]
    assert seq.component_looks(d, 8, 64) == [32, 48, 64]      # a component 8x the claim's
    with pytest.raises(ValueError):
        seq.Design(5, 1, 4)


def test_undecided_at_the_cap():
    """Data on the boundary with a tiny cap: neither side reaches 1 / alpha."""
    x = Groups.one([0.1, -0.1, 0.05, -0.05])
    d = MeanRule("<=", 0.0, 0.05).decide_sequential(x, [2, 3, 4])
    assert not d.extra["sequential"]["decided"] and not d.ok and not d.refuted


def _ctx(tmp_path, **kw):
    return Context(profile="quick", seed=0, device="cpu",
                   cache=Cache(str(tmp_path / "cache"), salt={"code": "test"}), **kw)


def test_rounds_stop_early_and_a_higher_cap_reuses_every_cached_replicate(tmp_path):
    """C6 in rounds (its population seeds): with cap 4 it stops at the cap; the rerun with the
    profile's cap reads every cell of the first run from the cache (hits = the first run's
    cells) and stops before its own cap with a decision."""
    check = get("C6")
    first = _ctx(tmp_path, max_replicates=4)
    r1 = check.decide(first)
    q1 = r1.sequential
    assert q1["replicates"] == 4 and q1["cap"] == 4 and q1["rounds"] == 1
    # 4 replicates cannot decide anything at 1 / (LEVEL alpha) (section 10.6): undecided, not
    # fail, and the verifier derives the same claim verdict from the components
    assert r1.verdict == "undecided" and q1["stopped"] == "cap" and q1["open"]
    rep = V._Report()
    V._claim(rep, r1.record())
    assert rep.lines == [], rep.lines
    computed = first.cache.misses
    second = _ctx(tmp_path)
    r2 = check.decide(second)
    q2 = r2.sequential
    assert second.cache.hits == computed > 0
    assert q2["stopped"] == "decided" and 4 <= q2["replicates"] < q2["cap"]
    assert r2.verdict == "pass"
    rec = r2.record()
    assert rec["sequential"]["replicates"] == q2["replicates"]
    rep = V._Report()
    V._claim(rep, rec)
    assert rep.lines == [], rep.lines


def test_fresh_rounds_do_not_recompute_earlier_rounds(tmp_path):
    ctx = _ctx(tmp_path, fresh=True)
    res = get("C6").decide(ctx)
    n = res.sequential["replicates"]
    # population cells: one per replicate, computed once; later rounds reuse them from memory
    assert ctx.reused > 0 and ctx.cache.hits == 0
    assert ctx.cache.misses == len(ctx.memo)
    assert res.sequential["rounds"] >= 2 and n == len(res.details["c_hat"])
