"""One way to open and close a run of the claims, shared by `mtlcheck run` (mtlcheck/runner.py)
and the pytest plugin (checks/plugin.py): the device, the executor and its threads, the cache
salted with the code fingerprint and the device, the run's Context; and, at the end, the run's
record in results.json's history with the decided claims merged in (checks/results.py)."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ..sim.device import resolve_device
from .cache import Cache, code_fingerprint
from .context import Context
from .record import versions
from .executor import make_executor, set_threads
from .progress import Reporter
from .results import new_run, now, write_merged

__all__ = ["OpenRun", "open_run", "close_run"]


@dataclass
class OpenRun:
    ctx: Context
    device: torch.device
    run: dict                 # the record of this run in results.json's history


def open_run(*, profile: str, seed: int, device: str, executor: str, address, threads,
             driver_threads, cache_dir, argv: list[str], progress: Reporter, fresh: bool = False,
             where: str = "run", max_replicates: int | None = None, **run_extra) -> OpenRun:
    """Resolve the device (a missing GPU is reported here, before any work), make the executor
    (``threads``: the explicit --threads or None, which it shares among its tasks), set the
    driver's torch threads to ``driver_threads`` (None leaves torch's setting), and build the
    cache and the Context. ``run_extra`` goes into the run's record."""
    dev = resolve_device(device, where)
    ex = make_executor(executor, address, threads, cuda=dev.type == "cuda", where=where)
    if driver_threads is not None:
        set_threads(driver_threads)
    cache = Cache(cache_dir, salt={"code": code_fingerprint(), "device": dev.type})
    ctx = Context(profile=profile, seed=seed, device=device, cache=cache, progress=progress,
                  executor=ex, fresh=fresh, max_replicates=max_replicates)
    run = new_run(argv, profile, seed, device, **run_extra)
    return OpenRun(ctx, dev, run)


def close_run(opened: OpenRun, records: dict, results_path: str | None, status: str,
              wall_s: float, **update) -> None:
    """Fill in the run's record (status, claims, cache counts, wall time) and merge ``records``
    into ``results_path`` (atomically; nothing is written without a path, or when there is
    neither a record nor an earlier file whose history the run should enter)."""
    ctx = opened.ctx
    opened.run.update(status=status, claims=sorted(records), finished=now(), wall_s=wall_s,
                      **update, cache={"folder": ctx.cache.root, "hits": ctx.cache.hits,
                                       "misses": ctx.cache.misses})
    if results_path and (records or os.path.exists(results_path)):
        os.makedirs(os.path.dirname(os.path.abspath(results_path)), exist_ok=True)
        write_merged(results_path, records, opened.run, versions())
