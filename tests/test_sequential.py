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


# --- settled sweeps: a sweep stops growing once every component reading it is decided ---------

@pytest.mark.parametrize("ratio", [1.0, 1 / 3, 8.0, 4.0, 0.37, 2.5])
def test_component_looks_with_a_ratio_extend_those_of_earlier_rounds(ratio):
    """With its key's ratio a component's looks at a round are its counts at the claim's looks,
    so a later round's looks, cut at an earlier round's count, are that round's looks (what
    judging a settled sweep's prefix relies on)."""
    design = seq.Design(5, 3, 40)
    rounds = design.looks()
    for i, n in enumerate(rounds):
        now = seq.component_looks(design, n, None, ratio)
        assert now[-1] == seq.count_at(n, ratio)
        for later in rounds[i:]:
            cut = [x for x in seq.component_looks(design, later, None, ratio) if x <= now[-1]]
            assert cut == now, (n, later)


def test_sweep_count_follows_its_readers():
    P = {"seeds": 12, "control_seeds": 4}
    assert seq.sweep_count(P, "seeds", ("primary",)) == 12           # outside run_rounds
    st = seq.RoundState({"seeds": 1.0, "control_seeds": 1 / 3},
                        {"primary": 6, "iso": 9, "ctrl": 3}, {})
    with seq.round_state(st):
        assert seq.sweep_count(P, "seeds", ("primary", "iso"), "T") == 9    # all settled
        assert seq.sweep_count(P, "seeds", ("primary", "open one"), "n") == 12
        assert seq.sweep_count(P, "control_seeds", ("ctrl",)) == 3
        assert seq.sweep_count({"seeds": 5}, "seeds", ("iso",), "capped") == 5  # never above
    assert st.sweeps["T"] == {"key": "seeds", "computed": 9, "nominal": 12,
                              "readers": ["primary", "iso"]}
    assert st.sweeps["n"]["computed"] == 12 and st.sweeps["control_seeds"]["computed"] == 3


def _fake_result(primary_q, subchecks=(), controls=()):
    from types import SimpleNamespace
    return SimpleNamespace(primary=SimpleNamespace(extra={"sequential": primary_q},
                                                   error="false pass"),
                           subchecks=list(subchecks), controls=list(controls))


def test_settled_components_and_misspelt_readers():
    q = lambda decided, used: {"decided": decided, "replicates_used": used, "passed": decided,
                               "refuted": False}
    res = _fake_result(q(True, 6),
                       [{"name": "a", "key": "alarm", "error": "false alarm",
                         "sequential": q(False, 9)},
                        {"name": "b", "key": "open", "error": "false pass",
                         "sequential": q(False, 9)}],
                       [{"name": "ctl", "error": "false pass", "sequential": q(False, 3)}])
    # decided, and an undecided false-alarm component (it passes unless refuted); an undecided
    # subcheck or control still waits for data
    assert seq.settled_of(res) == {"primary": 6, "alarm": 9}
    st = seq.RoundState({}, {}, {"T": {"key": "seeds", "computed": 1, "nominal": 1,
                                       "readers": ["primary", "prmary"]}})
    with pytest.raises(RuntimeError, match="prmary"):
        seq._check_readers("CX", res, st)
    st.sweeps["T"]["readers"] = ["primary", "ctl", "open"]
    seq._check_readers("CX", res, st)


def _components(rec):
    out = [("primary", rec["primary"])] + [(s["key"], s) for s in rec["subchecks"]]
    return out + [(c["name"], c) for c in rec["negative_controls"]]


@pytest.mark.parametrize("cid, cap", [("C1", 12), ("C4", None)])
def test_settled_sweeps_decide_exactly_as_full_sweeps(tmp_path, cid, cap):
    """C1 in rounds to cap 12 and C4 to its own cap, with settled sweeps (the default) and with
    every sweep computed to the round's count, on the same seeds: every component's verdict,
    statistic, bounds and replicates used are identical, the settled ones were looked at on a
    prefix of the full looks, and at least one sweep stopped short (the test exercises the
    saving)."""
    recs, sweeps = {}, {}
    for settle in (True, False):
        ctx = _ctx(tmp_path, max_replicates=cap, settle=settle)
        res = get(cid).decide(ctx)
        recs[settle], sweeps[settle] = res.record(), res.sequential["sweeps"]
    assert any(s["computed"] < s["nominal"] for s in sweeps[True].values()), sweeps[True]
    assert all(s["computed"] == s["nominal"] for s in sweeps[False].values())
    full = dict(_components(recs[False]))
    for name, c in _components(recs[True]):
        f = full[name]
        qs, qf = c["sequential"], f["sequential"]
        assert qs["looks"] == qf["looks"][:len(qs["looks"])], name
        if f.get("error") == "false alarm" and not qf["decided"]:
            # an undecided false alarm passes unless refuted; its monitoring stops when the
            # other readers of its sweep are decided (design.md 4): same verdict, fewer looks
            assert c["verdict"] == f["verdict"] and not qs["decided"], name
            assert qs["replicates_used"] <= qf["replicates_used"], name
            continue
        for field in ("verdict", "statistic", "confidence_bound", "refute_bound"):
            assert c.get(field) == f.get(field), (name, field, c.get(field), f.get(field))
        assert (qs["decided"], qs["replicates_used"]) == (qf["decided"], qf["replicates_used"])
    assert recs[True]["verdict"] == recs[False]["verdict"]
    rep = V._Report()
    V._claim(rep, recs[True])
    assert rep.lines == [], rep.lines
