"""Export and account deletion, over every person-owned table of the metadata, on SQLite and on PostgreSQL.

Rows are seeded in every table with a ``user_id`` column from the column types, so a table added later is covered
without touching these tests; a second person's rows must all survive. MLflow trace deletion runs against a real
SQLite MLflow store, and an unusable store never blocks a deletion.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
import sqlalchemy as sa
from sqlmodel import Session

from agents.runner import run_due
from oo_app import settings
from oo_app.auth.sessions import CSRF_COOKIE, SESSION_COOKIE
from oo_app.demo import seed_demo
from oo_app.errors import InvalidInput
from oo_app.integrations import revocation
from oo_app.models import Context, User
from oo_app.profile import deletion
from oo_app.profile.contexts import create_context, set_schedules
from oo_app.profile.deletion import CONFIRMATION_PHRASE, DeletionIncomplete, delete_account
from oo_app.profile.export import export_person, person_tables
from oo_app.recommender import recommend
from tests.test_profile_helpers import (
    NOW,
    SECRET_MARK,
    make_person,
    owned_rows,
    seed_every_person_table,
    signed_in,
    tables_with_user_id,
)

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


@pytest.fixture
def two_persons(any_database: Session) -> tuple[User, User]:
    """The demo person and another, each with history, agent outputs, a tip and a row in every person-owned table."""
    demo = seed_demo(any_database, "demo@example.com", now=NOW)
    any_database.commit()
    other = make_person(any_database, "other@example.com")
    run_due(any_database, NOW)
    recommend(any_database, demo, NOW)
    recommend(any_database, other, NOW)
    any_database.commit()
    seeded = seed_every_person_table(any_database, demo.id, "demo") | seed_every_person_table(
        any_database, other.id, "other"
    )
    assert seeded == {table.name for table in tables_with_user_id()}
    return demo, other


def test_every_table_with_a_user_id_is_person_owned() -> None:
    assert {table.name for table, _ in person_tables()} == {table.name for table in tables_with_user_id()}


# Export


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key, inner
            yield from _walk(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _walk(inner)


def test_the_export_holds_every_person_owned_table_and_no_token(
    any_database: Session, two_persons: tuple[User, User]
) -> None:
    demo, other = two_persons
    stored = owned_rows(any_database, demo.id)

    with signed_in(demo) as client:
        response = client.get("/api/me/export")

    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith('attachment; filename="oo-export-')
    document = response.json()
    assert document["person"]["email"] == demo.email
    assert set(document["tables"]) == {table.name for table in tables_with_user_id()}
    for name, rows in document["tables"].items():
        assert len(rows) == len(stored[name]) + (name == "sessions"), f"{name}: not every row exported"
        assert {row["user_id"] for row in rows} == {demo.id}, f"{name}: a row of someone else"
    assert SECRET_MARK not in response.text
    assert not [key for key, _ in _walk(document) if key.endswith(("_enc", "_hash"))], "a secret column was exported"
    integration = document["tables"]["integrations"][0]
    assert integration["tokens"] == "connected since 2026-11-20T12:00:00Z; tokens are never exported"
    assert other.email not in response.text
    times = [value for key, value in _walk(document) if key.endswith("_at") and value is not None]
    assert times
    assert all(ISO_UTC.match(value) for value in times), [value for value in times if not ISO_UTC.match(value)][:3]


def test_the_export_is_json_ready_for_the_settings_page(any_database: Session, two_persons: tuple[User, User]) -> None:
    demo, _ = two_persons
    document = export_person(any_database, demo, NOW)

    assert document["exported_at"] == "2026-11-20T12:00:00Z"
    assert json.loads(json.dumps(document)) == document


# Deletion


def test_deleting_an_account_removes_every_row_of_the_person_and_nothing_else(
    any_database: Session, two_persons: tuple[User, User]
) -> None:
    demo, other = two_persons
    before = owned_rows(any_database, demo.id)
    others_before = owned_rows(any_database, other.id)
    assert all(before.values()), f"the person has no row in {[name for name, rows in before.items() if not rows]}"

    with signed_in(demo) as client:
        response = client.request("DELETE", "/api/me", json={"confirm": "  DEMO@example.com "})

    assert response.status_code == 200, response.text
    report = response.json()
    signed_in_session = {"sessions": len(before["sessions"]) + 1}
    assert report["removed"] == {name: len(rows) for name, rows in before.items()} | signed_in_session
    assert owned_rows(any_database, demo.id) == {name: [] for name in before}
    assert owned_rows(any_database, other.id) == others_before
    cleared = {cookie.split("=")[0] for cookie in response.headers.get_list("set-cookie") if "Max-Age=0" in cookie}
    assert cleared == {SESSION_COOKIE, CSRF_COOKIE}


@pytest.mark.parametrize("confirmation", ["", "demo", "other@example.com", "delete my acount"])
def test_deletion_without_the_confirmation_deletes_nothing(
    any_database: Session, two_persons: tuple[User, User], confirmation: str
) -> None:
    demo, _ = two_persons
    with signed_in(demo) as client:
        before = owned_rows(any_database, demo.id)
        response = client.request("DELETE", "/api/me", json={"confirm": confirmation})

    assert response.status_code == 422
    assert CONFIRMATION_PHRASE in response.json()["error"]
    assert owned_rows(any_database, demo.id) == before


def test_a_row_that_survives_the_cascade_aborts_the_deletion(
    session: Session, demo_user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    stray = sa.Table(
        "stray_notes", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("user_id", sa.Integer)
    )
    stray.create(session.connection())
    session.exec(stray.insert().values(user_id=demo_user.id))
    session.commit()
    before = owned_rows(session, demo_user.id)
    monkeypatch.setattr(deletion, "person_tables", lambda: [*person_tables(), (stray, stray.c.user_id)])

    with pytest.raises(DeletionIncomplete, match="stray_notes"):
        delete_account(session, demo_user, CONFIRMATION_PHRASE)
    session.rollback()

    assert owned_rows(session, demo_user.id) == before, "a failed deletion deletes nothing"


def test_deletion_revokes_the_tokens_first_and_goes_on_when_the_provider_fails(
    session: Session, demo_user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def failing(db: Session, user: User) -> None:
        calls.append(user.id)
        raise RuntimeError("provider down")

    monkeypatch.setattr(revocation, "revoke_all", failing)
    report = delete_account(session, demo_user, CONFIRMATION_PHRASE)
    session.commit()

    assert calls == [demo_user.id]
    assert "remove oO's access" in report.tokens
    assert session.get(User, demo_user.id) is None


def test_a_contexts_schedules_are_exported_and_deleted_with_the_account(session: Session, demo_user: User) -> None:
    create_context(session, demo_user, "work")
    set_schedules(session, demo_user, "work", [{"weekdays": ["mon", "tue"], "start": "09:00", "end": "17:00"}])
    session.commit()

    exported = export_person(session, demo_user)["tables"]["contexts"]
    delete_account(session, demo_user, CONFIRMATION_PHRASE)
    session.commit()

    assert exported[0]["schedules"] == [{"weekdays": ["mon", "tue"], "start": "09:00", "end": "17:00"}]
    assert exported[0]["kind"] is None
    assert exported[0]["switched_at"] is None
    assert session.exec(sa.select(sa.func.count()).select_from(Context)).one()[0] == 0


def test_the_domain_refuses_a_deletion_without_confirmation(session: Session, demo_user: User) -> None:
    with pytest.raises(InvalidInput, match="type your email address"):
        delete_account(session, demo_user, "yes")
    assert session.get(User, demo_user.id) is not None


# MLflow traces


@pytest.fixture
def mlflow_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_template_db: Path, configure: Callable[..., None]
) -> Iterator[Path]:
    """A real SQLite MLflow store for this test, with tracing on."""
    folder = tmp_path / "mlflow"
    folder.mkdir()
    shutil.copy(mlflow_template_db, folder / "mlflow.db")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    configure(OO_MLFLOW_TRACKING_URI=f"sqlite:///{folder / 'mlflow.db'}", OO_TRACING_ENABLED="true")
    yield folder
    mlflow.litellm.autolog(disable=True)
    settings.get_settings.cache_clear()


def _traces_of(user_id: int) -> list[str]:
    from oo_app import tracking

    tracking.flush()
    ids = []
    for name in (tracking.TRACES_EXPERIMENT, tracking.BENCH_EXPERIMENT):
        experiment = mlflow.get_experiment_by_name(name)
        for trace in mlflow.search_traces(locations=[experiment.experiment_id], return_type="list"):
            root = next(span for span in trace.data.spans if span.parent_id is None)
            if root.attributes.get("oo.user_id") == user_id:
                ids.append(trace.info.trace_id)
    return ids


def test_deletion_deletes_the_persons_traces_and_no_one_elses(
    mlflow_store: Path, session: Session, demo_user: User
) -> None:
    from oo_app import tracking

    other = make_person(session, "other@example.com")
    for user_id in (demo_user.id, demo_user.id, other.id):
        with tracking.traced_generation(user_id, prompt_version="orchestrator-v2", policy="incumbent") as gen:
            gen.text = "Finish one task."
    bench = mlflow.get_experiment_by_name(tracking.BENCH_EXPERIMENT).experiment_id
    with mlflow.start_span(
        "bench-call",
        attributes={"oo.user_id": demo_user.id},
        trace_destination=mlflow.entities.MlflowExperimentLocation(bench),
    ):
        pass  # an untagged trace: found by its span attribute
    assert len(_traces_of(demo_user.id)) == 3

    report = delete_account(session, demo_user, demo_user.email)
    session.commit()

    assert (report.traces_deleted, report.traces) == (3, "deleted 3")
    assert _traces_of(demo_user.id) == []
    assert len(_traces_of(other.id)) == 1


def test_an_unusable_trace_store_never_blocks_a_deletion(
    tmp_path: Path,
    session: Session,
    demo_user: User,
    configure: Callable[..., None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "a-file.db").write_text("not a database")
    configure(OO_MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'a-file.db'}", OO_TRACING_ENABLED="true")

    with caplog.at_level(logging.WARNING, logger="oo_app.profile.deletion"):
        report = delete_account(session, demo_user, CONFIRMATION_PHRASE)
    session.commit()

    assert report.traces_deleted is None
    assert report.traces.startswith("not deleted yet: the trace store could not be reached")
    assert "could not delete the MLflow traces" in caplog.text
    assert session.get(User, demo_user.id) is None


def test_with_tracing_off_deletion_says_the_traces_were_not_touched(session: Session, demo_user: User) -> None:
    report = delete_account(session, demo_user, CONFIRMATION_PHRASE)

    assert report.traces_deleted is None
    assert "tracing is switched off" in report.traces
    assert session.exec(sa.select(sa.func.count()).select_from(User.__table__)).scalar_one() == 0
