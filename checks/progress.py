"""Progress of a run: one line per event, and a bar with an ETA per sweep.

On a terminal (stderr is a TTY) a sweep shows a tqdm bar with its ETA; elsewhere (CI logs,
pytest, pipes) it prints plain lines, at most one every ``every_s`` seconds per sweep plus the
last one, so logs stay readable. The ETA weighs cells by their expected work (:func:`work_of`:
the cells of one sweep differ in size by orders of magnitude, so counting cells misleads: 44 of
60 pretraining cells can be done in 10 s while the last 16 take 40 s more). ``write`` is where lines go (stderr by default; the pytest
plugin passes its terminal writer, with capture suspended, so the lines are never swallowed).
"""
from __future__ import annotations

import sys
import time
from typing import Callable

__all__ = ["Reporter", "format_seconds", "work_of"]


def work_of(key: dict) -> float:
    """The expected work of a cell from its cache key, up to a constant: d x m x T x (n1 + n2)
    (the flops of a pretraining step; missing fields count 1). Cells of one sweep share a
    formula, so the ratio of their works is what the ETA needs."""
    def f(name, default=1.0):
        v = key.get(name)
        return float(v) if isinstance(v, (int, float)) and v > 0 else default
    n = f("n1", 0.0) + f("n2", 0.0) or 2 * f("n")
    return f("d") * f("m", f("m_pre")) * f("T") * n


def format_seconds(s: float) -> str:
    s = max(0.0, float(s))
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


class _Sweep:
    def __init__(self, rep: "Reporter", label: str, total: int, cached: int,
                 total_work: float | None = None):
        self.rep, self.label, self.total, self.cached = rep, label, total, cached
        self.total_work = float(total) if total_work is None else float(total_work)
        self.done = 0
        self.done_work = 0.0
        self.t0 = time.perf_counter()
        self.last = self.t0
        self.bar = None
        if rep.tty and total > 0:
            try:
                from tqdm import tqdm
                self.bar = tqdm(total=total, desc=f"[mtlcheck] {label}", file=sys.stderr,
                                unit="cell", leave=False, dynamic_ncols=True)
            except ImportError:                      # tqdm is a dependency; be robust anyway
                self.bar = None
        if total > 0 and self.bar is None:
            rep.message(f"{label}: {total} cells to compute"
                        + (f", {cached} cached" if cached else ""))

    def advance(self, n: int = 1, work: float | None = None) -> None:
        self.done += n
        self.done_work += n if work is None else work
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.perf_counter()
        if self.done >= self.total or now - self.last >= self.rep.every_s:
            self.last = now
            rate = (now - self.t0) / max(self.done_work, 1e-300)
            eta = rate * max(0.0, self.total_work - self.done_work)
            self.rep.message(f"{self.label}: {self.done}/{self.total} cells, "
                             f"{format_seconds(now - self.t0)} elapsed"
                             + (f", ETA {format_seconds(eta)}" if self.done < self.total else ""))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Reporter:
    """Messages and per-sweep progress of a run."""

    def __init__(self, write: Callable[[str], None] | None = None, tty: bool | None = None,
                 every_s: float = 10.0, prefix: str = "[mtlcheck] "):
        self._write = write or (lambda line: print(line, file=sys.stderr, flush=True))
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.every_s = every_s
        self.prefix = prefix

    def message(self, msg: str) -> None:
        self._write(self.prefix + msg)

    def __call__(self, msg: str) -> None:         # a Reporter is also a plain progress callback
        self.message(msg)

    def sweep(self, label: str, total: int, cached: int = 0,
              total_work: float | None = None) -> _Sweep:
        return _Sweep(self, label, total, cached, total_work)


def silent() -> Reporter:
    return Reporter(write=lambda line: None, tty=False)
