"""Calibration and the operating characteristic (mtlcheck calibrate): every decision rule, in
every regime a profile uses, at each of its boundaries and on every data shape, errs no more
often than its alpha allows, on synthetic data fitted to a real quick run's inputs; the rule
objects that calibrate exercises are the ones that decide; results.json carries each claim's
operating characteristic, its intersection-union error bound and negative controls rejected on
evidence."""
import json
import math
import pathlib
import shutil
import subprocess
import sys
from types import SimpleNamespace

from mtlcheck.checks.claims import CLAIMS
from mtlcheck.checks.rules import OC_FIELDS

MT = [sys.executable, "-m", "mtlcheck"]


def test_every_rule_is_calibrated_at_every_boundary_on_every_shape(quick_run):
    results = pathlib.Path(quick_run) / "results.json"
    p = subprocess.run(MT + ["calibrate", "--results", str(results), "--datasets", "2000",
                             "--json", "--threads", "2"], capture_output=True, text=True,
                       timeout=1800)
    assert p.returncode in (0, 1), p.stderr[-2000:]
    rows = json.loads(p.stdout)["rules"]
    shapes: dict = {}
    for r in rows:
        shapes.setdefault((r["rule"], r["regime"], r["side"]), set()).add(r["shape"])
        assert r["datasets"] >= 2000
        assert r["upper95"] <= 0.0625, r
    regimes = {(r["rule"], r["regime"].split(":")[0]) for r in rows}
    for check in CLAIMS.values():           # every rule of every claim, in both profiles' regimes
        for cal in check.calibrations:
            assert {(cal.name, "quick"), (cal.name, "full")} <= regimes, cal.name
    for key, found in shapes.items():       # four shapes or more, except exact laws
        assert len(found) >= 4 or all("exact" in s or "z-scores" in s for s in found), key
    # every rule of a claim decided in rounds has rows monitored after every round, simulated
    # to the cap, with the replicates it used at the boundary (issue 25)
    sequential = [r for r in rows if r["monitoring"] == "every round"]
    records = {c["id"]: c for c in json.loads(results.read_text())["claims"]}
    for cid, check in CLAIMS.items():
        P = check.module.PROFILE["quick"]
        if "sequential" in P:
            for cal in check.calibrations:
                if not cal.build(records[cid], P)[0].sequential:
                    continue                # decided once (C5's Monte Carlo z-check)
                got = [r for r in sequential if r["rule"] == cal.name]
                assert got, cal.name
                for r in got:
                    assert r["datasets"] >= 2000 and r["upper95"] <= 0.0625, r
                    assert 0 < r["replicates_mean"] <= r["looks"][-1], r
    scale = {side for (rule, regime, side) in shapes if rule.startswith("C6 scale")}
    assert scale == {"lower", "upper"}       # both boundaries of the equivalence
    assert p.returncode == 0


def test_a_patched_rule_changes_both_the_verdict_and_the_calibration(quick_run, tmp_path,
                                                                     monkeypatch):
    """What calibrate exercises is what decides: MeanRule.decide (the fixed form) and the
    sequential decision's first crossing patched to pass everything make C6's scale rule pass
    at its boundary in calibrate, in both its fixed and its sequential rows, and its controls
    accepted in the claim's verdict (C6 decides in rounds)."""
    import numpy as np
    from mtlcheck.checks import rules
    from mtlcheck.checks import sequential as seq
    from mtlcheck.qa.calibrate import calibrate
    from mtlcheck.runner import main_run
    doc = json.loads((pathlib.Path(quick_run) / "results.json").read_text())
    c6 = {c["id"]: c for c in doc["claims"]}["C6"]
    before = calibrate({"C6": c6}, 2000, only=["C6 scale"])["rules"]
    original = rules.MeanRule.decide

    def always_pass(self, data):
        d = original(self, data)
        d.passed, d.refuted = True, False
        return d

    def passes_at_first_look(log_pass, log_refute, alpha_pass, alpha_refute):
        lp = np.asarray(log_pass, dtype=float)
        shape = lp.shape[:-1]
        return np.zeros(shape, dtype=int), np.ones(shape, dtype=bool), np.zeros(shape, dtype=bool)

    monkeypatch.setattr(rules.MeanRule, "decide", always_pass)
    monkeypatch.setattr(seq, "first_decision", passes_at_first_look)
    after = calibrate({"C6": c6}, 2000, only=["C6 scale"])["rules"]
    assert {r["monitoring"] for r in after} == {"once (fixed design)", "every round"}
    assert max(r["rate"] for r in before) <= 0.0625 and min(r["rate"] for r in after) == 1.0
    out = tmp_path / "out"
    shutil.copytree(quick_run, out)
    main_run(SimpleNamespace(profile="quick", seed=0, device="cpu", out=str(out), fresh=False,
                             only=["C6"], threads=2, executor="local", address=None))
    rec = {c["id"]: c for c in json.loads((out / "results.json").read_text())["claims"]}["C6"]
    assert rec["verdict"] == "fail" and "negative control accepted" in rec["verdict_reason"]


def test_results_carry_the_operating_characteristic_and_controls_rejected_on_evidence(quick_run):
    doc = json.loads((pathlib.Path(quick_run) / "results.json").read_text())
    by = {c["id"]: c for c in doc["claims"]}
    assert list(by) == list(CLAIMS)
    for c in by.values():
        oc = c["operating_characteristic"]
        assert set(OC_FIELDS) <= set(oc), c["id"]
        for k in ("tolerance", "p_pass_at_null", "effect_pass_80", "effect_fail_80"):
            assert oc[k] is not None and math.isfinite(oc[k]), (c["id"], k)
        assert oc["tolerance_plain"] and c["confidence_bound"]["plain"]
        assert c["error_bounds"]["false_pass"] <= 0.05, c["id"]
        rejected = [x for x in c["negative_controls"] if x["verdict"] == "rejected"]
        assert len(rejected) >= 2, c["id"]
        for ctl in c["negative_controls"]:
            assert {"name", "statistic", "confidence_bound", "boundary", "relation",
                    "verdict"} <= set(ctl)
        for ctl in rejected:                # its own bound lies beyond the claim's boundary
            beyond = (ctl["confidence_bound"] > ctl["boundary"] if ctl["relation"] == "<="
                      else ctl["confidence_bound"] < ctl["boundary"])
            assert beyond, (c["id"], ctl["name"])
        near = [x for x in rejected if x.get("effect_over_tolerance") is not None
                and x["effect_over_tolerance"] <= 2.0]
        assert near, c["id"]                # one control within twice the tolerance
    assert by["C2"]["operating_characteristic"]["p_pass_at_null"] >= 0.9
    assert by["C3"]["operating_characteristic"]["p_pass_at_null"] >= 0.9


def test_calibrate_refuses_too_few_datasets(quick_run):
    p = subprocess.run(MT + ["calibrate", "--datasets", "100", "--results",
                             str(pathlib.Path(quick_run) / "results.json")],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "The 'datasets' parameter of calibrate" in p.stderr


def test_json_stays_one_object_when_the_quick_run_comes_first(quick_run, tmp_path, monkeypatch,
                                                              capsys):
    """Without a results.json, calibrate runs the quick profile first; that run's claims table
    goes to stderr, so `--json` still prints exactly one JSON object on stdout."""
    import shutil
    from types import SimpleNamespace
    import mtlcheck.runner as runner
    from mtlcheck.qa.calibrate import main_calibrate

    def quick(args):                    # the real run's output, without its minutes
        print("id    verdict   (the claims table)")
        pathlib.Path(args.out).mkdir(parents=True, exist_ok=True)
        shutil.copy(pathlib.Path(quick_run) / "results.json", args.out)
        return 0

    monkeypatch.setattr(runner, "main_run", quick)
    rc = main_calibrate(SimpleNamespace(datasets=2000, seed=0, only=["C6"], json=True,
                                        results=str(tmp_path / "fresh" / "results.json")))
    captured = capsys.readouterr()
    assert rc == 0 and "the claims table" in captured.err
    assert json.loads(captured.out)["rules"]
