"""One syntax tree built at a time in the hub's process, on the CPython releases whose AST constructor races.

Contract: after :func:`parse_one_at_a_time`, ``compile(..., ast.PyCF_ONLY_AST)`` (and so ``ast.parse``) holds one
process-wide lock on CPython before 3.11.8, and nothing changes on later releases. It must never change what
``compile`` returns: any other compile passes straight through, with the caller's ``__future__`` imports as before.
"""

from __future__ import annotations
import __future__

import ast
import builtins
import gc
import sys
import threading
from functools import reduce
from operator import or_
from typing import Any

# CPython 3.11 before 3.11.8 counts the AST constructor's recursion depth in state that all threads share (gh-106905):
# when the collector runs a finalizer in the middle of one ast.parse and another thread parses meanwhile, the first
# fails with "SystemError: AST constructor recursion depth mismatch". marimo parses a notebook on the hub's event loop
# when it first builds its app, and compiles its cells in each session's kernel thread (run mode), so two operators
# opening notebooks at once, or one opening a notebook while another's kernel starts, can meet there. The lock sits in
# the builtin compile() because marimo builds trees both ways: ast.parse (which calls compile) and compile() itself with
# PyCF_ONLY_AST; the standard library's own parses (traceback, inspect) take it too. 3.12 never collects mid-tree.
CONSTRUCTOR_RACES = sys.version_info < (3, 11, 8)
PARSE_LOCK = threading.RLock()
FUTURE_FLAGS = reduce(or_, (getattr(__future__, name).compiler_flag for name in __future__.all_feature_names))
_builtin_compile = builtins.compile


def _compile_one_tree_at_a_time(
    source: Any, filename: Any, mode: str, flags: int = 0, dont_inherit: bool = False, optimize: int = -1, **kwargs: Any
) -> Any:
    if not dont_inherit:
        # compile() would inherit the __future__ imports of the code calling it: its caller's, not this module's
        flags |= sys._getframe(1).f_code.co_flags & FUTURE_FLAGS
    if not flags & ast.PyCF_ONLY_AST:
        return _builtin_compile(source, filename, mode, flags, True, optimize, **kwargs)
    with PARSE_LOCK:
        # and the collector waits: a finalizer run under the lock that waited for a thread waiting on it would hang
        collecting = gc.isenabled()
        gc.disable()
        try:
            return _builtin_compile(source, filename, mode, flags, True, optimize, **kwargs)
        finally:
            if collecting:
                gc.enable()


def parse_one_at_a_time() -> None:
    """Builds this process's syntax trees one at a time where CPython needs it (see above); calling it again is
    harmless."""
    if CONSTRUCTOR_RACES:
        builtins.compile = _compile_one_tree_at_a_time
