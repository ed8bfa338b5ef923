"""Reliability: determinism of results.json, data safety (an interrupt, a crash, --only and
--fresh never lose earlier claims), the atomic cache, and one-line errors with exit status 2 on
bad input."""
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import pytest

from mtlcheck.checks.claims import CLAIMS
from mtlcheck.checks.cache import Cache

RUN = [sys.executable, "-m", "mtlcheck", "run"]
TIMING_KEYS = {"wall_s", "cache", "produced", "runs", "digest"}   # the digest covers runs


def _strip(obj):
    """results.json without the fields that legitimately differ between runs (timings, cache,
    when and by which run each claim was produced)."""
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _claims(folder):
    return {c["id"]: c for c in json.loads((folder / "results.json").read_text())["claims"]}


def test_same_seed_gives_identical_results_json(tmp_path):
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        p = subprocess.run(RUN + ["--only", "C4", "C6", "--seed", "7", "--fresh", "--threads", "2",
                                  "--out", str(out)],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
        outs.append(json.loads((out / "results.json").read_text()))
    assert _strip(outs[0]) == _strip(outs[1])
    assert [c["id"] for c in outs[0]["claims"]] == ["C4", "C6"]
    # a different seed changes the numbers
    out = tmp_path / "c"
    subprocess.run(RUN + ["--only", "C4", "--seed", "8", "--out", str(out)], capture_output=True,
                   check=True)
    other = json.loads((out / "results.json").read_text())
    assert other["claims"][0]["details"] != outs[0]["claims"][0]["details"]


def _cells(folder):
    return [os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs if f.endswith(".json")]


def _start(args, out):
    """A run in its own session, with SIGINT at its default (a shell that started pytest in the
    background may have ignored it), so that Ctrl-C is delivered as it would be on a terminal."""
    return subprocess.Popen(RUN + args + ["--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for_cells(proc, folder, n, timeout=240):
    """Until ``n`` cells in ``folder`` were written by this run (newer than its start)."""
    t0 = time.time() - 1
    deadline = t0 + timeout

    def fresh():
        return sum(os.path.getmtime(f) > t0 for f in _cells(folder))

    while time.time() < deadline and fresh() < n and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be stopped"


def test_sigint_keeps_every_earlier_claim_and_only_fresh_clears_its_own_cache(copy_run):
    before = _claims(copy_run)
    assert list(before) == list(CLAIMS)
    others = {cid: sorted((f, os.path.getmtime(f)) for f in _cells(copy_run / "cache" / cid))
              for cid in before if cid != "C2"}
    proc = _start(["--only", "C2", "--fresh"], copy_run)
    _wait_for_cells(proc, copy_run / "cache" / "pretrain", 3)     # C2 recomputes its pretraining
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted:" in err and "cells cached; rerun" in err and "Traceback" not in err
    after = _claims(copy_run)
    assert sorted(after) == sorted(before)                 # nothing lost
    assert _strip(after) == _strip(before)                 # C2 unfinished: its old record stays
    # --fresh C2 touched no other claim's cells
    assert {cid: sorted((f, os.path.getmtime(f)) for f in _cells(copy_run / "cache" / cid))
            for cid in others} == others
    runs = json.loads((copy_run / "results.json").read_text())["runs"]
    assert runs[-1]["status"] == "interrupted" and runs[-1]["claims"] == []


def test_sigkill_then_resume_without_recomputing(copy_run):
    before = _claims(copy_run)
    shutil.rmtree(copy_run / "cache" / "C1")           # C1's cells were never computed here
    proc = _start(["--only", "C1", "--threads", "2"], copy_run)   # as the quick run (conftest)
    _wait_for_cells(proc, copy_run / "cache" / "C1", 12)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    done = _cells(copy_run / "cache" / "C1")
    assert len(done) >= 12
    for f in done:                        # every finished cell is a complete, parseable file
        rec = json.loads(open(f).read())
        assert "key" in rec and "value" in rec
    assert _strip(_claims(copy_run)) == _strip(before)     # results.json whole and unchanged
    p = subprocess.run(RUN + ["--only", "C1", "--threads", "2", "--out", str(copy_run)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    doc = json.loads((copy_run / "results.json").read_text())
    last = doc["runs"][-1]
    assert last["cache"]["hits"] >= len(done)
    assert last["cache"]["hits"] + last["cache"]["misses"] == len(_cells(copy_run / "cache" / "C1"))
    after = _claims(copy_run)
    assert sorted(after) == sorted(before)
    assert _strip(after["C1"]) == _strip(before["C1"])    # resumed cells give the same numbers
    assert after["C1"]["produced"]["run_id"] == last["run_id"]
    assert after["C2"]["produced"] == before["C2"]["produced"]


def test_only_merges_into_a_finished_folder(copy_run):
    before = _claims(copy_run)
    p = subprocess.run(RUN + ["--only", "C4", "--out", str(copy_run)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-2000:]
    after = _claims(copy_run)
    assert sorted(after) == sorted(before)
    assert after["C4"]["produced"]["run_id"] != before["C4"]["produced"]["run_id"]
    for cid in set(CLAIMS) - {"C4"}:
        assert after[cid] == before[cid]


def test_cache_atomicity_and_corruption(tmp_path):
    c = Cache(str(tmp_path))
    key = {"a": 1, "b": [1, 2]}
    assert c.cell("g", key, lambda: {"v": 3.5}) == {"v": 3.5}
    assert c.cell("g", key, lambda: pytest.fail("recomputed a cached cell")) == {"v": 3.5}
    assert (c.hits, c.misses) == (1, 1)
    path = c._path("g", key)
    assert not [f for f in os.listdir(os.path.dirname(path)) if f.startswith(".tmp-")]
    with open(path, "w") as f:
        f.write('{"key": {"a": 1, "b": [1, 2]}, "val')      # a torn file
    assert c.get("g", key) is None                           # treated as missing, recomputed
    assert c.cell("g", key, lambda: {"v": 4.0}) == {"v": 4.0}
    assert Cache(None).cell("g", key, lambda: 1) == 1         # no folder: no caching


@pytest.mark.parametrize("argv, message", [
    (["run", "--profile", "slow"], "The 'profile' parameter of run must be one of {'quick', 'full'}. Got 'slow' instead."),
    (["run", "--seed", "-3"], "The 'seed' parameter of run must be an int in [0, 2**63). Got -3 instead."),
    (["run", "--seed", "1.5"], "The 'seed' parameter of run must be an int in [0, 2**63). Got 1.5 instead."),
    (["run", "--device", "tpu"], "The 'device' parameter of run must be one of {'auto', 'cpu', 'cuda'}. Got 'tpu' instead."),
    (["run", "--only", "C99"], "The 'only' parameter of run must be one of {"
     + ", ".join(map(repr, CLAIMS)) + "}. Got 'C99' instead."),
    (["run", "--threads", "0"], "The 'threads' parameter of run must be an int in [1, 4096]. Got 0 instead."),
    *[([verb, "--threads", "0"], f"The 'threads' parameter of {verb} must be an int in [1, 4096]. "
       "Got 0 instead.") for verb in ("audit", "calibrate", "counterexamples", "bench", "mutants")],
    (["run", "--executor", "slurm"], "The 'executor' parameter of run must be one of {'local', 'ray'}. Got 'slurm' instead."),
    (["run", "--address", "1.2.3.4:5"], "The 'address' parameter of run must be given only with --executor ray."),
    (["run", "--out", "/proc/mtlcheck-out"], "The 'out' parameter of run must be a folder that can be created and written."),
    (["report", "--out", "/proc/mtlcheck-report"], "The 'out' parameter of report must be a folder that can be created and written."),
    (["sim", "pretrain", "--d", "4", "--r", "8", "--T", "1", "--n1", "1", "--n2", "1", "--m", "1"],
     "The 'd' parameter of sim pretrain must be an int >= r=8. Got 4 instead."),
    (["sim", "pretrain", "--d", "8", "--r", "2", "--T", "0", "--n1", "1", "--n2", "1", "--m", "1"],
     "The 'T' parameter of sim pretrain must be an int >= 1. Got 0 instead."),
    (["sim", "pretrain", "--d", "8", "--r", "2", "--T", "1", "--n1", "-5", "--n2", "1", "--m", "1"],
     "The 'n1' parameter of sim pretrain must be an int >= 1. Got -5 instead."),
    (["sim", "pretrain", "--d", "8", "--r", "2", "--T", "1", "--n1", "1", "--n2", "1", "--m", "1",
      "--tasks", "circles"], "The 'tasks' parameter of sim pretrain must be one of {'halfspace', "
                             "'clusters', 'quadratic'}. Got 'circles' instead."),
    (["sim", "pretrain", "--d", "8", "--r", "2", "--T", "1", "--n1", "1", "--n2", "1", "--m", "1",
      "--task-pool", "fresh"], "The 'task-pool' parameter of sim pretrain --variant one-step must "
                               "be 'fixed' (it applies to --variant alternating only). Got 'fresh' instead."),
    (["sim", "pretrain", "--d", "8", "--r", "2", "--T", "1", "--n1", "1", "--n2", "1", "--m", "1",
      "--head-steps", "3"], "The 'head-steps' parameter of sim pretrain --variant one-step must be 1"),
    (["sim", "pretrain", "--d", "200000", "--r", "2", "--T", "1", "--n1", "1", "--n2", "1",
      "--m", "100000"], "needs about"),
    (["sim"], "The 'SIMVERB' parameter of sim must be one of {'pretrain'}"),
    (["bench", "--repeats", "0"], "The 'repeats' parameter of bench must be an int >= 1. Got 0 instead."),
    (["bench", "--scale", "2"], "The 'scale' parameter of bench must be a finite float in (0, 1]. Got 2 instead."),
    (["bench", "--device", "gpu"], "The 'device' parameter of bench must be one of {'auto', 'cpu', 'cuda'}. Got 'gpu' instead."),
])
def test_cli_bad_input_one_line_exit_2(argv, message):
    p = subprocess.run([sys.executable, "-m", "mtlcheck", *argv], capture_output=True, text=True)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert message in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_out_under_a_file_is_one_line(tmp_path):
    f = tmp_path / "a-file"
    f.write_text("x")
    for verb in (["run"], ["report", "--results", str(f)]):
        p = subprocess.run([sys.executable, "-m", "mtlcheck", *verb, "--out", str(f / "sub")],
                           capture_output=True, text=True)
        assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
        assert "must be a folder that can be created and written" in p.stderr
        assert len(p.stderr.strip().splitlines()) == 1


def test_cli_missing_cuda_is_reported_before_work():
    import torch
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    p = subprocess.run([sys.executable, "-m", "mtlcheck", "run", "--device", "cuda"],
                       capture_output=True, text=True)
    assert p.returncode == 2
    assert "no CUDA device is present" in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_pytest_option_errors_are_usage_errors():
    p = subprocess.run([sys.executable, "-m", "pytest", "checks", "--mtl-profile", "slow", "-q"],
                       capture_output=True, text=True)
    assert p.returncode == 4
    assert "The 'profile' parameter of pytest --mtl-* options must be one of {'quick', 'full'}" in p.stderr


def test_code_fingerprint_covers_the_claim_modules(monkeypatch):
    """The cache salt hashes every module whose code computes a cell, the claims' run_cell
    included (checks/claims/): an edited claim never reuses stale cells."""
    import builtins
    from mtlcheck.checks import cache as common
    read, real_open = [], builtins.open

    def spy(path, *a, **k):
        read.append(str(path))
        return real_open(path, *a, **k)

    monkeypatch.setattr(builtins, "open", spy)
    common.code_fingerprint()
    monkeypatch.undo()
    folders = {pathlib.Path(p).parent.name for p in read}
    assert {"claims", "theory", "sim", "checks"} <= folders, folders
    assert any(p.endswith("c2_sample_complexity.py") for p in read)
