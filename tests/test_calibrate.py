"""Calibration and power (mtlcheck calibrate): every decision rule, in every regime a profile
uses, passes at its boundary no more often than its alpha allows, on synthetic data fitted to a
real quick run's cells; results.json carries each claim's power and at least two negative
controls, each rejected with a finite statistic."""
import json
import math
import pathlib
import subprocess
import sys

from mtlcheck.checks.claims import CLAIMS

MT = [sys.executable, "-m", "mtlcheck"]


def test_every_rule_is_calibrated_at_its_boundary(quick_run):
    results = pathlib.Path(quick_run) / "results.json"
    p = subprocess.run(MT + ["calibrate", "--results", str(results), "--datasets", "10000",
                             "--json"], capture_output=True, text=True, timeout=900)
    assert p.returncode in (0, 1), p.stderr[-2000:]
    out = json.loads(p.stdout)
    rows = out["rules"]
    regimes = {(r["rule"], r["regime"].split(":")[0]) for r in rows}
    for check in CLAIMS.values():           # every rule of every claim, in both profiles' regimes
        for cal in check.calibrations:
            assert {(cal.name, "quick"), (cal.name, "full")} <= regimes, cal.name
    for r in rows:
        assert r["datasets"] >= 2000
        assert r["upper95"] <= 0.0625, r
    assert p.returncode == 0
    claims = {q["claim"] for q in out["power"]}
    assert set(CLAIMS) <= claims


def test_results_carry_power_and_rejected_controls(quick_run):
    doc = json.loads((pathlib.Path(quick_run) / "results.json").read_text())
    by = {c["id"]: c for c in doc["claims"]}
    assert list(by) == list(CLAIMS)
    for c in by.values():
        assert c["power"] and {"alternative", "effect_80", "datasets", "method"} <= set(c["power"])
        assert len(c["negative_controls"]) >= 2, c["id"]
        for ctl in c["negative_controls"]:
            assert ctl["verdict"] == "rejected", (c["id"], ctl)
            assert math.isfinite(ctl["statistic"]) and math.isfinite(ctl["confidence_bound"])
    # the quick profile's targets: gamma = 0.5 detected for C2 and C3, a 5% constant for C6
    assert by["C2"]["power"]["effect_80"] <= 0.5 and by["C3"]["power"]["effect_80"] <= 0.5
    assert by["C6"]["power"]["effect_80"] <= 0.05


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
