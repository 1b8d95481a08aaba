"""How the suite shares its tests among pytest-xdist workers (tests/conftest.py): a file's tests on one worker, the
page's tests on any worker (each builds into a web directory of its own); ./scripts/test runs the tests that share a
node id and the lock file's check in a run of their own after the others (``--one-process-tests``)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests import page_build
from tests.app_server import BUILD_LOCK
from tests.suite_groups import pytest_collection_modifyitems, pytest_configure, web_workdir


@dataclass
class Item:
    nodeid: str
    fixturenames: tuple[str, ...] = ()

    @property
    def path(self) -> Path:
        return Path(self.nodeid.split("::")[0])


@dataclass
class Hooks:
    deselected: list[Item] = field(default_factory=list)

    def pytest_deselected(self, items: list[Item]) -> None:
        self.deselected.extend(items)


@dataclass
class Config:
    one_process_tests: str = "with"
    hook: Hooks = field(default_factory=Hooks)

    def getoption(self, name: str, default: Any = None) -> Any:
        assert name == "one_process_tests", name
        return self.one_process_tests


SUITE = [
    Item("tests/test_api.py::test_recommend"),
    Item("tests/test_browser.py::test_the_tip_page", ("app_server", "page")),
    Item("tests/test_frontend_lock.py::test_the_tracked_package_json_is_what_reflex_writes"),
    Item("tests/test_jobs.py::test_a_thousand_jobs"),
    Item("tests/test_schemathesis.py::test_no_request_gets_a_server_error"),  # one item per API operation, alike
    Item("tests/test_schemathesis.py::test_no_request_gets_a_server_error"),
]


def selected(one_process_tests: str) -> tuple[list[str], list[str]]:
    """The node ids ``--one-process-tests`` keeps and those it deselects, of :data:`SUITE`."""
    items, config = list(SUITE), Config(one_process_tests)
    pytest_collection_modifyitems(config, items)  # type: ignore[arg-type]
    return [item.nodeid for item in items], [item.nodeid for item in config.hook.deselected]


def test_the_tests_sharing_a_node_id_and_the_lock_check_run_apart_and_the_page_tests_on_the_workers() -> None:
    ids = [item.nodeid for item in SUITE]
    apart, others = [ids[2], ids[4], ids[5]], [ids[0], ids[1], ids[3]]
    assert selected("with") == (ids, [])
    assert selected("without") == (others, apart)
    assert selected("only") == (apart, others)


def test_the_suite_runs_the_others_on_workers_then_the_few_in_one_process() -> None:
    script = (Path(__file__).parents[1] / "scripts" / "test").read_text()
    assert '-n "$workers" --dist loadfile --one-process-tests without "$@"' in script, "the others share the workers"
    assert 'python -m pytest --one-process-tests only "$@"' in script, "the few run in one process"
    assert 'workers="${OO_TEST_WORKERS:-2}"' in script


def test_each_worker_but_the_first_builds_the_page_into_a_web_directory_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert [web_workdir(worker) for worker in (None, "gw0", "gw1", "gw2")] == [None, None, ".web-gw1", ".web-gw2"]
    monkeypatch.delenv("REFLEX_WEB_WORKDIR", raising=False)
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    pytest_configure(None)  # type: ignore[arg-type]
    assert os.environ["REFLEX_WEB_WORKDIR"] == ".web-gw1"
    assert page_build.web_dir(dict(os.environ)) == Path(__file__).parents[1] / ".web-gw1", "its servers build there"
    ignored = subprocess.run(
        ["git", "check-ignore", ".web-gw1/build/client/index.html", BUILD_LOCK],
        cwd=Path(__file__).parents[1],
        capture_output=True,
        text=True,
    )
    assert ignored.stdout.split() == [".web-gw1/build/client/index.html", BUILD_LOCK], (
        f"git ignores every web directory and the build lock: {ignored.stdout} {ignored.stderr}"
    )


PROBE = """
import os

import pytest


@pytest.fixture(scope="module")
def shared():
    with open("setups.log", "a") as log:
        log.write(os.environ.get("PYTEST_XDIST_WORKER", "main") + "\\n")


@pytest.mark.parametrize("n", range(6))
def test_uses_the_module_fixture(shared, n):
    assert n >= 0
"""


def test_two_real_workers_set_up_a_files_module_fixture_once(tmp_path: Path) -> None:
    """A real ``-n 2 --dist loadfile`` run, as ./scripts/test's first: the six tests of one file run on one worker,
    so its module fixture is set up once (under ``--dist loadgroup`` it was set up on both workers: pytest 9 ignores
    the node ids pytest-xdist 3.8 rewrites to mark a group)."""
    (tmp_path / "test_probe.py").write_text(PROBE)
    root = str(Path(__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    args = ["-p", "tests.suite_groups", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadfile"]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", *args, "--one-process-tests", "without", "-q", "test_probe.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "6 passed" in run.stdout, run.stdout
    setups = (tmp_path / "setups.log").read_text().split()
    assert len(setups) == 1, f"the module fixture was set up on {setups}"
