"""The registry of claim checks. A claim is one module ``cN_<name>.py`` in this package (or in a
folder named by the environment variable MTLCHECK_CLAIM_DIRS, several joined by os.pathsep)
that declares everything about it:

    ID             "C7"; the registry reads it from here, never from the file name
    STATEMENT_REF  the id of its statement in theory/claims.py (the registry renames it to ID)
    PROFILE        {"quick": {...}, "full": {...}}: the claim's parameters per profile
    decide(ctx)    -> ClaimResult: the decision
    pretrain_configs(profile_name) -> [dict]: its largest pretraining runs (memory check)
    CALIBRATIONS   (checks.regimes.Calibration, ...): its rules, for `mtlcheck calibrate`
    POWER          optional (name, build): its power at a design, for `mtlcheck calibrate`
    REPORT         {"title", "tables": [(file, builder, caption)], "figures": [(file, builder,
                   other claim ids)]}: its section of the report; builders are names in
                   reports/tables.py and reports/figures.py

The runner, the pytest suite, calibrate, report and mutants all go through :data:`CLAIMS`;
adding a claim is adding a file (docs/design.md section 1).
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import re
import sys
from dataclasses import dataclass, replace
from typing import Callable

from ...theory.claims import Claim, claim as _statement
from ...theory.params import Described, MtlcheckError, ParameterError

__all__ = ["ClaimCheck", "CLAIMS", "get", "ids", "discover"]

_NAME = re.compile(r"^c\d+_\w+$")
_ID = re.compile(r"^C[1-9]\d*$")
_REQUIRED = ("ID", "STATEMENT_REF", "PROFILE", "decide", "pretrain_configs")


@dataclass(frozen=True)
class ClaimCheck:
    """A claim's statement (theory.claims, under the module's ID) bound to the module that
    decides it."""

    id: str
    module: object
    decide: Callable

    @property
    def statement(self) -> Claim:
        return replace(_statement(self.module.STATEMENT_REF), id=self.id)

    @property
    def calibrations(self) -> tuple:
        return tuple(getattr(self.module, "CALIBRATIONS", ()))

    @property
    def report(self) -> dict:
        return getattr(self.module, "REPORT", {"title": f"{self.id}: {self.statement.title}",
                                               "tables": [], "figures": []})


def _load_file(path: str):
    """Import a claim module from a folder outside the package, as a submodule of this package
    (so that its relative imports resolve as they do for the built-in ones)."""
    stem = os.path.splitext(os.path.basename(path))[0]
    name = f"{__name__}.{stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _modules(extra_dirs: str):
    here = os.path.dirname(__file__)
    for info in sorted(pkgutil.iter_modules([here]), key=lambda i: i.name):
        if _NAME.match(info.name):
            yield importlib.import_module(f"{__name__}.{info.name}")
    for folder in filter(None, extra_dirs.split(os.pathsep)):
        if not os.path.isdir(folder):
            raise ParameterError("MTLCHECK_CLAIM_DIRS", "claims", "a list of folders",
                                 Described(f"{folder!r}, which is not a folder"))
        for fname in sorted(os.listdir(folder)):
            if fname.endswith(".py") and _NAME.match(fname[:-3]):
                yield _load_file(os.path.join(folder, fname))


def discover(extra_dirs: str | None = None) -> dict[str, ClaimCheck]:
    """Every claim module, by the ID it declares, in the order C1, C2, ..., C10, ..."""
    extra = os.environ.get("MTLCHECK_CLAIM_DIRS", "") if extra_dirs is None else extra_dirs
    found: dict[str, ClaimCheck] = {}
    for mod in _modules(extra):
        missing = [a for a in _REQUIRED if not hasattr(mod, a)]
        cid = getattr(mod, "ID", None)
        if missing or not isinstance(cid, str) or not _ID.match(cid):
            raise MtlcheckError(f"claim module {mod.__name__} must declare {', '.join(_REQUIRED)}"
                                f" with ID like 'C7'; it lacks {', '.join(missing) or 'a valid ID'}")
        if cid in found:
            raise MtlcheckError(f"claim modules {found[cid].module.__name__} and {mod.__name__} "
                                f"both declare ID {cid!r}")
        found[cid] = ClaimCheck(cid, mod, mod.decide)
    return dict(sorted(found.items(), key=lambda kv: int(kv[0][1:])))


_registry: dict[str, ClaimCheck] = {}


def __getattr__(name):
    """CLAIMS is discovered on first use (importing this package alone stays cheap, e.g. for
    the CLI's help)."""
    if name == "CLAIMS":
        if not _registry:
            _registry.update(discover())
        return _registry
    raise AttributeError(name)


def ids() -> list[str]:
    """The IDs the claim modules declare, read from their source without importing them (for
    the CLI's help); the same as list(CLAIMS)."""
    folders = [os.path.dirname(__file__)] + list(
        filter(None, os.environ.get("MTLCHECK_CLAIM_DIRS", "").split(os.pathsep)))
    out = []
    for folder in folders:
        for fname in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if fname.endswith(".py") and _NAME.match(fname[:-3]):
                with open(os.path.join(folder, fname), encoding="utf-8") as f:
                    m = re.search(r'^ID = "(C\d+)"', f.read(), re.M)
                if m:
                    out.append(m.group(1))
    return sorted(set(out), key=lambda c: int(c[1:]))


def get(cid: str, param: str = "claim", where: str = "claims") -> ClaimCheck:
    """The registered check of claim ``cid``; an unknown id is a ParameterError."""
    claims = __getattr__("CLAIMS")
    if cid not in claims:
        raise ParameterError(param, where, "one of {" + ", ".join(map(repr, claims)) + "}", cid)
    return claims[cid]
