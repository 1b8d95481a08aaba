"""How the suite shares its tests among pytest-xdist workers: a file's tests on one worker (its module fixtures set
up once), the page's tests on one worker or in a run of their own (``--one-process-tests``). Imports only pytest, so
a pytest run of a few files can load it as a plugin (``-p tests.suite_groups``); tests/conftest.py uses its hooks.
"""

from __future__ import annotations

from collections import Counter

import pytest

# The tests that run in one process: the page's (their server builds the page into the checkout's one `.web/`: the
# `app_server` fixture; and the check of `reflex.lock/package.json` a build copies back), and tests that share their
# node id with another (schemathesis collects one item per API operation, all named alike; pytest-xdist's group
# scheduling keys its work by node id and ran one of 32). ./scripts/test runs them after the others
# (`--one-process-tests only`), which share two pytest-xdist workers. In one xdist run with the others, the page's
# module servers were set up again between tests and rebuilt `.web/` under a server still serving it (13 failures,
# none outside them).
# ./scripts/test's run on workers uses `--dist loadfile`, not `loadgroup`: pytest-xdist 3.8 marks a group by rewriting
# `item._nodeid`, which pytest 9 no longer reads (a node id is `item._id`), so under loadgroup every test was a group of
# its own and a file's module fixtures were set up on both workers (test_simulation's month, test_load's run: twice).
# The xdist_group marks below take effect only where loadgroup works.
PAGE_GROUP = "page"
PAGE_MODULES = {"test_frontend_lock.py"}
ONE_PROCESS_TESTS = ("with", "without", "only")
# The files that hold a worker longest (a full run's durations, 2026-12-06 after the local models left a core to the
# other worker: their tests' setups and calls, in seconds), longest first. pytest-xdist's `--dist loadfile` hands the
# files out in the order collected, so these start first and the short files fill in around them: in alphabetical
# order most of them came in the second half, where a long file handed out last holds one worker on alone after the
# other has finished. The files after the first six kept their order of the run before (shorter, they matter less).
LONGEST_FILES = (
    "tests/test_simulation.py",  # 175 s: the shared month, seeds, a prior
    "tests/test_model_server.py",  # 134 s: the model server loaded, the local writer sampled through it
    "tests/test_push_timing.py",  # 67 s: two 30-day runs of push rounds
    "tests/test_load.py",  # 50 s: the load run
    "tests/test_jobs.py",  # 37 s: a thousand jobs and a killed worker
    "tests/test_local_writer.py",  # 28 s: the real local model writing
    "tests/test_sense.py",  # the sense check fitted on the embedder's vectors
    "tests/test_hub_notebooks.py",  # the notebooks run and exported
    "tests/test_workers.py",  # two Granian workers
    "tests/test_lean_imports.py",  # fresh interpreters serving tips
    "tests/test_llm_production.py",  # the LiteLLM proxy and Ollama's stand-in
    "tests/test_breaker.py",  # breakers shared through Redis
    "tests/agents/test_properties.py",  # generated histories through every agent
    "tests/test_llm_layer.py",  # the local embedder loaded beside marimo
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--one-process-tests",
        choices=ONE_PROCESS_TESTS,
        default="with",
        help="run the tests that need one process (the page's, and those sharing a node id) with the others "
        "(default), without them, or only them",
    )


def is_page_test(item: pytest.Item) -> bool:
    return "app_server" in getattr(item, "fixturenames", ()) or item.path.name in PAGE_MODULES


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--one-process-tests without`` / ``only`` deselects the tests that need one process (the page's tests, and
    those sharing a node id) or all the others. Under pytest-xdist a file's tests run on one worker, so its module
    fixtures (test_simulation's month, a served hub) are set up once, and :data:`LONGEST_FILES` come first (a stable
    sort: a file's tests keep their order); the page's tests, if any are selected, share one worker
    (:data:`PAGE_GROUP`). Everything else is worker-unique already: tmp paths, PostgreSQL databases (a fresh name per
    test), Redis keys (a prefix per test), servers on free ports."""
    wanted = config.getoption("one_process_tests", "with")
    if wanted != "with":
        ids = Counter(item.nodeid for item in items)
        apart = {id(item) for item in items if is_page_test(item) or ids[item.nodeid] > 1}
        only = wanted == "only"
        config.hook.pytest_deselected(items=[item for item in items if (id(item) in apart) != only])
        items[:] = [item for item in items if (id(item) in apart) == only]
    rank = {name: index for index, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        item.add_marker(pytest.mark.xdist_group(PAGE_GROUP if is_page_test(item) else item.nodeid.split("::")[0]))
