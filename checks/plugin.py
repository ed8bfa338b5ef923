"""The mtlcheck pytest plugin (one module; registered through the pytest11 entry point).

- options: --mtl-profile quick|full, --mtl-seed N, --mtl-device auto|cpu|cuda,
  --mtl-results FILE (write results.json), --mtl-cache DIR (resume finished sweep cells),
  --mtl-mutant NAME (apply a deliberate mutant: mtlcheck.mutants);
- markers claim_c1 .. claim_c6;
- a report header with device, seed and versions;
- fixtures ``mtl_ctx`` (the run context) and ``record_claim``;
- a terminal summary table of the claims (id, statistic, bound, margin, verdict).
Failure messages end with the command that reproduces the decision.
"""
from __future__ import annotations

import json
import os
import platform
import time

import pytest

_RECORDS: dict = {}
_STATE: dict = {}


def pytest_addoption(parser):
    g = parser.getgroup("mtlcheck", "mtlcheck theorem-consistency suite")
    g.addoption("--mtl-profile", default="quick", help="quick | full (default quick)")
    g.addoption("--mtl-seed", default="0", help="base seed of the suite (default 0)")
    g.addoption("--mtl-device", default="auto", help="auto | cpu | cuda (default auto)")
    g.addoption("--mtl-results", default=None, help="write the claims to this results.json")
    g.addoption("--mtl-cache", default=None, help="cache finished sweep cells in this folder")
    g.addoption("--mtl-mutant", default=None, help="apply this deliberate mutant (testing only)")


def _seed(config) -> int:
    raw = config.getoption("--mtl-seed")
    try:
        return int(raw)
    except (TypeError, ValueError):
        return raw  # validated (and reported) by Context


def pytest_configure(config):
    for cid in ("C1", "C2", "C3", "C4", "C5", "C6"):
        config.addinivalue_line("markers", f"claim_{cid.lower()}: decides claim {cid}")
    from ..theory.params import ParameterError, validate
    try:
        validate("pytest --mtl-* options", profile=config.getoption("--mtl-profile"),
                 seed=_seed(config), device=config.getoption("--mtl-device"))
    except ParameterError as e:
        raise pytest.UsageError(str(e)) from None
    _RECORDS.clear()
    _STATE.clear()
    _STATE["t0"] = time.time()
    mutant = config.getoption("--mtl-mutant")
    if mutant:
        from ..mutants import apply
        _STATE["undo"] = apply(mutant)


def pytest_unconfigure(config):
    undo = _STATE.pop("undo", None)
    if undo:
        undo()


def pytest_report_header(config):
    import torch

    import mtlcheck
    dev = config.getoption("--mtl-device")
    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    line = (f"mtlcheck {mtlcheck.__version__}: profile={config.getoption('--mtl-profile')} "
            f"seed={config.getoption('--mtl-seed')} device={dev} (cuda: {cuda}) "
            f"python={platform.python_version()} torch={torch.__version__}")
    mutant = config.getoption("--mtl-mutant")
    return [line] + ([f"mtlcheck MUTANT applied: {mutant}"] if mutant else [])


@pytest.fixture(scope="session")
def mtl_ctx(request):
    """The run context: profile, seed, device, cache, progress lines on the terminal."""
    from .common import Cache, Context

    config = request.config
    tr = config.pluginmanager.get_plugin("terminalreporter")

    def progress(msg: str) -> None:
        if tr is not None and config.getoption("verbose") >= 0:
            tr.write_line(f"  [mtlcheck] {msg}")

    from ..sim.device import resolve_device
    from .common import code_fingerprint
    device = config.getoption("--mtl-device")
    cache = Cache(config.getoption("--mtl-cache"),
                  salt={"code": code_fingerprint(), "device": resolve_device(device, "checks").type})
    _STATE["cache"] = cache
    return Context(profile=config.getoption("--mtl-profile"), seed=_seed(config),
                   device=config.getoption("--mtl-device"), cache=cache, progress=progress)


@pytest.fixture
def record_claim():
    """Store a ClaimResult's record for the summary table and results.json."""
    def record(result):
        _RECORDS[result.id] = result.record()
    return record


def _fmt(x):
    if x is None:
        return "inf"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _RECORDS:
        return
    from tabulate import tabulate
    rows = []
    for cid in sorted(_RECORDS):
        r = _RECORDS[cid]
        cb = r["confidence_bound"]
        rows.append([cid, r["title"], r["statistic"]["name"], _fmt(r["statistic"]["value"]),
                     f"{'<=' if cb['side'] == 'upper' else '>='} {_fmt(r['bound'])}",
                     _fmt(cb["value"]), _fmt(r["margin"]), r["verdict"],
                     r["negative_control"]["verdict"]])
    terminalreporter.write_sep("=", "mtlcheck claims")
    terminalreporter.write_line(tabulate(rows, headers=[
        "id", "claim", "statistic", "value", "bound", "conf. bound", "margin", "verdict",
        "negative control"]))
    path = config.getoption("--mtl-results")
    if path:
        terminalreporter.write_line(f"results written to {path}")


def pytest_sessionfinish(session, exitstatus):
    path = session.config.getoption("--mtl-results")
    if not path:
        return
    from .common import versions
    cache = _STATE.get("cache")
    out = {"claims": [_RECORDS[c] for c in sorted(_RECORDS)],
           "cache": {"folder": session.config.getoption("--mtl-cache"),
                     "hits": cache.hits if cache else 0, "misses": cache.misses if cache else 0},
           "profile": session.config.getoption("--mtl-profile"),
           "seed": _seed(session.config), "device": session.config.getoption("--mtl-device"),
           "mutant": session.config.getoption("--mtl-mutant"),
           "versions": versions(), "wall_s": time.time() - _STATE.get("t0", time.time()),
           "pytest_exit_status": int(exitstatus)}
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
