"""`mtlcheck verify`: the independent re-decision of a results.json (qa/verify.py).

- the verifier shares no code with the checks (its imports, read from its AST);
- its rules agree with checks/rules.py on synthetic data of every kind (fast);
- on a real quick run it passes, within 10 s; each kind of tampering exits 1 with a line naming
  the claim, the component and the field; unreadable, non-JSON and schema-invalid files exit 2.
"""
import ast
import copy
import json
import math
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from mtlcheck.cli import main
from mtlcheck.qa import verify as V

VERIFY_PY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "qa",
                         "verify.py")
ALLOWED = {"numpy", "scipy", "jsonschema"}
SAMPLE = "/tmp/q3/results.json"        # a developer's run, for the fast loop only (skips if absent)


def test_verify_imports_nothing_from_the_checks():
    tree = ast.parse(open(VERIFY_PY).read())
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                bad.append(f"relative import from {'.' * node.level}{node.module or ''}")
                continue
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if not (top in sys.stdlib_module_names or top in ALLOWED):
                bad.append(name)
    assert not bad, f"qa/verify.py must use only stdlib, numpy, scipy, jsonschema: {bad}"


# --- the rules agree with checks/rules.py ------------------------------------------------------

def _rule_cases():
    from mtlcheck.checks.rules import (AllOf, BinomialRule, EveryPoint, ExactRule, Groups,
                                       MeanRule, SlopeRule, ZRule)
    rng = np.random.default_rng(7)
    def g(k, n, skew=0.0):
        return Groups.of(np.arange(3.0, 3 + k), [list(rng.gamma(2.0, 1.0, n) * skew
                                                      + rng.normal(0.1 * i, 1, n))
                                                 for i in range(k)])
    slope, mean = SlopeRule("<=", 0.25, 0.05), MeanRule(">=", 0.0, 0.05)
    def within(a):
        return MeanRule("within", 1.0, a, tol=0.05)
    yield slope, g(6, 10, 1.0)
    yield SlopeRule(">=", 0.0, 0.05, error="false alarm"), g(4, 5)
    yield mean, g(1, 24, 2.0)
    yield mean, Groups.of([0.0], [[1.0, 1.0, 1.0]])                       # zero variance
    yield mean, Groups.of([0.0], [[1.0, math.nan, 2.0]])                  # censored: NaN
    yield within(0.05), Groups.of([0.0], [list(1 + 0.01 * rng.normal(size=50))])
    yield BinomialRule(">=", 0.9, 0.05), [True] * 28 + [False] * 2
    yield BinomialRule("<=", 0.2, 0.05), [False] * 30
    yield ExactRule(1e-12), 3e-13
    yield ZRule(0.05), list(rng.normal(size=8))
    yield EveryPoint(within, 0.05), [Groups.of([0.0], [list(1 + 0.02 * rng.normal(size=40))])
                                     for _ in range(3)]
    yield EveryPoint(within, 0.05, error="false alarm"), [
        Groups.of([0.0], [list(1 + 0.2 * rng.normal(size=40))]) for _ in range(3)]
    yield AllOf((slope, mean)), [g(4, 8), g(1, 12)]
    yield AllOf((SlopeRule("<=", -0.1, 0.05), mean)), [g(4, 8), g(1, 12)]


@pytest.mark.parametrize("control", [False, True])
def test_rules_agree_with_the_checks(control):
    n = 0
    for rule, data in _rule_cases():
        d = rule.decide(data)
        rec = d.control("x", "x") if control else d.component("x", "x")
        rec = json.loads(json.dumps(rec))                                 # as the file holds it
        assert V.verify_record(rec, control=control) == [], (rule, rec)
        n += 1
    assert n >= 14


def test_a_changed_input_is_a_mismatch():
    from mtlcheck.checks.rules import Groups, SlopeRule
    rec = SlopeRule("<=", 0.25, 0.05).decide(Groups.of([1, 2, 3], [[0, 1, 2], [1, 2, 4],
                                                                  [2, 2, 3]])).component("s", "k")
    rec = json.loads(json.dumps(rec))
    rec["inputs"]["values"][2][0] *= 10
    lines = V.verify_record(rec, where="C9 primary")
    assert any(line.startswith("C9 primary: statistic recorded") for line in lines), lines


# --- on a results file -------------------------------------------------------------------------

def _write(doc, path, redigest=True):
    if redigest:
        doc["digest"] = V.document_digest(doc)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    return str(path)


def _verify(path, capsys, *extra):
    capsys.readouterr()
    rc = main(["verify", str(path), *extra])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _claim(doc, cid):
    return next(c for c in doc["claims"] if c["id"] == cid)


def _times_ten(doc):
    vals = _claim(doc, "C2")["primary"]["inputs"]["values"]
    i = next(i for i, v in enumerate(vals[0]) if v is not None)
    vals[0][i] *= 10
    return "C2 primary:", ("statistic", "confidence_bound")


def _flip_c4(doc):
    c = _claim(doc, "C4")
    c["verdict"] = "fail" if c["verdict"] == "pass" else "pass"
    return "C4 claim:", ("verdict recorded",)


def _margin(doc):
    _claim(doc, "C1")["margin"] += 0.5
    return "C1 claim:", ("margin recorded",)


def _control(doc):
    k = _claim(doc, "C4")["negative_controls"][-1]
    k["verdict"] = "accepted" if k["verdict"] != "accepted" else "rejected"
    return f"C4 control '{k['name']}':", ("verdict recorded",)


def _truncate(doc):
    _claim(doc, "C3")["primary"]["inputs"]["values"][0].pop()
    # a fixed rule's statistic moves; a sequential one's inputs no longer end at its last look
    return "C3 primary:", ("statistic", "confidence_bound", "inputs hold")


TAMPER = {"value x 10": _times_ten, "C4 verdict flipped": _flip_c4, "margin edited": _margin,
          "control verdict": _control, "evidence truncated": _truncate}


def _check_tamper(src, tmp_path, capsys, name):
    doc = json.load(open(src))
    where, fields = TAMPER[name](doc)
    rc, out, _ = _verify(_write(copy.deepcopy(doc), tmp_path / "t.json"), capsys)
    lines = out.splitlines()
    assert rc == 1, out
    assert any(line.startswith(where) and any(f in line for f in fields) for line in lines), out
    assert not any(line.startswith("document: digest") for line in lines), out
    rc, out, _ = _verify(_write(doc, tmp_path / "u.json", redigest=False), capsys)
    assert rc == 1 and "document: digest recorded sha256:" in out, out


@pytest.fixture
def sample(tmp_path):
    """A copy of a developer's run (fast loop only: skips where it is absent)."""
    if not os.path.exists(SAMPLE):
        pytest.skip(f"{SAMPLE} absent (the quick_run tests cover this)")
    doc = json.load(open(SAMPLE))
    if len({c["id"] for c in doc["claims"]} & {"C1", "C2", "C3", "C4"}) < 4:
        pytest.skip(f"{SAMPLE} does not hold C1..C4 yet")
    doc.setdefault("digest", None)
    return _write(doc, tmp_path / "sample.json")


@pytest.fixture
def run_results(quick_run, tmp_path):
    """A private copy of the session's quick run's results.json."""
    dst = tmp_path / "results.json"
    shutil.copy(os.path.join(quick_run, "results.json"), dst)
    return dst


@pytest.mark.parametrize("name", sorted(TAMPER))
def test_tampering_sample(sample, tmp_path, capsys, name):
    _check_tamper(sample, tmp_path, capsys, name)


def test_sample_verifies(sample, capsys):
    rc, out, _ = _verify(sample, capsys)
    assert rc == 0 and out.startswith("verified: "), out


def test_quick_run_verifies_within_10s(run_results):
    doc = json.load(open(run_results))
    assert doc["digest"].startswith("sha256:") and doc.get("code_fingerprint")
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "mtlcheck", "verify", str(run_results)],
                       capture_output=True, text=True)
    took = time.perf_counter() - t0
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith(f"verified: {len(doc['claims'])} claims"), p.stdout
    assert doc["digest"] in p.stdout
    assert took <= 10, f"verify took {took:.1f} s"
    p = subprocess.run([sys.executable, "-m", "mtlcheck", "verify", str(run_results), "--json"],
                       capture_output=True, text=True)
    out = json.loads(p.stdout)
    assert p.returncode == 0 and out["ok"] and out["mismatches"] == []
    assert out["digest"] == doc["digest"] and out["claims"] == len(doc["claims"])


@pytest.mark.parametrize("name", sorted(TAMPER))
def test_tampering_is_caught(run_results, tmp_path, capsys, name):
    _check_tamper(run_results, tmp_path, capsys, name)


def test_records_without_params_exit_2(run_results, tmp_path, capsys):
    doc = json.load(open(run_results))
    for c in doc["claims"]:
        c["primary"].pop("params")
    rc, out, err = _verify(_write(doc, tmp_path / "old.json"), capsys)
    assert rc == 2 and out == "" and "has no params" in err and len(err.splitlines()) == 1, err


@pytest.mark.parametrize("text, says", [("{not json", "is not JSON"),
                                        ('{"claims": NaN}', "is not JSON"),
                                        ('{"schema_version": 3, "claims": []}', "schema"),
                                        ("[1, 2]", "schema")])
def test_bad_files_exit_2(tmp_path, capsys, text, says):
    path = tmp_path / "r.json"
    path.write_text(text)
    rc, out, err = _verify(path, capsys)
    assert rc == 2 and out == "" and says in err and len(err.splitlines()) == 1, err
    rc, out, err = _verify(tmp_path / "missing.json", capsys)
    assert rc == 2 and "cannot read" in err and len(err.splitlines()) == 1, err


# --- `mtlcheck report` runs the verifier first (issue 26 item 4) -------------------------------

def _report(src, out, capsys, *extra):
    capsys.readouterr()
    rc = main(["report", "--results", str(src), "--out", str(out), "--no-pdf", *extra])
    got = capsys.readouterr()
    return rc, got.out, got.err


def _check_report_verification(src, tmp_path, capsys):
    doc = json.load(open(src))
    n = sum(1 + len(c["subchecks"]) + len(c["negative_controls"]) for c in doc["claims"])
    # a file that verifies: its digest and counts under the report's title
    rc, out, err = _report(src, tmp_path / "ok", capsys)
    assert rc == 0, err
    tex = (tmp_path / "ok" / "report.tex").read_text()
    line = (f"\\textbf{{Verified by \\texttt{{mtlcheck verify}}:}} digest\\newline "
            f"\\texttt{{{doc['digest']}}}, {n} components re-decided, 0 mismatches")
    assert line in tex and tex.index(line) < tex.index("\\section{Summary}")
    assert f"verified by mtlcheck verify: digest {doc['digest']}, {n} components" in out
    # a tampered one (consistent digest, inconsistent margin): refused, nothing written
    cid = doc["claims"][0]["id"]
    doc["claims"][0]["margin"] += 0.5
    bad = _write(doc, tmp_path / "tampered.json")
    rc, out, err = _report(bad, tmp_path / "refused", capsys)
    assert rc == 1 and not (tmp_path / "refused").exists(), (out, err)
    assert f"{cid} claim: margin recorded" in err and "--unverified" in err
    assert "does not verify" in err and "1 mismatch " in err and "Traceback" not in err
    # the override builds it, with the banner in report.tex
    rc, out, err = _report(bad, tmp_path / "forced", capsys, "--unverified")
    assert rc == 0 and "NOT VERIFIED" in err, err
    tex = (tmp_path / "forced" / "report.tex").read_text()
    assert "NOT VERIFIED: mtlcheck verify found 1 mismatch." in tex and "Verified by" not in tex
    assert f"\\item {cid} claim: margin recorded" in tex
    assert tex.index("NOT VERIFIED") < tex.index("\\paragraph{What this is.}")
    # a file the verifier cannot check (records without params) but the report could read
    for c in doc["claims"]:
        c["primary"].pop("params")
    old = _write(doc, tmp_path / "old.json")
    rc, out, err = _report(old, tmp_path / "old", capsys)
    assert rc == 2 and not (tmp_path / "old").exists() and "has no params" in err
    assert "--unverified" in err and len(err.splitlines()) == 1, err
    rc, out, err = _report(old, tmp_path / "old", capsys, "--unverified")
    assert rc == 0
    assert "NOT VERIFIED: mtlcheck verify could not check this file." in \
        (tmp_path / "old" / "report.tex").read_text()


@pytest.fixture
def any_sample(tmp_path):
    """A developer's run of any claims, without a run of our own (skips where none is here)."""
    if not os.path.exists(SAMPLE):
        pytest.skip(f"{SAMPLE} absent (the quick_run test covers this)")
    src = SAMPLE
    doc = json.load(open(src))
    if V.verify_document(doc):
        pytest.skip(f"{src} does not verify with this code")
    return _write(doc, tmp_path / "sample.json")


def test_report_states_or_refuses_verification_sample(any_sample, tmp_path, capsys):
    _check_report_verification(any_sample, tmp_path, capsys)


def test_report_states_or_refuses_verification(run_results, tmp_path, capsys):
    _check_report_verification(run_results, tmp_path, capsys)


# --- `mtlcheck verify --rerun K` (issue 26 item 3) -----------------------------------------------

def test_rerun_re_executes_cells_and_re_derives_the_evidence(copy_run):
    """verify --rerun 2 on a quick run: every claim decided again from the run's cache agrees
    with the file's evidence, and 2 cells per claim re-executed from their seeds are identical
    to the cached ones (same threads, same device). A cached cell edited afterwards (C6's
    c_hat of one population seed) makes the re-derived evidence differ: exit 1, naming C6."""
    res = os.path.join(copy_run, "results.json")
    doc = json.load(open(res))
    p = subprocess.run([sys.executable, "-m", "mtlcheck", "verify", res, "--rerun", "2"],
                       capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    lines = [x for x in p.stdout.splitlines() if ": re-executed " in x]
    for c in doc["claims"]:
        mine = [x for x in lines if x.startswith(c["id"] + ":")]
        assert len(mine) == 2 and all(x.endswith("identical") for x in mine), p.stdout
    import glob
    for path in sorted(glob.glob(os.path.join(copy_run, "cache", "C6", "*.json"))):
        cell = json.load(open(path))
        if isinstance(cell["value"], dict) and "c_hat" in cell["value"]:
            cell["value"]["c_hat"] *= 1.5
            json.dump(cell, open(path, "w"))
            break
    p = subprocess.run([sys.executable, "-m", "mtlcheck", "verify", res, "--rerun", "1"],
                       capture_output=True, text=True, timeout=1200)
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-3000:]
    assert any(x.startswith("C6") and "differs" in x for x in p.stdout.splitlines()), p.stdout


def test_rerun_refuses_without_the_cache(run_results, tmp_path, capsys):
    rc, out, err = _verify(run_results, capsys, "--rerun", "1", "--cache",
                           str(tmp_path / "nothing"))
    assert rc == 2 and "--rerun needs the run's cache" in err and len(err.splitlines()) == 1, err
