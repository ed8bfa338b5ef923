"""Shared fixtures of the unit tests.

``quick_run``: one `mtlcheck run --profile quick` per session, in a folder whose cache the
checks suite reuses when `pytest tests checks` runs both (pytest_configure points
--mtl-cache there unless it was given): the cells are computed once, by the same code
(the cache is keyed by a fingerprint of the source), and both the report tests and the
claims read them. Tests that change a run's folder work on a copy (``copy_run``).
"""
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

MT = [sys.executable, "-m", "mtlcheck"]
_SHARED = pytest.StashKey[str]()


def pytest_configure(config):
    folder = tempfile.mkdtemp(prefix="mtlcheck-tests-")
    config.stash[_SHARED] = folder
    if hasattr(config.option, "mtl_cache") and config.option.mtl_cache is None:
        config.option.mtl_cache = os.path.join(folder, "run", "cache")


def pytest_unconfigure(config):
    folder = config.stash.get(_SHARED, None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def quick_run(pytestconfig):
    """The folder of one quick run of all claims (results.json and its cache)."""
    out = os.path.join(pytestconfig.stash[_SHARED], "run")
    # threads pinned: tests compare later runs with this one byte for byte, and torch's
    # reductions round differently at another thread count (free_cores() varies with load)
    p = subprocess.run(MT + ["run", "--threads", "2", "--out", out], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return out


@pytest.fixture
def copy_run(quick_run, tmp_path):
    """A private copy of the quick run's folder."""
    dst = tmp_path / "run"
    shutil.copytree(quick_run, dst)
    return dst


# The fast inner loop, `python -m pytest tests -m "not slow"` (README, "Tests"): a test is slow
# when it needs the session's quick run (minutes), starts `mtlcheck` subcommands that pretrain,
# audit or calibrate, or a Ray cluster. Marked here from the fixtures and modules, so a new test
# that uses quick_run is slow without anyone remembering to mark it.
_SLOW_FIXTURES = {"quick_run", "copy_run"}
_SLOW_MODULES = {"test_audit", "test_mutants", "test_ray", "test_reliability", "test_reports",
                 "test_calibrate", "test_claim_registry", "test_packaging",
                 "test_bound_subchecks"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.nodeid.split("::")[0].rsplit("/", 1)[-1].removesuffix(".py")
        if _SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or module in _SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
