"""How the suite shares its tests among pytest-xdist workers: a file's tests on one worker (``--dist loadfile``: its
module fixtures set up once), each worker building and serving the page from a web directory of its own, and the few
tests that need one process in a run of their own (``--one-process-tests``). Imports only pytest, so a pytest run of a
few files can load it as a plugin (``-p tests.suite_groups``); tests/conftest.py uses its hooks.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

# The tests that run in one process, after the others (./scripts/test: `--one-process-tests only`): tests that share
# their node id with another (schemathesis collects one item per API operation, all named alike; pytest-xdist keys its
# work by node id and ran one of 32), and the check of `reflex.lock/package.json`, which every build copies back.
# The page's tests run on the workers with the others: each worker builds into a web directory of its own
# (:func:`web_workdir`), for its own port, so two servers never rebuild a page the other serves.
# ./scripts/test's run on workers uses `--dist loadfile`, not `loadgroup`: pytest-xdist 3.8 marks a group by rewriting
# `item._nodeid`, which pytest 9 no longer reads (a node id is `item._id`), so under loadgroup every test was a group of
# its own and a file's module fixtures were set up on both workers (test_simulation's month, test_load's run: twice).
ONE_PROCESS_MODULES = {"test_frontend_lock.py"}
ONE_PROCESS_TESTS = ("with", "without", "only")


def web_workdir(worker: str | None) -> str | None:
    """The web directory of pytest-xdist worker ``worker`` (``gw1``: ``.web-gw1``); None for the first worker and
    outside xdist, which use Reflex's own ``.web``."""
    return f".web-{worker}" if worker and worker != "gw0" else None


def pytest_configure(config: pytest.Config) -> None:
    """Point this worker's page servers (tests/app_server.py) at its own web directory."""
    web = web_workdir(os.environ.get("PYTEST_XDIST_WORKER"))
    if web is not None:
        os.environ.setdefault("REFLEX_WEB_WORKDIR", web)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--one-process-tests",
        choices=ONE_PROCESS_TESTS,
        default="with",
        help="run the tests that need one process (those sharing a node id, the lock file's check) with the others "
        "(default), without them, or only them",
    )


def runs_apart(item: pytest.Item, ids: Counter[str]) -> bool:
    return item.path.name in ONE_PROCESS_MODULES or ids[item.nodeid] > 1


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--one-process-tests without`` / ``only`` deselects the tests that need one process (those sharing a node id,
    and the lock file's check) or all the others. Everything else may run on any worker: tmp paths, PostgreSQL
    databases (a fresh name per test), Redis keys (a prefix per test), servers on free ports, a web directory per
    worker."""
    wanted = config.getoption("one_process_tests", "with")
    if wanted == "with":
        return
    ids = Counter(item.nodeid for item in items)
    only = wanted == "only"
    config.hook.pytest_deselected(items=[item for item in items if runs_apart(item, ids) != only])
    items[:] = [item for item in items if runs_apart(item, ids) == only]
