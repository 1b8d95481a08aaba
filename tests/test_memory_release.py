"""A web worker's C heap stays small (issue 19, docs/adr/0016-lean-web-workers.md): its threads share two glibc malloc
arenas, and the pages it freed go back to the host. Each probe runs in a fresh interpreter (glibc's arenas and heaps
are per process; this one's are what the suite left), on this machine's glibc.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from oo_app.ops.memory import MALLOC_ARENAS, release_free_memory
from oo_app.settings import ROOT

if not release_free_memory():
    pytest.skip("this C library is not glibc: no arenas to limit, no malloc_trim", allow_module_level=True)

# Eight threads allocate at once (as a worker's request threads do), then glibc's malloc_stats() lists the arenas on
# stderr, one "Arena N:" each.
THREADS_ALLOCATE = """
import ctypes, sys, threading
from oo_app.ops.memory import limit_malloc_arenas
if sys.argv[1] == "limited":
    limit_malloc_arenas()
start = threading.Barrier(8)
def work():
    start.wait()
    kept = [bytearray(2000) for _ in range(20000)]
    start.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for thread in threads: thread.start()
for thread in threads: thread.join()
ctypes.CDLL("libc.so.6").malloc_stats()
"""

# 150 MB in 1 kB blocks (above Python's small-object allocator: glibc's malloc), one in fifty kept so that the heap's
# top never frees; its RSS before and after the release.
FREE_THEN_RELEASE = """
import json
from oo_app.ops.memory import release_free_memory
def rss_mb():
    with open("/proc/self/smaps_rollup") as rollup:
        return next(int(line.split()[1]) for line in rollup if line.startswith("Rss:")) / 1024
blocks = [bytes(1024) + bytes([i % 251]) for i in range(150_000)]
kept = blocks[::50]
del blocks
freed = rss_mb()
release_free_memory()
print(json.dumps({"freed": freed, "released": rss_mb()}))
"""


def run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def arenas(mode: str) -> int:
    return run(THREADS_ALLOCATE, mode).stderr.count("Arena ")


def test_a_workers_threads_share_two_malloc_arenas() -> None:
    assert arenas("unlimited") > MALLOC_ARENAS, "without the limit, glibc gives the threads arenas of their own"
    assert arenas("limited") <= MALLOC_ARENAS


def test_freed_memory_goes_back_to_the_host() -> None:
    found = json.loads(run(FREE_THEN_RELEASE).stdout.strip().splitlines()[-1])
    assert found["freed"] - found["released"] > 100, f"about 147 MB of free pages went back to the host: {found}"
