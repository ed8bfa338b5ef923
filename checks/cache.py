"""The cache of finished sweep cells: one JSON file a cell, keyed by the cell's parameters and a
salt (the code fingerprint and the device), written atomically (checks/io.py), so an
interrupted run resumes without recomputing, and a cell computed by other code is never reused."""
from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Callable

from .io import atomic_write_json

__all__ = ["Cache", "code_fingerprint"]


def code_fingerprint() -> str:
    """sha256 of the package's source (theory, sim, checks and its claims, mtlcheck): a cached
    cell computed by other code is never reused."""
    import mtlcheck
    h = hashlib.sha256(mtlcheck.__version__.encode())
    folders = []
    for pkg in ("mtlcheck", "mtlcheck.theory", "mtlcheck.sim", "mtlcheck.checks",
                "mtlcheck.checks.claims"):
        mod = __import__(pkg, fromlist=["__file__"])
        folders.append((pkg, os.path.dirname(os.path.abspath(mod.__file__))))
    # claim modules from MTLCHECK_CLAIM_DIRS (checks/claims/__init__.py) count as claims' code
    folders += [("mtlcheck.checks.claims", f)
                for f in filter(None, os.environ.get("MTLCHECK_CLAIM_DIRS", "").split(os.pathsep))]
    for pkg, folder in folders:
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py"):
                with open(os.path.join(folder, name), "rb") as f:
                    h.update(pkg.encode() + name.encode() + f.read())
    return h.hexdigest()[:16]


class Cache:
    """Finished sweep cells as JSON files, keyed by a hash of the cell's parameters and a salt
    (the code fingerprint and the resolved device), so that cells computed by other code or on
    another device are never mixed in.

    Writes are atomic (checks/io.py): a run killed at any moment leaves either no file or a
    complete one. A file that does not parse is treated as missing.
    """

    def __init__(self, root: str | None, salt: dict | None = None):
        self.root = root
        self.salt = salt or {}
        self.hits = 0
        self.misses = 0

    def _full(self, key: dict) -> dict:
        return {**key, "_salt": self.salt} if self.salt else key

    def _path(self, group: str, key: dict) -> str:
        key = self._full(key)
        h = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:24]
        return os.path.join(self.root, group, f"{h}.json")

    def get(self, group: str, key: dict):
        if not self.root:
            return None
        path = self._path(group, key)
        try:
            with open(path) as f:
                rec = json.load(f)
        except (OSError, ValueError):
            return None
        if rec.get("key") != json.loads(json.dumps(self._full(key), default=str)):
            return None
        return rec["value"]

    def put(self, group: str, key: dict, value) -> None:
        if not self.root:
            return
        atomic_write_json(self._path(group, key), {"key": self._full(key), "value": value},
                          strict=False)

    def cell(self, group: str, key: dict, compute: Callable[[], Any]):
        """The cached value of a cell, computing (and storing) it when missing."""
        value = self.get(group, key)
        if value is not None:
            self.hits += 1
            return value
        self.misses += 1
        value = compute()
        self.put(group, key, value)
        return value
