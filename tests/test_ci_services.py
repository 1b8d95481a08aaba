"""On CI a test never skips for want of PostgreSQL or Redis: a broken database setup fails the run instead of leaving
it green. On a developer's machine without them, those tests skip with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import conftest
from tests.conftest import postgres_available, service_missing

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:9/test"  # the discard port: nothing listens there
# Caught either way, so that a skip where a failure is due fails this test rather than skipping it too.
OUTCOMES = (pytest.fail.Exception, pytest.skip.Exception)


def test_an_unreachable_postgresql_fails_the_test_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    reason = postgres_available(UNREACHABLE)

    assert reason is not None
    assert "127.0.0.1:9" in reason
    with pytest.raises(OUTCOMES) as outcome:
        service_missing(reason)
    assert outcome.type is pytest.fail.Exception, f"on CI it {outcome.typename}: {outcome.value}"


def test_the_postgres_url_fixture_fails_on_ci_when_postgresql_is_down(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(conftest, "PG_ADMIN_URL", UNREACHABLE)

    with pytest.raises(OUTCOMES) as outcome:
        request.getfixturevalue("postgres_url")
    assert outcome.type is pytest.fail.Exception, f"on CI it {outcome.typename}: {outcome.value}"
    assert "CI=true" in str(outcome.value)


def test_an_unreachable_service_skips_the_test_off_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)

    with pytest.raises(OUTCOMES) as outcome:
        service_missing("Redis at redis://127.0.0.1:9/0 is unreachable")
    assert outcome.type is pytest.skip.Exception, f"off CI it {outcome.typename}: {outcome.value}"


def test_ci_runs_with_ci_true() -> None:
    script = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "\nexport CI=true\n" in script
