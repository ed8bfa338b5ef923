"""pytest plugin that applies one deliberate mutant before the checks run (testing the suite
itself; never loaded unless asked): ``pytest -p mtlcheck.qa.mutant_plugin --mtl-mutant NAME``.
The mutant is undone when pytest unconfigures."""
from __future__ import annotations

import pytest

_UNDO = pytest.StashKey[object]()


def pytest_addoption(parser):
    parser.getgroup("mtlcheck").addoption("--mtl-mutant", default=None,
                                          help="apply this deliberate mutant (mtlcheck mutants --list)")


def pytest_configure(config):
    name = config.getoption("--mtl-mutant")
    if name:
        from ..theory.params import ParameterError
        from .mutants import apply
        try:
            config.stash[_UNDO] = apply(name)
        except ParameterError as e:
            raise pytest.UsageError(str(e)) from None


def pytest_unconfigure(config):
    undo = config.stash.get(_UNDO, None)
    if undo:
        undo()


def pytest_report_header(config):
    name = config.getoption("--mtl-mutant")
    return [f"mtlcheck MUTANT applied: {name}"] if name else []
