"""Where sweep cells run: in this process (local, the default) or as Ray tasks.

A sweep cell is a pure function of its arguments (a top-level function, so that Ray can ship
it by reference): the same cell gives the same value on any worker. Only the driver reads and
writes the cache (checks/context.py: Context.run), so a killed run resumes the same way with
either executor, and the results are identical whichever executor ran them.

Thread discipline: torch's intra-op threads spin while they wait; two processes that each use
all cores oversubscribe them and can run 10x slower than one. The local executor runs cells
one at a time with ``threads`` intra-op threads (default: the cores that are free now, see
:func:`free_cores`); each Ray task declares ``num_cpus`` and uses that many threads, so N
workers on N cores share them instead of fighting over them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Iterator

from ..theory.params import Described, ParameterError

__all__ = ["Cell", "free_cores", "set_threads", "LocalExecutor", "RayExecutor", "make_executor"]


@dataclass(frozen=True)
class Cell:
    """One unit of a sweep: ``fn(*args)`` cached under ``key`` in folder ``group``. ``work``:
    its expected cost for the progress ETA, up to a constant shared by the sweep, where the
    pretraining formula of ``progress.work_of`` (read off the key) does not fit the cell."""

    group: str
    key: dict = field(hash=False)
    fn: Callable = field(hash=False)
    args: tuple = ()
    work: float | None = field(default=None, hash=False, compare=False)


def _cpu_times() -> dict[int, tuple[int, int]]:
    """(busy, total) jiffies per CPU from /proc/stat."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                name, *vals = line.split()
                v = [int(x) for x in vals]
                idle = v[3] + (v[4] if len(v) > 4 else 0)          # idle + iowait
                out[int(name[3:])] = (sum(v) - idle, sum(v))
    return out


def free_cores(window_s: float = 0.3) -> int:
    """The cores of this process's affinity mask that are free now: their idle fraction over a
    short window (/proc/stat) times their number, rounded, at least 1. Where /proc/stat is not
    readable, the affinity count minus the 1-minute load average."""
    import time
    try:
        cpus = os.sched_getaffinity(0)
    except (AttributeError, OSError):
        cpus = set(range(os.cpu_count() or 1))
    try:
        a = _cpu_times()
        time.sleep(window_s)
        b = _cpu_times()
        busy = sum(b[c][0] - a[c][0] for c in cpus if c in a and c in b)
        total = sum(b[c][1] - a[c][1] for c in cpus if c in a and c in b)
        if total <= 0:
            raise ValueError
        free = len(cpus) * (1 - busy / total)
    except (OSError, ValueError, KeyError, IndexError):
        try:
            free = len(cpus) - os.getloadavg()[0]
        except (AttributeError, OSError):
            free = len(cpus)
    return max(1, min(len(cpus), int(round(free))))


def set_threads(n: int) -> int:
    """Set the intra-op threads of torch and of the BLAS pools that numpy and scipy use
    (threadpoolctl), for the rest of the process."""
    import torch
    from threadpoolctl import threadpool_limits
    torch.set_num_threads(int(n))
    threadpool_limits(limits=int(n))
    return torch.get_num_threads()


def _call(fn, args, threads: int | None = None):
    if threads:
        set_threads(threads)
    return fn(*args)


class LocalExecutor:
    """Cells one after the other in this process (no Ray import)."""

    name = "local"

    def __init__(self, threads: int | None = None):
        self.threads = threads

    def imap(self, cells: list[Cell]) -> Iterator[tuple[int, object]]:
        for i, c in enumerate(cells):
            yield i, c.fn(*c.args)

    def close(self) -> None:
        pass

    def describe(self) -> dict:
        return {"executor": "local", "threads": self.threads}


class RayExecutor:
    """Each cell a Ray task (num_cpus CPUs and, for CUDA, one GPU); results come back to the
    driver in completion order. ``address`` None starts a local Ray instance; 'auto' or
    HOST:PORT joins an existing cluster (`ray start --head`)."""

    name = "ray"

    def __init__(self, address: str | None = None, cpus_per_task: int = 1, gpus_per_task: int = 0,
                 where: str = "run"):
        try:
            import ray
        except ImportError:
            raise ParameterError("executor", where, "'local' (Ray is not installed: "
                                 "pip install -e \".[ray]\")", "ray") from None
        self.ray = ray
        self.address = address
        self.cpus = cpus_per_task
        self.gpus = gpus_per_task
        if address and address != "auto":
            _reachable(address, where)          # fail in a second, not after Ray's retries
        try:
            if not ray.is_initialized():
                ray.init(address=address, include_dashboard=False, log_to_driver=False,
                         configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise ParameterError("address", where, "the address of a running Ray cluster "
                                 "(ray start --head prints it)",
                                 Described(f"{address!r} ({str(e).splitlines()[0][:160]})")) from None
        self._task = ray.remote(_call)

    def imap(self, cells: list[Cell]) -> Iterator[tuple[int, object]]:
        ray = self.ray
        opts = {"num_cpus": self.cpus, "num_gpus": self.gpus, "max_retries": 0}
        refs = {self._task.options(**opts).remote(c.fn, c.args, self.cpus): i
                for i, c in enumerate(cells)}
        try:
            while refs:
                done, _ = ray.wait(list(refs), num_returns=1)
                i = refs.pop(done[0])
                yield i, ray.get(done[0])
        finally:
            for ref in refs:                      # interrupted: do not leave work running
                ray.cancel(ref, force=True)

    def close(self) -> None:
        pass

    def describe(self) -> dict:
        res = self.ray.cluster_resources()
        return {"executor": "ray", "address": self.address, "cpus_per_task": self.cpus,
                "gpus_per_task": self.gpus, "cluster_cpus": res.get("CPU"),
                "cluster_gpus": res.get("GPU", 0)}


def _reachable(address: str, where: str) -> None:
    """A HOST:PORT that accepts a TCP connection within 5 s, else a one-line ParameterError."""
    import socket
    host, _, port = address.rpartition(":")
    what = "the HOST:PORT of a running Ray cluster (ray start --head prints it)"
    if not host or not port.isdigit():
        raise ParameterError("address", where, what, address)
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        raise ParameterError("address", where, what, Described(
            f"{address!r} (no answer: {e.strerror or e.__class__.__name__})")) from None


def make_executor(name: str, address: str | None = None, threads: int | None = None,
                  cuda: bool = False, where: str = "run"):
    """'local' (default, no Ray import) or 'ray'."""
    if name == "local":
        if address:
            raise ParameterError("address", where, "given only with --executor ray",
                                 Described(repr(address)))
        return LocalExecutor(threads)
    if name == "ray":
        return RayExecutor(address, cpus_per_task=threads or 1, gpus_per_task=1 if cuda else 0,
                           where=where)
    raise ParameterError("executor", where, "one of {'local', 'ray'}", name)
