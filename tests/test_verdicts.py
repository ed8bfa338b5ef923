"""The logic that turns a decision, its subchecks and its negative controls into a verdict:
every combination, including NaN statistics and censored controls; and the statistics that the
rules use, against scipy and simulation."""
import itertools
import math

import numpy as np
import pytest
import torch

from mtlcheck.checks.rules import (AllOf, BinomialRule, Decision, EveryPoint, ExactRule, Groups,
                                   MeanRule, SlopeRule, ZRule, deserialise, serialise)
from mtlcheck.checks.record import ClaimResult
from mtlcheck.checks.results import SCHEMA_VERSION, validation_errors
from mtlcheck.checks.stats import (clopper_pearson_lower, clopper_pearson_upper, contrast_bound,
                                   mean_bound, slope_weights)
from mtlcheck.sim import metrics as MET


def _decision(cb, rb=None, boundary=0.25, error="false pass"):
    """A '<=' Decision with pass-side bound cb and refute-side bound rb (default cb - 0.1)."""
    rb = cb - 0.1 if rb is None else rb
    fin = math.isfinite(cb) and math.isfinite(rb)
    return Decision("test", 0.1 if fin else math.nan, cb, rb, boundary, "<=", 0.05, error, "m",
                    fin and cb <= boundary, fin and rb > boundary, {}, [0.0])


def _result(cb, subs, controls):
    return ClaimResult(id="C2", parameters={}, statistic_name="s", primary=_decision(cb),
                       bound_provenance="", controls=controls, subchecks=subs)


PRIMARY = {"pass": 0.2, "fail": 0.3, "nan": math.nan, "inf": math.inf}
SUB = {"pass": [_decision(0.5, boundary=1.0).component("a", "a")],
       "fail": [_decision(1.5, boundary=1.0).component("a", "a")],
       "nan": [_decision(math.nan, boundary=1.0).component("a", "a")],
       "none": []}
# controls: (pass-side bound, refute-side bound) of a '<=' rule with boundary 1
CTRL = {"rejected": (1.5, 1.2), "accepted": (0.9, 0.7), "near": (1.1, 0.95),
        "nan": (math.nan, math.nan), "censored": (math.inf, 1.2)}
EXPECTED = {"rejected": "rejected", "accepted": "accepted", "near": "undecided",
            "nan": "undecided", "censored": "undecided"}


def _control(kind, name="c"):
    cb, rb = CTRL[kind]
    return _decision(cb, rb, boundary=1.0).control(name, "d")


@pytest.mark.parametrize("primary, sub, c1, c2", list(itertools.product(PRIMARY, SUB, CTRL, CTRL)))
def test_every_combination_of_decision_subchecks_and_controls(primary, sub, c1, c2):
    controls = [_control(c, f"c{i}") for i, c in enumerate((c1, c2))]
    r = _result(PRIMARY[primary], SUB[sub], controls)
    should_pass = primary == "pass" and sub in ("pass", "none") and c1 == c2 == "rejected"
    assert (r.verdict == "pass") == should_pass
    assert [c["verdict"] for c in controls] == [EXPECTED[c1], EXPECTED[c2]]
    for c in controls:          # rejected only with its own bound beyond the boundary
        if c["verdict"] == "rejected":
            assert c["confidence_bound"] > c["boundary"]
    rec = r.record()
    assert rec["verdict"] == r.verdict and rec["negative_controls"] == controls
    if not should_pass:
        assert rec["verdict_reason"]
    summary = rec["negative_control"]["verdict"]
    if "accepted" in (EXPECTED[c1], EXPECTED[c2]):
        assert summary == "accepted"
    elif c1 == c2 == "rejected":
        assert summary == "rejected"
    else:
        assert summary == "undecided"


def test_a_control_that_merely_fails_to_pass_is_undecided_and_blocks_the_pass():
    """C4's old near control: 26/30 isotropic-free runs, CP lower 0.72 < p_min = 0.8 (the rule
    does not pass) but CP upper 0.95 >= 0.8 (no evidence of a violation): undecided."""
    rule = BinomialRule(">=", 0.8, 0.05)
    d = rule.decide([True] * 26 + [False] * 4)
    c = d.control("few", "d")
    assert not d.passed and not d.refuted and c["verdict"] == "undecided"
    ok = rule.decide([True] * 12 + [False] * 18).control("many", "d")     # 0.4: CP upper < 0.8
    assert ok["verdict"] == "rejected" and ok["confidence_bound"] < 0.8
    r = _result(0.2, [], [ok, c])
    assert r.verdict == "fail" and "negative control undecided: few" in r.verdict_reason


def test_fewer_than_two_controls_fail():
    r = _result(0.2, [], [_control("rejected")])
    assert r.verdict == "fail" and "fewer than two negative controls" in r.verdict_reason


def test_error_bounds_follow_the_intersection_union_principle():
    """The claim's false-pass bound is the largest alpha of its false-pass components (not
    their sum); false-alarm components add up (a union)."""
    subs = [_decision(0.5, boundary=1.0).component(f"s{i}", f"s{i}") for i in range(3)]
    alarm = _decision(0.5, boundary=1.0, error="false alarm").component("a", "a")
    eb = _result(0.2, subs + [alarm, alarm], [_control("rejected")] * 2).error_bounds()
    assert eb["false_pass"] == 0.05 and eb["false_alarm_components"] == pytest.approx(0.1)
    assert len(eb["components"]) == 6


def test_a_record_follows_the_results_schema():
    r = _result(0.2, SUB["pass"], [_control("rejected", f"c{i}") for i in range(2)])
    rec = {**r.record(), "produced": {"run_id": "x", "at": "t", "command": "c", "profile": "quick",
                                      "seed": 0, "device": "cpu"}}
    doc = {"schema_version": SCHEMA_VERSION, "claims": [rec], "profile": "quick", "seed": 0,
           "device": "cpu", "versions": {}, "runs": []}
    assert validation_errors(doc) == []
    rec["negative_controls"][0].pop("boundary")        # a control states its boundary
    assert validation_errors(doc)


def test_statistics_match_scipy_and_their_definitions():
    from scipy import stats as st
    assert clopper_pearson_lower(30, 30, 0.05) == pytest.approx(0.05 ** (1 / 30), rel=1e-12)
    assert clopper_pearson_upper(0, 30, 0.05) == pytest.approx(1 - 0.05 ** (1 / 30), rel=1e-12)
    x = [0.3, 1.2, -0.4, 2.2, 0.9]
    assert mean_bound(x, 0.05, "upper") == pytest.approx(
        np.mean(x) + st.t.ppf(0.95, 4) * np.std(x, ddof=1) / math.sqrt(5))
    assert math.isnan(mean_bound([1.0, math.nan], 0.05, "upper"))
    rng = np.random.default_rng(0)
    xs = [0.0, 1.0, 2.0, 3.0]
    groups = [rng.normal(0.3 * x, 1 + x, 9) for x in xs]
    # the slope is least squares through the group means, its se from the group variances
    c = contrast_bound(slope_weights(xs), groups, 0.05)
    means = [np.mean(g) for g in groups]
    assert c.estimate == pytest.approx(np.polyfit(xs, means, 1)[0])
    w = slope_weights(xs)
    assert c.se == pytest.approx(math.sqrt(sum(wi ** 2 * np.var(g, ddof=1) / 9
                                               for wi, g in zip(w, groups))))
    # without skew the bound is the Welch-Satterthwaite t bound; skew widens one side only
    sym = [np.array([-1.0, 0.0, 1.0, -1.0, 0.0, 1.0])] * 4
    c0 = contrast_bound(slope_weights(xs), sym, 0.05)
    assert c0.skew == pytest.approx(0.0, abs=1e-12)
    assert c0.upper - c0.estimate == pytest.approx(st.t.ppf(0.95, c0.df) * c0.se)
    right = [np.array([0.0, 0.0, 0.0, 0.0, 0.0, 3.0])] * 4
    c2 = contrast_bound([0, 0, 0, 1.0], right, 0.05)
    t = st.t.ppf(0.95, c2.df)
    assert c2.skew > 0 and c2.upper - c2.estimate > t * c2.se
    assert c2.estimate - c2.lower == pytest.approx(t * c2.se)
    # two groups: the slope is the difference of means and the statistic Welch's
    wt = st.ttest_ind(groups[1], groups[0], equal_var=False)
    two = contrast_bound(slope_weights(xs[:2]), groups[:2], 0.05)
    assert two.estimate == pytest.approx(np.mean(groups[1]) - np.mean(groups[0]))
    assert two.estimate / two.se == pytest.approx(wt.statistic)
    assert math.isnan(contrast_bound(slope_weights(xs), [[1.0, math.nan]] * 4, 0.05).upper)


def test_rules_decide_both_ways_and_serialise_their_inputs():
    xs = [math.log(d) for d in (8, 16, 32, 64)]
    flat = Groups.of(xs, [[0.0, 0.01, -0.01, 0.02, -0.02]] * 4)
    steep = Groups.of(xs, [[x + e for e in (0.0, 0.01, -0.01, 0.02, -0.02)] for x in xs])
    rule = SlopeRule("<=", 0.25, 0.05)
    assert rule.decide(flat).passed and not rule.decide(flat).refuted
    assert rule.decide(steep).refuted and not rule.decide(steep).passed
    nan = Groups.of(xs, [[0.0, math.nan]] + [[0.0, 0.1]] * 3)
    assert not rule.decide(nan).ok and not rule.decide(nan).refuted
    eq = MeanRule("within", 1.0, 0.05, tol=0.02)
    assert eq.decide(Groups.one([1.0, 1.001, 0.999])).passed
    assert eq.decide(Groups.one([1.1, 1.101, 1.099])).refuted
    assert eq.boundaries() == [("lower", 0.98), ("upper", 1.02)]
    assert ExactRule(1e-10).decide(1e-16).ok and ExactRule(1e-10).decide(0.5).refuted
    assert ZRule(0.05).decide([0.1, -0.3]).ok and not ZRule(0.05).decide([0.1, 9.0]).ok
    ev = EveryPoint(lambda a: MeanRule("<=", 0.0, a), 0.05)
    pts = [Groups.one([-1.0, -1.1, -0.9]), Groups.one([0.5, 0.6, 0.4])]
    assert not ev.decide(pts).ok and ev.decide(pts).refuted
    alarm = EveryPoint(lambda a: MeanRule("<=", 0.0, a, "false alarm"), 0.05, "false alarm")
    assert alarm.decide([Groups.one([-1.0, -1.1, -0.9])] * 3).ok
    both = AllOf((rule, MeanRule(">=", 0.5, 0.05)))
    d = both.decide((flat, Groups.one([0.01, 0.02, 0.0])))
    assert not d.passed and d.refuted and d.relation == ">="      # refuted by its second part
    comp = rule.decide(steep).component("x", "x")
    back = deserialise(comp["inputs"])
    assert back == steep and serialise(back) == comp["inputs"]


def test_binomial_rule_is_exact_at_its_boundary():
    br = BinomialRule(">=", 0.8, 0.05)
    assert br.ok_probability(0.8, 30) <= 0.05 and br.ok_probability(0.999, 30) > 0.9
    alarm = BinomialRule("<=", 0.05, 0.05, "false alarm")
    assert 1 - alarm.ok_probability(0.05, 30) <= 0.05


@pytest.mark.parametrize("r", [3, 4, 5])
def test_metrics_at_r_of_3_and_more(r):
    """isotropy = sigma_r / sigma_1 (the smallest over the largest: not sigma_2 when r > 2),
    principal angles and E_out on a W with a known spectrum."""
    d, m = 12, 9
    g = torch.Generator().manual_seed(r)
    M = torch.linalg.qr(torch.randn(d, r, generator=g, dtype=torch.float64))[0]
    s = torch.tensor([1.0, 0.8, 0.5, 0.3, 0.2][:r], dtype=torch.float64)
    U = torch.linalg.qr(torch.randn(m, r, generator=g, dtype=torch.float64))[0]
    W_in = U @ torch.diag(s) @ M.T                  # in-span part, singular values s
    P = torch.eye(d, dtype=torch.float64) - M @ M.T
    W_out = 0.1 * torch.randn(m, d, generator=g, dtype=torch.float64) @ P
    W = W_in + W_out
    assert MET.isotropy(W, M) == pytest.approx(float(s[-1] / s[0]), rel=1e-9)
    assert MET.spectrum(W, M) == pytest.approx((s / s[0]).tolist(), rel=1e-9)
    assert MET.e_out(W, M) == pytest.approx(float((W_out ** 2).sum() / (W ** 2).sum()), rel=1e-9)
    assert max(MET.principal_angles(W_in, M)) == pytest.approx(0.0, abs=1e-7)
    # drop the last direction: isotropy 0 and a right angle
    W_miss = U[:, :r - 1] @ torch.diag(s[:r - 1]) @ M[:, :r - 1].T
    assert MET.isotropy(W_miss, M) == pytest.approx(0.0, abs=1e-9)
    assert max(MET.principal_angles(W_miss, M)) == pytest.approx(math.pi / 2, abs=1e-6)


def test_the_eta_weighs_cells_by_their_work():
    """Three small cells done, one 100 times larger left: the ETA is about 100 times the time
    per small cell, not a third of the elapsed time (issue 25 item 5)."""
    from mtlcheck.checks import progress as PR
    lines = []
    rep = PR.Reporter(write=lines.append, tty=False, every_s=0.0)
    keys = [{"d": 8, "T": 4, "n": 16, "m": 8}] * 3 + [{"d": 800, "T": 4, "n": 16, "m": 8}]
    works = [PR.work_of(k) for k in keys]
    assert works[3] == pytest.approx(100 * works[0])
    sw = rep.sweep("s", 4, 0, sum(works))
    sw.t0 -= 3.0                                   # three seconds spent on the small cells
    for w in works[:3]:
        sw.advance(work=w)
    eta = lines[-1].split("ETA ")[1]
    assert eta == "1.7 min", lines[-1]              # 100 s: 3 s x (100 / 3)


def test_a_cell_s_own_work_weighs_the_eta(monkeypatch):
    """A cell that states its work (Cell.work: C5's random-feature Grams, cubic in the width) is
    weighed by it, not by the pretraining formula of its key; C4's cells carry their kind's own
    T and n2 (a multi-task key used to carry the single task's n2)."""
    from mtlcheck.checks import progress as PR
    from mtlcheck.checks.context import Context
    from mtlcheck.checks.executor import Cell
    from mtlcheck.checks.claims import c4_single_task as C4
    from mtlcheck.checks.profiles import profile
    lines = []
    ctx = Context(profile="quick", seed=0, device="cpu",
                  progress=PR.Reporter(write=lines.append, tty=False, every_s=0.0))
    clock = iter(range(0, 1000))
    monkeypatch.setattr(PR.time, "perf_counter", lambda: float(next(clock)))
    cells = [Cell("t", {"i": i, "d": 8}, lambda i: i, (i,), work=w)
             for i, w in enumerate([1.0, 1.0, 98.0])]
    assert ctx.run("s", cells) == [0, 1, 2]
    # after the first cell (1 s on the fake clock), 99 units of work are left at 1 s a unit:
    # 99 s (counting cells, or the keys' equal pretraining work, would say 2 s)
    assert "1/3 cells" in lines[1] and "ETA 1.6 min" in lines[1], lines
    P = profile("full", "C4")
    keys = {k: C4._cells(ctx, {**P, "K": 1, "K_few": 1}, k)[0].key for k in C4.KINDS}
    assert {k: (v["T"], v["n2"]) for k, v in keys.items()} == {
        "single": (1, P["n2"]), "multi": (P["multi_T"], P["n1"]), "few": (P["few_T"], P["n2"])}
