"""One background thread per kind of after-commit work (shadow tips, tips written ahead), and a way to wait for it.

Jobs of a kind run one at a time, in submission order, off the request path; :meth:`BackgroundJobs.drain` lets tests
and benchmarks wait for what was submitted so far, and :func:`drain_all` lets a short-lived process (the CLI) finish
its background work before the interpreter shuts executors down under it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any


class BackgroundJobs:
    """The jobs of one kind, on one thread of their own."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._executor: ThreadPoolExecutor | None = None
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()
        _every_kind.append(self)

    def submit(self, job: Callable[..., None], *args: Any) -> Future[None]:
        """Run ``job(*args)`` on this kind's thread (started on first use)."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"oo-{self._name}")
            future = self._executor.submit(job, *args)
            self._pending.add(future)
        future.add_done_callback(self._pending.discard)
        return future

    def drain(self, timeout: float | None = None) -> bool:
        """Wait for the jobs submitted so far; True when all finished within ``timeout`` seconds."""
        with self._lock:
            pending = list(self._pending)
        _done, not_done = wait(pending, timeout=timeout)
        return not not_done


_every_kind: list[BackgroundJobs] = []


def drain_all(timeout: float) -> bool:
    """Wait for every kind's jobs submitted so far, ``timeout`` seconds in all; True when all finished in time."""
    deadline = time.monotonic() + timeout
    return all([jobs.drain(max(0.0, deadline - time.monotonic())) for jobs in list(_every_kind)])
