"""The logic that turns a decision, its subchecks and its negative controls into a verdict:
every combination, including NaN statistics and censored controls; and the statistics that the
rules use, against scipy and simulation."""
import itertools
import math

import numpy as np
import pytest
import torch

from mtlcheck.checks.rules import (BinomialRule, EquivalenceRule, GroupData, SlopeRule,
                                         effect_80, false_pass, slope_trend)
from mtlcheck.checks.record import ClaimResult, negative_control_record, subcheck
from mtlcheck.checks.results import validation_errors
from mtlcheck.checks.stats import (clopper_pearson_lower, clopper_pearson_upper,
                                   group_slope_bound, group_slope_bound_batch, mean_bound)
from mtlcheck.sim import metrics as MET


def _result(cb, subs, controls):
    return ClaimResult(id="C2", parameters={}, statistic_name="s", statistic=0.1,
                       confidence_bound=cb, side="upper", alpha=0.05, method="m", bound=0.25,
                       bound_provenance="", controls=controls, subchecks=subs,
                       power={"alternative": "a", "effect_80": 0.2, "datasets": 10, "method": "m"})


PRIMARY = {"pass": 0.2, "fail": 0.3, "nan": math.nan, "inf": math.inf}
SUB = {"pass": [subcheck("a", 1, 0.5, 1, "upper", 0.05, "t")],
       "fail": [subcheck("a", 1, 1.5, 1, "upper", 0.05, "t")],
       "nan": [subcheck("a", 1, math.nan, 1, "upper", 0.05, "t")],
       "none": []}
CTRL = {"rejected": (0.9, 1.0, True), "accepted": (0.1, 0.2, False),
        "nan": (math.nan, 1.0, True), "censored": (0.9, math.inf, True)}


@pytest.mark.parametrize("primary, sub, c1, c2", list(itertools.product(PRIMARY, SUB, CTRL, CTRL)))
def test_every_combination_of_decision_subchecks_and_controls(primary, sub, c1, c2):
    controls = [negative_control_record(f"c{i}", "d", *CTRL[c][:2], rejected=CTRL[c][2])
                for i, c in enumerate((c1, c2))]
    r = _result(PRIMARY[primary], SUB[sub], controls)
    should_pass = primary == "pass" and sub in ("pass", "none") and c1 == c2 == "rejected"
    assert (r.verdict == "pass") == should_pass
    expected_ctrl = {"rejected": "rejected", "accepted": "accepted", "nan": "undecided",
                     "censored": "undecided"}
    assert [c["verdict"] for c in controls] == [expected_ctrl[c1], expected_ctrl[c2]]
    rec = r.record()
    assert rec["verdict"] == r.verdict and rec["negative_controls"] == controls
    if not should_pass:
        assert rec["verdict_reason"]
    summary = rec["negative_control"]["verdict"]
    if "accepted" in (expected_ctrl[c1], expected_ctrl[c2]):
        assert summary == "accepted"
    elif c1 == c2 == "rejected":
        assert summary == "rejected"
    else:
        assert summary == "undecided"


def test_a_nan_control_fails_the_claim():
    ok = negative_control_record("a", "d", 0.9, 1.0, rejected=True)
    nan = negative_control_record("b", "d", math.nan, math.nan, rejected=True)
    r = _result(0.2, [], [ok, nan])
    assert nan["verdict"] == "undecided" and r.verdict == "fail"
    assert "negative control undecided: b" in r.verdict_reason


def test_fewer_than_two_controls_fail():
    r = _result(0.2, [], [negative_control_record("a", "d", 0.9, 1.0, rejected=True)])
    assert r.verdict == "fail" and "fewer than two negative controls" in r.verdict_reason


def test_a_record_follows_the_results_schema():
    r = _result(0.2, SUB["pass"], [negative_control_record(f"c{i}", "d", 0.9, 1.0, True)
                                   for i in range(2)])
    rec = {**r.record(), "produced": {"run_id": "x", "at": "t", "command": "c", "profile": "quick",
                                      "seed": 0, "device": "cpu"}}
    doc = {"schema_version": 2, "claims": [rec], "profile": "quick", "seed": 0, "device": "cpu",
           "versions": {}, "runs": []}
    assert validation_errors(doc) == []
    rec["confidence_bound"]["value"] = None            # a pass needs a finite bound
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
    one = group_slope_bound(xs, groups, 0.05, "upper")
    many = group_slope_bound_batch(xs, [np.asarray(g)[None] for g in groups], 0.05, "upper")
    assert many[0] == pytest.approx(one.bound)
    # two groups with equal sizes: the slope is the difference of means and the bound Welch's
    w = st.ttest_ind(groups[1], groups[0], equal_var=False)
    two = group_slope_bound(xs[:2], groups[:2], 0.05, "upper")
    assert two.slope == pytest.approx(np.mean(groups[1]) - np.mean(groups[0]))
    assert two.slope / two.se == pytest.approx(w.statistic)
    assert math.isnan(group_slope_bound(xs, [[1.0, math.nan]] * 4, 0.05, "upper").bound)


def test_slope_rule_is_calibrated_on_gaussian_groups_and_has_power():
    rng = np.random.default_rng(1)
    xs = [math.log(d) for d in (8, 16, 32, 64, 128)]
    data = GroupData.of(xs, [rng.normal(0, 0.2, 12) for _ in xs])
    rule = SlopeRule(0.25, "upper", 0.05)
    fp = false_pass(rule, data, slope_trend(xs)(0.25), 4000, rng)
    assert fp["lower95"] <= 0.05 <= fp["upper95"] + 0.01
    e80 = effect_80(rule, data, slope_trend(xs), 0.0, 2.0, 2000, rng)
    assert 0.1 < e80 < 0.25                     # calibrated: detects just below the boundary
    eq = EquivalenceRule(1.0, 0.02, 0.05)
    assert eq.passes([0], [[1.0, 1.001, 0.999]]) and not eq.passes([0], [[1.1, 1.101, 1.099]])
    br = BinomialRule(0.8, 0.05, 30)
    assert br.pass_probability(0.8) <= 0.05 and br.pass_probability(0.999) > 0.9


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
