"""Time limits for the sympy steps of the structural facts: an alarm (SIGALRM, main thread
only) that rings until its block is left, and the per-bound budget of sympy time.
"""
from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["_Timeout", "_Alarm", "_SympyTime"]


class _Timeout(BaseException):
    """Raised by :class:`_Alarm` (a BaseException: sympy's `except Exception`
    blocks must not swallow it)."""


class _Alarm:
    """Interrupt the body of a ``with`` block after ``seconds`` (SIGALRM; only in the main
    thread, else no limit).

    The alarm rings again every ``_Alarm.AGAIN`` seconds until the block is left: Python runs a
    signal handler wherever the main thread happens to be, and an exception raised while a
    garbage-collector callback runs (hypothesis installs one under pytest) is printed and
    dropped, so a single ring can be lost and the sympy step would then run unbounded (it ran
    6 minutes under a 10-second limit in CI). A ring after the block has been left does
    nothing."""

    AGAIN = 0.05

    def __init__(self, seconds: float | None):
        self.usable = (seconds is not None and hasattr(signal, "setitimer")
                       and threading.current_thread() is threading.main_thread())
        self.seconds = seconds
        self.armed = False
        self.old = None

    def _ring(self, signum, frame):
        if self.armed:
            raise _Timeout()

    def __enter__(self):
        if self.usable:
            self.old = signal.signal(signal.SIGALRM, self._ring)
            self.armed = True
            signal.setitimer(signal.ITIMER_REAL, max(float(self.seconds), 0.01), self.AGAIN)
        return self

    def disarm(self):
        """Stop ringing and restore the previous handler (idempotent)."""
        if not self.armed:
            return
        self.armed = False                  # from here on a ring does nothing
        signal.setitimer(signal.ITIMER_REAL, 0)
        # None: the previous handler was not installed from Python; the default is the closest
        signal.signal(signal.SIGALRM, signal.SIG_DFL if self.old is None else self.old)

    def __exit__(self, *exc):
        self.disarm()
        return False


@dataclass
class _SympyTime:
    """Time for the sympy steps of one bound: ``total`` seconds, at most ``each`` per step."""

    total: float
    each: float
    start: float = field(default_factory=time.perf_counter)

    def run(self, fn: Callable[[], Any], default=None):
        left = self.total - (time.perf_counter() - self.start)
        if left <= 0:
            return default
        alarm = _Alarm(min(self.each, left))
        try:
            with alarm:
                return fn()
        except _Timeout:
            while True:  # a ring that landed inside __exit__ skipped the disarm: do it here
                try:
                    alarm.disarm()
                    break
                except _Timeout:
                    continue
            return default
