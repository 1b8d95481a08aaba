"""How the suite shares its tests among pytest-xdist workers (tests/conftest.py): a file's tests on one worker, and
every test that builds or reads the page on one worker, whatever its file; ./scripts/test runs the page's tests in a
run of their own after the others, with the tests that share a node id (``--one-process-tests``)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.suite_groups import LONGEST_FILES, PAGE_GROUP, pytest_collection_modifyitems


@dataclass
class Item:
    nodeid: str
    fixturenames: tuple[str, ...] = ()
    markers: list[Any] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return Path(self.nodeid.split("::")[0])

    def add_marker(self, marker: Any) -> None:
        self.markers.append(marker)

    def group(self) -> str | None:
        groups = [marker.args[0] for marker in self.markers if marker.name == "xdist_group"]
        assert len(groups) <= 1, groups
        return groups[0] if groups else None


@dataclass
class Plugins:
    xdist: bool

    def hasplugin(self, name: str) -> bool:
        return name == "xdist" and self.xdist


@dataclass
class Hooks:
    deselected: list[Item] = field(default_factory=list)

    def pytest_deselected(self, items: list[Item]) -> None:
        self.deselected.extend(items)


@dataclass
class Config:
    pluginmanager: Plugins
    one_process_tests: str = "with"
    hook: Hooks = field(default_factory=Hooks)

    def getoption(self, name: str, default: Any = None) -> Any:
        assert name == "one_process_tests", name
        return self.one_process_tests


def grouped(items: list[Item], xdist: bool = True) -> dict[str, str | None]:
    pytest_collection_modifyitems(Config(Plugins(xdist)), items)  # type: ignore[arg-type]
    return {item.nodeid: item.group() for item in items}


SUITE = [  # one of the longest files first, as collected
    Item("tests/test_jobs.py::test_a_thousand_jobs"),
    Item("tests/test_api.py::test_recommend"),
    Item("tests/test_browser.py::test_the_tip_page", ("app_server", "page")),
    Item("tests/test_frontend_lock.py::test_the_tracked_package_json_is_what_reflex_writes"),
    Item("tests/test_schemathesis.py::test_no_request_gets_a_server_error"),  # one item per API operation, alike
    Item("tests/test_schemathesis.py::test_no_request_gets_a_server_error"),
]


def test_a_files_tests_share_a_worker_and_the_page_tests_share_one() -> None:
    groups = grouped(
        [
            Item("tests/test_simulation.py::test_the_report_adds_up"),
            Item("tests/test_simulation.py::test_is_quiet_on_a_window_that_wraps_midnight"),
            Item("tests/test_api.py::test_recommend"),
            Item("tests/test_browser.py::test_the_tip_page", ("app_server", "page")),
            Item("tests/test_pwa.py::test_static_pwa_files_are_served", ("app_server",)),
            Item("tests/test_frontend_lock.py::test_the_tracked_package_json_is_what_reflex_writes"),
        ]
    )
    assert list(groups.values()) == [
        "tests/test_simulation.py",
        "tests/test_simulation.py",
        "tests/test_api.py",
        PAGE_GROUP,
        PAGE_GROUP,
        PAGE_GROUP,
    ]


def test_the_longest_files_are_handed_out_first_each_with_its_tests_in_order() -> None:
    items = [
        Item("tests/test_api.py::test_recommend"),
        Item("tests/test_simulation.py::test_the_report_adds_up"),
        Item("tests/test_cli.py::test_help"),
        Item("tests/test_model_server.py::test_health"),
        Item("tests/test_simulation.py::test_is_quiet_on_a_window_that_wraps_midnight"),
        Item("tests/test_model_server.py::test_a_bad_request"),
    ]
    assert list(grouped(items)) == [
        "tests/test_simulation.py::test_the_report_adds_up",
        "tests/test_simulation.py::test_is_quiet_on_a_window_that_wraps_midnight",
        "tests/test_model_server.py::test_health",
        "tests/test_model_server.py::test_a_bad_request",
        "tests/test_api.py::test_recommend",
        "tests/test_cli.py::test_help",
    ]


def test_every_longest_file_is_a_test_file_of_the_suite() -> None:
    root = Path(__file__).parents[1]
    assert [name for name in LONGEST_FILES if not (root / name).is_file()] == [], "renamed or gone: update the list"
    assert len(set(LONGEST_FILES)) == len(LONGEST_FILES)


def test_without_xdist_no_test_is_grouped() -> None:
    assert grouped([Item("tests/test_browser.py::test_the_tip_page", ("app_server",))], xdist=False) == {
        "tests/test_browser.py::test_the_tip_page": None
    }


def selected(one_process_tests: str) -> tuple[list[str], list[str]]:
    """The node ids ``--one-process-tests`` keeps and those it deselects, of :data:`SUITE`."""
    items, config = list(SUITE), Config(Plugins(xdist=False), one_process_tests)
    pytest_collection_modifyitems(config, items)  # type: ignore[arg-type]
    return [item.nodeid for item in items], [item.nodeid for item in config.hook.deselected]


def test_the_page_tests_and_the_tests_sharing_a_node_id_run_apart_or_with_the_others() -> None:
    ids = [item.nodeid for item in SUITE]
    page, others = [ids[2], ids[3], ids[4], ids[5]], [ids[0], ids[1]]
    assert selected("with") == (ids, [])
    assert selected("without") == (others, page)
    assert selected("only") == (page, others)


def test_the_suite_runs_the_others_on_workers_and_the_page_tests_beside_them_in_one_process() -> None:
    script = (Path(__file__).parents[1] / "scripts" / "test").read_text()
    assert '-n "$workers" --dist loadfile --one-process-tests without "$@"' in script, "the others share the workers"
    assert 'python -m pytest --one-process-tests only "$@" >"$page_log" 2>&1 &' in script, (
        "the page's tests run in one process, in the background"
    )
    assert 'wait "$page_run" || page=$?' in script, "the suite waits for the page's tests and keeps their status"
    assert 'workers="${OO_TEST_WORKERS:-2}"' in script


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
    # Only the plugins the run is about: the installed ones (Hypothesis, schemathesis, ...) took most of each of the
    # three interpreters' start and take no part in how the tests are shared.
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    args = ["-p", "xdist", "-p", "tests.suite_groups", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadfile"]
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


def test_no_property_test_fails_on_time() -> None:
    """tests/conftest.py's Hypothesis profile: an example is never timed (a busy machine made one "flaky")."""
    import hypothesis

    assert hypothesis.settings.default.deadline is None
