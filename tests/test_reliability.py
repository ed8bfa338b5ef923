"""Reliability (issue 7): determinism of results.json, resumable runs after SIGKILL, the atomic
cache, and one-line errors with exit status 2 on bad input."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from mtlcheck.checks.common import Cache

RUN = [sys.executable, "-m", "mtlcheck", "run"]
TIMING_KEYS = {"wall_s", "cache"}


def _strip(obj):
    """results.json without the fields that legitimately differ between runs (timings, cache)."""
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def test_same_seed_gives_identical_results_json(tmp_path):
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        p = subprocess.run(RUN + ["--only", "C4", "C6", "--seed", "7", "--fresh", "--out", str(out)],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
        outs.append(json.loads((out / "results.json").read_text()))
    assert _strip(outs[0]) == _strip(outs[1])
    assert [c["id"] for c in outs[0]["claims"]] == ["C4", "C6"]
    # a different seed changes the numbers
    out = tmp_path / "c"
    subprocess.run(RUN + ["--only", "C4", "--seed", "8", "--out", str(out)], capture_output=True, check=True)
    other = json.loads((out / "results.json").read_text())
    assert other["claims"][0]["details"] != outs[0]["claims"][0]["details"]


def _cells(folder):
    return [os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs if f.endswith(".json")]


def test_sigkill_then_resume_without_recomputing(tmp_path):
    out = tmp_path / "run"
    cache = out / "cache"
    proc = subprocess.Popen(RUN + ["--only", "C1", "--out", str(out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and len(_cells(cache)) < 12 and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = _cells(cache)
    assert len(done) >= 12
    for f in done:                        # every finished cell is a complete, parseable file
        rec = json.loads(open(f).read())
        assert "key" in rec and "value" in rec
    assert not (out / "results.json").exists()
    p = subprocess.run(RUN + ["--only", "C1", "--out", str(out)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-2000:]
    res = json.loads((out / "results.json").read_text())
    assert res["cache"]["hits"] >= len(done)
    assert res["cache"]["hits"] + res["cache"]["misses"] == len(_cells(cache))
    assert res["claims"][0]["verdict"] == "pass"


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
    (["run", "--only", "C9"], "The 'only' parameter of run must be one of {'C1', 'C2', 'C3', 'C4', 'C5', 'C6'}. Got 'C9' instead."),
    (["sim", "pretrain", "--d", "4", "--r", "8", "--T", "1", "--n1", "1", "--n2", "1", "--m", "1"],
     "The 'd' parameter of sim pretrain must be an int >= r=8. Got 4 instead."),
    (["sim", "pretrain", "--d", "8", "--r", "2", "--T", "0", "--n1", "1", "--n2", "1", "--m", "1"],
     "The 'T' parameter of sim pretrain must be an int >= 1. Got 0 instead."),
    (["sim", "pretrain", "--d", "8", "--r", "2", "--T", "1", "--n1", "-5", "--n2", "1", "--m", "1"],
     "The 'n1' parameter of sim pretrain must be an int >= 1. Got -5 instead."),
    (["bench", "--repeats", "0"], "The 'reps' parameter of bench must be an int >= 1. Got 0 instead."),
    (["bench", "--scale", "2"], "The 'scale' parameter of bench must be a finite float in (0, 1]. Got 2 instead."),
    (["bench", "--device", "gpu"], "The 'device' parameter of bench must be one of {'auto', 'cpu', 'cuda'}. Got 'gpu' instead."),
])
def test_cli_bad_input_one_line_exit_2(argv, message):
    p = subprocess.run([sys.executable, "-m", "mtlcheck", *argv], capture_output=True, text=True)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert message in p.stderr and "Traceback" not in p.stderr
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
