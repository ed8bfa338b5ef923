"""The mtlcheck pytest plugin (one module; registered through the pytest11 entry point).

Options --mtl-profile, --mtl-seed, --mtl-device; claim markers; a report header with device,
seed and versions.
"""
from __future__ import annotations

import platform

import pytest


def pytest_addoption(parser):
    g = parser.getgroup("mtlcheck", "mtlcheck theorem-consistency suite")
    g.addoption("--mtl-profile", default="quick", help="quick | full (default quick)")
    g.addoption("--mtl-seed", default="0", help="base seed of the suite (default 0)")
    g.addoption("--mtl-device", default="auto", help="auto | cpu | cuda (default auto)")


def pytest_configure(config):
    for cid in ("C1", "C2", "C3", "C4", "C5", "C6"):
        config.addinivalue_line("markers", f"claim_{cid.lower()}: decides claim {cid}")


def pytest_report_header(config):
    import mtlcheck
    return [f"mtlcheck {mtlcheck.__version__}: profile={config.getoption('--mtl-profile')} "
            f"seed={config.getoption('--mtl-seed')} device={config.getoption('--mtl-device')} "
            f"python={platform.python_version()}"]
