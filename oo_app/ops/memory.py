"""A web worker's C heap kept small (docs/adr/0016-lean-web-workers.md): few glibc malloc arenas, and freed memory
given back to the host after the warm-up and then every minute, so a worker's RSS is what it holds, not what it once
held. And the objects its start-up built kept out of the cyclic collector's full passes (:func:`freeze_start_up`).

glibc gives each thread that allocates while the others do an arena of its own, up to eight per core, and keeps the
pages freed in each for reuse: a worker's request threads (Starlette's pool for sync routes, LiteLLM's loops) spread
their garbage over a dozen arenas. :func:`limit_malloc_arenas` caps them (``mallopt(M_ARENA_MAX)``, what the
``MALLOC_ARENA_MAX`` variable of the image does for threads started before Python runs) and ``malloc_trim(0)``
returns every whole free page (madvise) of all of them; it costs a few milliseconds of one thread, off the event
loop. On a C library without them (musl, macOS) both do nothing. Never raises into the app.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
from functools import cache
from typing import Any

log = logging.getLogger(__name__)

TRIM_INTERVAL_S = 60.0
MALLOC_ARENAS = 2
M_ARENA_MAX = -8  # glibc's malloc.h


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


@cache
def _malloc_trim() -> Any:
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """At most ``arenas`` glibc malloc arenas from now on (threads started later share them); whether it took."""
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))


def release_free_memory() -> bool:
    """Hands the C heaps' whole free pages back to the host; whether this C library can (glibc)."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def freeze_start_up() -> int:
    """Collects the start-up's garbage, then moves every object alive now (the modules, the app, its router and
    caches) to the collector's permanent generation; how many objects that froze. Call once, when the worker has
    warmed up.

    A full collection stops every thread of the worker while it scans all the objects the collector tracks: several
    hundred thousand in a warmed worker, 0.5-0.6 s a pass on 2 cores, and the passes come as serving keeps objects
    (docs/adr/0014-under-load-profiled.md, fourth amendment). Frozen, they are never scanned again: a pass scans what
    serving built since. They are never freed either, which start-up's objects never are anyway; its garbage is
    collected first, so none of it is kept."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


async def memory_release_loop(interval_s: float = TRIM_INTERVAL_S) -> None:
    """Releases free memory every ``interval_s`` for as long as the app lives (a lifespan task of each worker)."""
    if _malloc_trim() is None:
        log.info("this C library has no malloc_trim: freed memory stays with the worker")
        return
    while True:
        await asyncio.sleep(interval_s)
        try:
            await asyncio.to_thread(release_free_memory)
        except Exception:
            log.exception("releasing free memory failed; trying again in %.0f s", interval_s)
