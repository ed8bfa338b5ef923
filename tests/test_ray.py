"""The Ray executor: a local Ray cluster on 127.0.0.1 runs the sweep cells of C4 and C6 as
Ray tasks and the claims come out identical to the local executor's (same seeds, same threads
per cell); the cluster is stopped at the end. Skipped, with the reason, where Ray is not
installed (it is an optional extra: pip install -e ".[ray]")."""
import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (optional extra: "
                                        "pip install -e \".[ray]\")")

RUN = [sys.executable, "-m", "mtlcheck", "run"]
VOLATILE = {"wall_s", "produced", "cache", "runs", "versions"}


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ray_cluster_gives_the_local_claims(tmp_path):
    ray_bin = shutil.which("ray") or str(__import__("pathlib").Path(sys.executable).parent / "ray")
    port = _free_port()
    # a home of its own: Ray >= 2.52 keeps an authentication token in ~/.ray, and a token left
    # there by an earlier local `ray.init()` does not match the one this head starts with
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home)}
    start = subprocess.run([ray_bin, "start", "--head", "--num-cpus", "2", "--port", str(port),
                            "--node-ip-address", "127.0.0.1", "--include-dashboard=false",
                            "--disable-usage-stats"], capture_output=True, text=True, timeout=180,
                           env=env)
    assert start.returncode == 0, start.stdout[-2000:] + start.stderr[-2000:]
    try:
        common = ["--only", "C4", "C6", "--threads", "1", "--fresh"]
        r = subprocess.run(RUN + common + ["--executor", "ray", "--address",
                                           f"127.0.0.1:{port}", "--out", str(tmp_path / "ray")],
                           capture_output=True, text=True, timeout=900, env=env)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        loc = subprocess.run(RUN + common + ["--out", str(tmp_path / "local")],
                             capture_output=True, text=True, timeout=900)
        assert loc.returncode == 0, loc.stderr[-2000:]
    finally:
        subprocess.run([ray_bin, "stop", "--force"], capture_output=True, timeout=120, env=env)
    a = json.loads((tmp_path / "ray" / "results.json").read_text())
    b = json.loads((tmp_path / "local" / "results.json").read_text())
    assert [c["id"] for c in a["claims"]] == ["C4", "C6"]
    assert _strip(a["claims"]) == _strip(b["claims"])
    assert a["runs"][-1]["executor"]["executor"] == "ray"


def test_ray_address_without_a_cluster_is_one_line(tmp_path):
    p = subprocess.run(RUN + ["--only", "C6", "--executor", "ray", "--address",
                              f"127.0.0.1:{_free_port()}", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr[-2000:]
    assert "The 'address' parameter of run" in p.stderr
