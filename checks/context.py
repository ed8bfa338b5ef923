"""The context of a run that every claim's decision receives: profile, seed, device, the cache
of finished cells, the executor that computes missing ones, and progress output; and the
derived seed of a cell."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from ..theory.params import validate
from .cache import Cache
from .executor import Cell, LocalExecutor
from .progress import Reporter, silent, work_of

__all__ = ["Context", "derive_seed"]


def _memo_key(c: Cell) -> str:
    return c.group + json.dumps(c.key, sort_keys=True, default=str)


def derive_seed(base: int, *parts) -> int:
    """A reproducible 63-bit seed for one cell: sha256 of the base seed and the cell's labels."""
    h = hashlib.sha256(json.dumps([base, *parts], sort_keys=True, default=str).encode())
    return int(h.hexdigest()[:15], 16)


@dataclass
class Context:
    """Profile, seed, device and the services a check needs: the cache of finished cells, the
    executor that computes missing ones, and progress output (a callable Reporter)."""

    profile: str = "quick"
    seed: int = 0
    device: str = "auto"
    cache: Cache = field(default_factory=lambda: Cache(None))
    progress: Reporter = field(default_factory=silent)
    executor: Any = field(default_factory=LocalExecutor)
    fresh: bool = False          # recompute every requested cell (and overwrite the cache)
    #: cells already read or computed in this run (a claim decided in rounds asks for its
    #: earlier replicates again; with ``fresh`` they are not recomputed): reused, not hits
    memo: dict = field(default_factory=dict)
    #: overrides the cap of every claim decided in rounds (`mtlcheck run --max-replicates`)
    max_replicates: int | None = None
    #: a sweep whose readers were all decided in an earlier round stops growing
    #: (sequential.sweep_count); False computes every sweep to the round's count
    settle: bool = True
    reused: int = 0

    def __post_init__(self):
        v = validate("the checks suite", profile=self.profile, seed=self.seed, device=self.device)
        self.profile, self.seed, self.device = v["profile"], v["seed"], v["device"]
        if not isinstance(self.progress, Reporter):       # a plain callable: wrap it
            self.progress = Reporter(write=self.progress, tty=False, prefix="")

    def run(self, label: str, cells: list[Cell]) -> list:
        """The values of ``cells``, in order: cached ones read from the cache, the others
        computed by the executor (in any order) and stored as they arrive. With ``fresh`` every
        cell is computed again and overwrites its cache file (nothing is deleted first, so an
        interrupted fresh run loses nothing)."""
        values: list = [None] * len(cells)
        todo, memo_hits = [], 0
        for i, c in enumerate(cells):
            v = self.memo.get(_memo_key(c))
            memo_hits += v is not None
            if v is None and not self.fresh:
                v = self.cache.get(c.group, c.key)
                if v is not None:
                    self.cache.hits += 1
                    self.memo[_memo_key(c)] = v
            if v is None:
                todo.append(i)
            else:
                values[i] = v
        self.reused += memo_hits
        self.cache.misses += len(todo)
        work = {i: cells[i].work if cells[i].work is not None else work_of(cells[i].key)
                for i in todo}
        sweep = self.progress.sweep(label, len(todo), len(cells) - len(todo),
                                    sum(work.values()))
        try:
            for j, v in self.executor.imap([cells[i] for i in todo]):
                c = cells[todo[j]]
                self.cache.put(c.group, c.key, v)
                self.memo[_memo_key(c)] = v
                values[todo[j]] = v
                sweep.advance(work=work[todo[j]])
        finally:
            sweep.close()
        return values

    def reproduce(self, cid: str) -> str:
        """The command that reproduces one claim's decision."""
        return (f"mtlcheck run --only {cid} --profile {self.profile} --seed {self.seed} "
                f"--device {self.device}")
