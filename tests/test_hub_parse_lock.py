"""The hub builds one syntax tree at a time: on CPython before 3.11.8, a thread whose ``ast.parse`` was interrupted by
the garbage collector while another thread parsed failed with "AST constructor recursion depth mismatch" (gh-106905),
as a new hub's first notebook request once did beside a kernel thread still compiling its cells. And ``compile``
returns what it did before."""

from __future__ import annotations

import ast
import gc
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from oo_app.hub.server import notebooks_app

# big enough that building its tree allocates thousands of nodes, so the collector runs in the middle of it
NOTEBOOK_LIKE = "\n".join(f"x{i} = [{i}, ({i}, {{'k': {i}}})]" for i in range(300))
HANDOVERS = 5


def parse_beside(build: Callable[[], object]) -> list[BaseException]:
    """Runs ``build`` in a thread of its own; whenever the collector runs there while ``build`` is under way, a
    finalizer hands over to this thread, which parses at another stack depth, as marimo's event loop parses a notebook
    beside a kernel thread compiling cells. What ``build`` raised."""
    raised: list[BaseException] = []
    building = threading.Event()
    finished = threading.Event()
    intruder_turn = threading.Semaphore(0)
    builder_turn = threading.Semaphore(0)
    handovers = [HANDOVERS]

    class Handover:
        def __init__(self) -> None:
            self.cycle = self  # only the collector frees it

        def __del__(self) -> None:
            if threading.current_thread().name == "builder" and building.is_set() and handovers[0]:
                handovers[0] -= 1
                intruder_turn.release()
                builder_turn.acquire(timeout=1)
                Handover()  # garbage again, for the builder's next collection

    def builder() -> None:
        building.set()
        Handover()
        try:
            build()
        except BaseException as error:
            raised.append(error)
        finally:
            building.clear()
            finished.set()
            intruder_turn.release()

    def parse_deeper(depth: int) -> None:
        if depth:
            parse_deeper(depth - 1)
        else:
            ast.parse("y = 1")

    thresholds = gc.get_threshold()
    gc.set_threshold(1)
    try:
        thread = threading.Thread(target=builder, name="builder")
        thread.start()
        while intruder_turn.acquire(timeout=10) and not finished.is_set():
            parse_deeper(40)
            builder_turn.release()
        thread.join(10)
    finally:
        gc.set_threshold(*thresholds)
    assert not thread.is_alive(), "the builder thread finished"
    return raised


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: ast.parse(NOTEBOOK_LIKE), id="ast.parse as marimo reads a notebook"),
        pytest.param(
            lambda: compile(NOTEBOOK_LIKE, "<cell>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True),
            id="compile to a tree as marimo compiles a cell",
        ),
    ],
)
def test_two_threads_parsing_at_once_in_the_hub_both_succeed(tmp_path: Path, build: Callable[[], object]) -> None:
    notebooks_app(tmp_path, [])
    assert gc.isenabled(), "the collector runs during the race, as it does in the hub"
    assert parse_beside(build) == []
    assert gc.isenabled(), "the collector is on again after the trees are built"


def test_compile_in_the_hub_keeps_the_callers_future_imports(tmp_path: Path) -> None:
    notebooks_app(tmp_path, [])
    inherited: dict[str, object] = {}
    exec(compile("def f(x: int): pass", "<cell>", "exec"), inherited)  # this module has `annotations` from __future__
    alone: dict[str, object] = {}
    exec(compile("def f(x: int): pass", "<cell>", "exec", dont_inherit=True), alone)
    assert inherited["f"].__annotations__ == {"x": "int"}  # type: ignore[attr-defined]
    assert alone["f"].__annotations__ == {"x": int}  # type: ignore[attr-defined]
