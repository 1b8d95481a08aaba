"""How the suite shares its tests among pytest-xdist workers (tests/conftest.py): a file's tests on one worker, and
every test that builds or reads the page on one worker, whatever its file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import PAGE_GROUP, pytest_collection_modifyitems


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
class Config:
    pluginmanager: Plugins


def grouped(items: list[Item], xdist: bool = True) -> dict[str, str | None]:
    pytest_collection_modifyitems(Config(Plugins(xdist)), items)  # type: ignore[arg-type]
    return {item.nodeid: item.group() for item in items}


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


def test_without_xdist_no_test_is_grouped() -> None:
    assert grouped([Item("tests/test_browser.py::test_the_tip_page", ("app_server",))], xdist=False) == {
        "tests/test_browser.py::test_the_tip_page": None
    }


def test_the_suite_runs_on_workers_grouped_so() -> None:
    script = (Path(__file__).parents[1] / "scripts" / "test").read_text()
    assert '-n "${OO_TEST_WORKERS:-2}" --dist loadgroup' in script, "./scripts/test shares the tests by group"
