"""A web worker's start-up objects stay out of the cyclic collector's full passes (docs/adr/0014-under-load-profiled.md,
fourth amendment): its start-up garbage is collected first, everything alive then is frozen, and what serving builds
later is still collected. In a fresh interpreter: freezing is for the whole process, and this one is the suite's.
"""

from __future__ import annotations

import json
import subprocess
import sys

from oo_app.settings import ROOT

# A worker's modules imported, a garbage cycle left by the start-up, then the freeze; then a cycle built while serving.
WARM_THEN_FREEZE = """
import gc, json, weakref
import oo_app.api  # what a worker imports to serve: SQLAlchemy, FastAPI, the models, the recommender
from oo_app.ops.memory import freeze_start_up

class Node:
    pass

def cycle():
    node = Node()
    node.self = node
    return weakref.ref(node)

left_by_start_up = cycle()
tracked = len(gc.get_objects())
frozen = freeze_start_up()
scanned = len(gc.get_objects())
built_while_serving = cycle()
gc.collect()
print(json.dumps({
    "tracked": tracked, "frozen": frozen, "scanned": scanned,
    "start_up_garbage_kept": left_by_start_up() is not None,
    "serving_garbage_kept": built_while_serving() is not None,
}))
"""


def test_start_up_objects_leave_the_full_passes_and_serving_garbage_is_still_collected() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WARM_THEN_FREEZE], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])

    assert found["tracked"] > 100_000, f"a worker's start-up leaves many objects to scan: {found}"
    assert found["frozen"] >= found["tracked"] * 0.9, f"they are frozen: {found}"
    assert found["scanned"] < found["tracked"] / 100, f"a full pass no longer scans them: {found}"
    assert not found["start_up_garbage_kept"], "start-up's garbage is collected before the freeze, never kept"
    assert not found["serving_garbage_kept"], "what serving leaves is still collected"
