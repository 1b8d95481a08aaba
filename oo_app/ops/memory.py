"""A web worker's C heap kept small (docs/adr/0016-lean-web-workers.md): few glibc malloc arenas.

glibc gives each thread that allocates while the others do an arena of its own, up to eight per core, and keeps the
pages freed in each for reuse: a worker's request threads (Starlette's pool for sync routes, LiteLLM's loops) spread
their garbage over a dozen arenas. :func:`limit_malloc_arenas` caps them (``mallopt(M_ARENA_MAX)``, what the
``MALLOC_ARENA_MAX`` variable of the image does for threads started before Python runs). On a C library without it
(musl, macOS) it does nothing. Never raises into the app.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache

MALLOC_ARENAS = 2
M_ARENA_MAX = -8  # glibc's malloc.h


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """At most ``arenas`` glibc malloc arenas from now on (threads started later share them); whether it took."""
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))
