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
    p = subprocess.run(MT + ["run", "--out", out], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return out


@pytest.fixture
def copy_run(quick_run, tmp_path):
    """A private copy of the quick run's folder."""
    dst = tmp_path / "run"
    shutil.copytree(quick_run, dst)
    return dst
