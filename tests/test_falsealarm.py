"""Issue 7: error rates of the decisions. Under a correct implementation the cheap checks do not
reject (on fixed seeds; `python -m mtlcheck.falsealarm` measures more), and each decision rule,
applied to synthetic data exactly at its boundary, passes no more often than its alpha allows."""
from mtlcheck.qa import calibrate as falsealarm
from mtlcheck.checks.stats import clopper_pearson_lower


def test_cheap_checks_do_not_reject_a_correct_implementation():
    for cid in ("C6", "C4"):
        r = falsealarm.measure(cid, list(range(500, 505)))
        assert r["rejections"] == 0, r
        assert r["negative_control_accepted"] == 0, r
        for name, c in r["components"].items():
            assert c["error"] in ("false pass", "false alarm") and 0 <= c["alpha"] <= 0.05, name


def test_decision_rules_are_calibrated_at_their_boundary():
    for row in falsealarm.calibrate(datasets=40, seed=3):
        # no evidence (at 1%) that the false-pass rate exceeds alpha
        assert clopper_pearson_lower(row["passes"], row["datasets"], 0.01) <= row["alpha"], row
