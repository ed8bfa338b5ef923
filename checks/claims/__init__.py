"""The registry of claim checks. A claim is one module ``cN_<name>.py`` in this package (or in a
folder named by the environment variable MTLCHECK_CLAIM_DIRS, several joined by os.pathsep)
that declares everything about it:

    ID             "C7"; the registry reads it from here, never from the file name
    STATEMENT_REF  the id of its statement in theory/claims.py (the registry renames it to ID)
    PROFILE        {"quick": {...}, "full": {...}}: the claim's parameters per profile
    decide(ctx)    -> ClaimResult: the decision
    pretrain_configs(profile_name) -> [dict]: its largest pretraining runs (memory check)
    CALIBRATIONS   (checks.regimes.Calibration, ...): its rules (the objects its decide() uses)
                   with the run's inputs, for `mtlcheck calibrate`
    REPORT         {"title", "tables": [(file, builder, caption)], "figures": [(file, builder,
                   other claim ids[, caption])], "extra_detail": key}: its section of the
                   report; builders are names in reports/tables.py and reports/figures.py (a
                   figure's caption defaults to figures.CAPTIONS); "extra_detail" names a key of
                   the record's details printed as "what is established"

The runner, the pytest suite, calibrate, report and mutants all go through :data:`CLAIMS`;
adding a claim is adding a file (docs/design.md section 1).
"""
from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from types import MappingProxyType
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


def _folders(extra_dirs: str) -> list[str]:
    """This package's folder and the extra ones, each checked to be a folder."""
    out = [os.path.dirname(os.path.abspath(__file__))]
    for folder in filter(None, extra_dirs.split(os.pathsep)):
        if not os.path.isdir(folder):
            raise ParameterError("MTLCHECK_CLAIM_DIRS", "claims", "a list of folders",
                                 Described(f"{folder!r}, which is not a folder"))
        out.append(os.path.abspath(folder))
    return out


def _modules(extra_dirs: str):
    """Import every cN_*.py of the folders as ``mtlcheck.checks.claims.<stem>``: the extra
    folders join this package's __path__, so their modules are imported by the ordinary
    machinery (relative imports resolve as for the built-in ones, and a Ray worker, which
    imports this package with the same environment, finds them by name). A file name that
    two folders share is refused: one would silently shadow the other."""
    seen: dict[str, str] = {}
    for folder in _folders(extra_dirs):
        for fname in sorted(os.listdir(folder)):
            stem = fname[:-3]
            if not (fname.endswith(".py") and _NAME.match(stem)):
                continue
            path = os.path.join(folder, fname)
            if stem in seen:
                raise MtlcheckError(f"claim files {seen[stem]} and {path} have the same name; "
                                    "rename one")
            seen[stem] = path
            if folder not in __path__:
                __path__.append(folder)
            mod = importlib.import_module(f"{__name__}.{stem}")
            if os.path.abspath(mod.__file__) != path:
                raise MtlcheckError(f"claim file {path} is shadowed by {mod.__file__} (already "
                                    f"imported as {mod.__name__}); rename it")
            yield mod


def discover(extra_dirs: str | None = None) -> MappingProxyType:
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
    return MappingProxyType(dict(sorted(found.items(), key=lambda kv: int(kv[0][1:]))))


@lru_cache(maxsize=None)
def _discovered(extra_dirs: str):
    return discover(extra_dirs)


def __getattr__(name):
    """CLAIMS (read-only) is discovered on first use, once per value of MTLCHECK_CLAIM_DIRS
    (importing this package alone stays cheap, e.g. for the CLI's help)."""
    if name == "CLAIMS":
        return _discovered(os.environ.get("MTLCHECK_CLAIM_DIRS", ""))
    raise AttributeError(name)


def ids() -> list[str]:
    """The IDs the claim modules declare, read from their source without importing them (for
    the CLI's help); the same as list(CLAIMS)."""
    out = []
    for folder in _folders(os.environ.get("MTLCHECK_CLAIM_DIRS", "")):
        for fname in sorted(os.listdir(folder)):
            if fname.endswith(".py") and _NAME.match(fname[:-3]):
                with open(os.path.join(folder, fname), encoding="utf-8") as f:
                    m = re.search(r"""^ID\s*=\s*["'](C\d+)["']""", f.read(), re.M)
                if m:
                    out.append(m.group(1))
    return sorted(set(out), key=lambda c: int(c[1:]))


def get(cid: str, param: str = "claim", where: str = "claims") -> ClaimCheck:
    """The registered check of claim ``cid``; an unknown id is a ParameterError."""
    claims = __getattr__("CLAIMS")
    if cid not in claims:
        raise ParameterError(param, where, "one of {" + ", ".join(map(repr, claims)) + "}", cid)
    return claims[cid]
