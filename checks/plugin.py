"""The mtlcheck pytest plugin (one module; registered through the pytest11 entry point).

- options: --mtl-profile quick|full, --mtl-seed N, --mtl-device auto|cpu|cuda,
  --mtl-results FILE (merge the decided claims into this results.json), --mtl-cache DIR (resume
  finished sweep cells), --mtl-executor local|ray, --mtl-address HOST:PORT, --mtl-threads N;
- markers claim_c1 .. claim_c6;
- a report header with device, seed and versions;
- fixtures ``mtl_ctx`` (the run context) and ``record_claim``;
- progress lines on the terminal while a claim runs (pytest's capture is suspended for them);
- a terminal summary table of the claims.
State lives in ``config.stash``, not in module globals. Deliberate mutants (testing the suite
itself) are a separate plugin, loaded only when asked: ``-p mtlcheck.qa.mutant_plugin``.
"""
from __future__ import annotations

import platform
import sys
import time

import pytest

from ..theory.params import ParameterError, validate
from .claims import CLAIMS

_RECORDS = pytest.StashKey[dict]()
_RUN = pytest.StashKey[dict]()
_CTX = pytest.StashKey[object]()


def pytest_addoption(parser):
    g = parser.getgroup("mtlcheck", "mtlcheck theorem-consistency suite")
    g.addoption("--mtl-profile", default="quick", help="quick | full (default quick)")
    g.addoption("--mtl-seed", default="0", help="base seed of the suite (default 0)")
    g.addoption("--mtl-device", default="auto", help="auto | cpu | cuda (default auto)")
    g.addoption("--mtl-results", default=None, help="merge the claims into this results.json")
    g.addoption("--mtl-cache", default=None, help="cache finished sweep cells in this folder")
    g.addoption("--mtl-executor", default="local", help="local | ray (default local)")
    g.addoption("--mtl-address", default=None, help="Ray cluster address (with --mtl-executor ray)")
    g.addoption("--mtl-threads", default=None,
                help="torch intra-op threads (default: leave torch's setting)")


def _int_or_raw(raw):
    try:
        return int(raw)
    except (TypeError, ValueError):
        return raw  # validated (and reported) below


def _options(config) -> dict:
    threads = config.getoption("--mtl-threads")
    v = validate("pytest --mtl-* options", profile=config.getoption("--mtl-profile"),
                 seed=_int_or_raw(config.getoption("--mtl-seed")),
                 device=config.getoption("--mtl-device"),
                 executor=config.getoption("--mtl-executor"),
                 **({"threads": _int_or_raw(threads)} if threads is not None else {}))
    return v


def pytest_configure(config):
    for cid in CLAIMS:
        config.addinivalue_line("markers", f"claim_{cid.lower()}: decides claim {cid}")
    try:
        opts = _options(config)
    except ParameterError as e:
        raise pytest.UsageError(str(e)) from None
    config.stash[_RECORDS] = {}
    config.stash[_RUN] = {"t0": time.time(), "options": opts}


def pytest_report_header(config):
    import torch

    import mtlcheck
    dev = config.getoption("--mtl-device")
    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return [f"mtlcheck {mtlcheck.__version__}: profile={config.getoption('--mtl-profile')} "
            f"seed={config.getoption('--mtl-seed')} device={dev} (cuda: {cuda}) "
            f"python={platform.python_version()} torch={torch.__version__}"]


def _terminal_writer(config):
    """Lines that reach the terminal while a test runs: pytest's capture is suspended."""
    tr = config.pluginmanager.get_plugin("terminalreporter")
    capman = config.pluginmanager.get_plugin("capturemanager")

    def write(line: str) -> None:
        if tr is None or config.getoption("verbose") < 0:
            return
        if capman is not None:
            with capman.global_and_fixture_disabled():
                tr.write_line(line)
        else:
            tr.write_line(line)

    return write


@pytest.fixture(scope="session")
def mtl_ctx(request):
    """The run context: profile, seed, device, cache, executor, progress on the terminal
    (opened as `mtlcheck run` opens its run: checks/session.py)."""
    from .progress import Reporter
    from .session import open_run

    config = request.config
    opts = config.stash[_RUN]["options"]
    opened = open_run(profile=opts["profile"], seed=opts["seed"], device=opts["device"],
                      executor=opts["executor"], address=config.getoption("--mtl-address"),
                      threads=opts.get("threads"), driver_threads=opts.get("threads"),
                      cache_dir=config.getoption("--mtl-cache"),
                      argv=["pytest", *sys.argv[1:]],
                      progress=Reporter(write=_terminal_writer(config), tty=False),
                      where="pytest --mtl-* options")
    opened.run["executor"] = opts["executor"]
    config.stash[_CTX] = opened
    return opened.ctx


@pytest.fixture
def record_claim(request):
    """Store a ClaimResult's record for the summary table and results.json; returns it."""
    def record(result):
        request.config.stash[_RECORDS][result.id] = result.record()
        return result
    return record


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    records = config.stash.get(_RECORDS, {})
    if not records:
        return
    from .claims_table import claims_table
    terminalreporter.write_sep("=", "mtlcheck claims")
    terminalreporter.write_line(claims_table([records[c] for c in sorted(records)]))
    path = config.getoption("--mtl-results")
    if path:
        terminalreporter.write_line(f"results merged into {path}")


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    path = config.getoption("--mtl-results")
    records = config.stash.get(_RECORDS, {})
    opened = config.stash.get(_CTX, None)
    if not path or not records or opened is None:
        return
    from .session import close_run
    interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
    close_run(opened, records, path, "interrupted" if interrupted else "complete",
              time.time() - config.stash[_RUN]["t0"], exit_status=int(exitstatus))
