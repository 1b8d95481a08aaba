"""Account deletion leaves nothing in MLflow, and work still running for a deleted person writes nothing.

Against real SQLite MLflow stores (a copy of one migrated, empty database per test): every LLM call made for a
person, shadow scoring (judge and embedder) included, is traced under their id; deleting the account deletes those
traces in every experiment, MLflow's Default included. A store that cannot be reached leaves a pending deletion,
which ``oo privacy finish-deletions`` and the scheduler finish later. Background jobs (shadow tips, tips written
ahead, agent jobs and rounds) whose person is deleted while they run write nothing and log no error.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlmodel import Session, select

from agents import runner
from oo_app import settings
from oo_app.cli import main
from oo_app.llm.aliases import COMPOSER_MODEL, LOCAL_EMBEDDING_MODEL
from oo_app.models import AgentOutput, PendingDeletion, Tip, User
from oo_app.profile.deletion import CONFIRMATION_PHRASE, delete_account
from oo_app.recommender import prefetch, recommend, shadow
from oo_app.recommender.policies import add_candidate
from oo_app.recommender.prompts import CURRENT_VERSION
from oo_app.tasks import agent_jobs
from tests.test_profile_helpers import NOW, make_person

CANDIDATE_TEXT = "Pick the one task that matters most today."


@pytest.fixture
def mlflow_uri(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_template_db: Path, configure: Callable[..., None]
) -> Iterator[str]:
    """A real SQLite MLflow store for this test, with tracing on; its tracking URI."""
    folder = tmp_path / "mlflow"
    folder.mkdir()
    shutil.copy(mlflow_template_db, folder / "mlflow.db")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    configure(OO_MLFLOW_TRACKING_URI=uri, OO_TRACING_ENABLED="true")
    yield uri
    mlflow.litellm.autolog(disable=True)  # later tests' LiteLLM calls must not trace into this store
    settings.get_settings.cache_clear()


@pytest.fixture
def candidate(configure: Callable[..., None]) -> Callable[[Session], None]:
    """Aliases with a shadow candidate whose model always answers CANDIDATE_TEXT, the real local embedder and the
    checks judge; call it with a session to register the candidate."""
    aliases = {
        "tip-generator": [{"model": COMPOSER_MODEL}],
        "tip-generator-fallback": [{"model": COMPOSER_MODEL}],
        "tip-generator-candidate": [
            {"model": "openai/candidate", "mock_response": json.dumps({"text": CANDIDATE_TEXT}), "api_key": "test"}
        ],
        "embedder": [{"model": LOCAL_EMBEDDING_MODEL}],
        "judge": [{"model": "oo-rules/checks"}],
    }
    configure(OO_LLM_ALIASES=json.dumps(aliases), OO_LLM_RETRIES="0", OO_LLM_TIMEOUT_S="10")

    def register(session: Session) -> None:
        add_candidate(session, "terse-v1", CURRENT_VERSION, "tip-generator-candidate")
        session.commit()

    return register


def _all_traces(uri: str) -> list[Any]:
    """Every trace of every experiment of the store (deleted experiments included), with its spans."""
    from oo_app import tracking

    tracking.flush()
    client = mlflow.MlflowClient(tracking_uri=uri)
    found = []
    for experiment in client.search_experiments(view_type=mlflow.entities.ViewType.ALL):
        found.extend(client.search_traces(locations=[experiment.experiment_id], max_results=1000))
    return found


def _mentions(trace: Any, user_id: int, texts: list[str]) -> list[str]:
    """What in ``trace`` points at the person: their id (tag, trace user, span attribute) or one of their texts."""
    said = []
    if trace.info.tags.get("oo.user_id") == str(user_id):
        said.append("tag oo.user_id")
    if trace.info.trace_metadata.get("mlflow.trace.user") == str(user_id):
        said.append("trace user")
    if any(str(span.attributes.get("oo.user_id")) == str(user_id) for span in trace.data.spans):
        said.append("span attribute oo.user_id")
    document = trace.to_json()
    said.extend(f"the text {text!r}" for text in texts if text in document or json.dumps(text)[1:-1] in document)
    return said


def _texts_of(session: Session, user_id: int) -> list[str]:
    return sorted(set(session.exec(select(Tip.text).where(Tip.user_id == user_id)).all()))


def _tip_with_shadow_scoring(session: Session, user: User) -> list[str]:
    """The person's tip, committed, and its shadow written and scored in the background; the texts of both."""
    recommend(session, user, NOW)
    session.commit()
    assert shadow.drain(timeout=120)
    texts = _texts_of(session, user.id)
    assert CANDIDATE_TEXT in texts, "the shadow candidate wrote no tip"
    return texts


def test_every_llm_call_for_a_person_is_traced_under_their_id(
    mlflow_uri: str, candidate: Callable[[Session], None], session: Session, demo_user: User
) -> None:
    candidate(session)
    texts = _tip_with_shadow_scoring(session, demo_user)

    traces = _all_traces(mlflow_uri)
    untagged = [
        (trace.info.trace_id, [span.name for span in trace.data.spans])
        for trace in traces
        if _mentions(trace, demo_user.id, texts) and trace.info.tags.get("oo.user_id") != str(demo_user.id)
    ]
    assert untagged == [], f"traces holding the person's tips without their id: {untagged}"
    scoring = [trace for trace in traces if trace.data.spans[0].name == shadow.SCORING_SPAN]
    assert len(scoring) == 1, "the shadow's judge and embedder calls have no span of the person"
    calls = sorted(span.name for span in scoring[0].data.spans if span.parent_id is not None)
    assert calls == ["litellm-completion", "litellm-completion", *["litellm-embedding"] * 3], (
        f"judge twice (each tip's sense embedded first, offline), embed for agreement once: {calls}"
    )
    oo_tips = mlflow.MlflowClient(tracking_uri=mlflow_uri).get_experiment_by_name("oo-tips").experiment_id
    assert {trace.info.experiment_id for trace in traces} == {oo_tips}, "a trace landed outside oo-tips"


def test_deleting_an_account_leaves_no_trace_mentioning_the_person_in_any_experiment(
    mlflow_uri: str, candidate: Callable[[Session], None], session: Session, demo_user: User
) -> None:
    candidate(session)
    texts = _tip_with_shadow_scoring(session, demo_user)
    assert any(_mentions(trace, demo_user.id, texts) for trace in _all_traces(mlflow_uri))

    report = delete_account(session, demo_user, CONFIRMATION_PHRASE)
    session.commit()

    left = {
        trace.info.trace_id: said
        for trace in _all_traces(mlflow_uri)
        if (said := _mentions(trace, demo_user.id, texts))
    }
    assert left == {}, f"traces still pointing at the deleted person: {left}"
    assert (report.traces_deleted or 0) >= 3, report.traces
    assert session.exec(select(PendingDeletion)).all() == []


def test_traces_of_the_person_in_the_default_and_deleted_experiments_go_too(
    mlflow_uri: str, session: Session, demo_user: User
) -> None:
    from oo_app import tracking

    tracking.configure()
    client = mlflow.MlflowClient()
    elsewhere = client.create_experiment("retired-notebook")
    client.delete_experiment(elsewhere)
    for experiment_id in ("0", elsewhere):  # "0": MLflow's Default experiment
        with mlflow.start_span(
            "llm-call",
            attributes={"oo.user_id": demo_user.id},
            trace_destination=mlflow.entities.MlflowExperimentLocation(experiment_id),
        ):
            pass
    with tracking.person_span(demo_user.id + 1, "someone else's work"):
        pass
    assert sum(bool(_mentions(t, demo_user.id, [])) for t in _all_traces(mlflow_uri)) == 2

    report = delete_account(session, demo_user, CONFIRMATION_PHRASE)
    session.commit()

    assert report.traces_deleted == 2
    assert [t for t in _all_traces(mlflow_uri) if _mentions(t, demo_user.id, [])] == []
    assert len(_all_traces(mlflow_uri)) == 1, "another person's trace was deleted"


# A sweep that fails


def _unreachable(tmp_path: Path, configure: Callable[..., None]) -> None:
    """Point oO at a trace store it cannot open (a file that is no database), tracing on."""
    broken = tmp_path / "broken-mlflow.db"
    broken.write_text("not a database")
    configure(OO_MLFLOW_TRACKING_URI=f"sqlite:///{broken}", OO_TRACING_ENABLED="true")


def test_a_failed_sweep_leaves_a_pending_deletion_that_finish_deletions_completes_later(
    mlflow_uri: str, tmp_path: Path, session: Session, demo_user: User, configure: Callable[..., None]
) -> None:
    from oo_app import tracking

    with tracking.person_span(demo_user.id, "tip-generation"):
        pass
    assert len(_all_traces(mlflow_uri)) == 1
    _unreachable(tmp_path, configure)

    report = delete_account(session, demo_user, CONFIRMATION_PHRASE)
    session.commit()

    assert report.traces.startswith("not deleted yet: the trace store could not be reached")
    (pending,) = session.exec(select(PendingDeletion)).all()
    assert (pending.person_id, pending.attempts) == (demo_user.id, 1)
    assert demo_user.email not in json.dumps(pending.model_dump(mode="json")), "a pending deletion names nobody"
    cli = CliRunner()

    still_down = cli.invoke(main, ["privacy", "finish-deletions"])
    session.expire_all()
    assert still_down.exit_code == 1, still_down.output
    assert session.get(PendingDeletion, demo_user.id).attempts == 2

    configure(OO_MLFLOW_TRACKING_URI=mlflow_uri)  # the store answers again
    done = cli.invoke(main, ["privacy", "finish-deletions"])
    session.expire_all()

    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"finished": [demo_user.id], "pending": [], "error": None}
    assert session.exec(select(PendingDeletion)).all() == []
    assert _all_traces(mlflow_uri) == []


def test_the_scheduler_finishes_pending_deletions(
    mlflow_uri: str, tmp_path: Path, session: Session, demo_user: User, configure: Callable[..., None]
) -> None:
    from oo_app import housekeeping, tracking

    with tracking.person_span(demo_user.id, "tip-generation"):
        pass
    _unreachable(tmp_path, configure)
    delete_account(session, demo_user, CONFIRMATION_PHRASE)
    session.commit()
    configure(OO_MLFLOW_TRACKING_URI=mlflow_uri)

    assert housekeeping.finish_deletions_round(0) == 1
    session.expire_all()

    assert session.exec(select(PendingDeletion)).all() == []
    assert _all_traces(mlflow_uri) == []
    assert housekeeping.finish_deletions_round(0) == 0, "nothing left to finish"


def test_the_workers_finish_pending_deletions_every_ten_minutes() -> None:
    from oo_app import housekeeping
    from oo_app.tasks.engine import _build_app

    app = _build_app("postgresql://nobody@127.0.0.1:9/none", 3)  # built, never opened

    periodic = {task.task.name: (task.cron, task.task.func) for task in app.periodic_registry.periodic_tasks.values()}
    assert periodic[housekeeping.FINISH_DELETIONS_TASK] == ("*/10 * * * *", housekeeping.finish_deletions_round)


# Background work of a person deleted while it runs


def _delete_now(engine: sa.Engine, user_id: int) -> None:
    """The person deletes their account, from another request."""
    with Session(engine, expire_on_commit=False) as other:
        delete_account(other, other.get(User, user_id), CONFIRMATION_PHRASE)
        other.commit()


def _no_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_shadow_job_whose_person_is_deleted_meanwhile_writes_nothing_and_leaves_no_trace(
    mlflow_uri: str,
    candidate: Callable[[Session], None],
    any_database: Session,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    session = any_database
    person = make_person(session, "leaving@example.com")
    candidate(session)
    real_generate = shadow.generate

    def deleted_while_writing(db: Session, user: User, *args: Any, **kwargs: Any) -> Tip:
        _delete_now(db.get_bind(), user.id)  # after the job read the shown tip, before its model answers
        return real_generate(db, user, *args, **kwargs)

    monkeypatch.setattr(shadow, "generate", deleted_while_writing)
    recommend(session, person, NOW)
    texts = _texts_of(session, person.id)
    with caplog.at_level(logging.INFO):
        session.commit()
        assert shadow.drain(timeout=120)

    assert _no_errors(caplog) == []
    assert "was deleted meanwhile" in caplog.text
    assert session.exec(select(sa.func.count()).select_from(Tip)).one() == 0
    left = [said for trace in _all_traces(mlflow_uri) if (said := _mentions(trace, person.id, texts))]
    assert left == [], "the job's trace, written after the deletion's sweep, survived"


def test_a_tip_written_ahead_for_a_person_deleted_meanwhile_is_not_written(
    any_database: Session, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    session = any_database
    person = make_person(session, "leaving@example.com")
    shown = recommend(session, person, NOW)
    shown.shown_at = NOW
    session.commit()
    real_recommend = prefetch.recommend

    def deleted_while_writing(db: Session, user: User, *args: Any, **kwargs: Any) -> Tip:
        _delete_now(db.get_bind(), user.id)
        return real_recommend(db, user, *args, **kwargs)

    monkeypatch.setattr(prefetch, "recommend", deleted_while_writing)
    with caplog.at_level(logging.INFO):
        assert prefetch.submit(session.get_bind(), shown.id).result(timeout=120) is None

    assert _no_errors(caplog) == []
    assert "was deleted meanwhile" in caplog.text
    assert session.exec(select(sa.func.count()).select_from(Tip)).one() == 0


def test_an_agent_job_whose_person_is_deleted_meanwhile_writes_nothing(
    any_database: Session, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    session = any_database
    person = make_person(session, "leaving@example.com")
    real_history = runner.load_history

    def deleted_while_computing(db: Session, user: User, now: Any, *rest: Any) -> Any:
        _delete_now(db.get_bind(), user.id)
        return real_history(db, user, now, *rest)

    monkeypatch.setattr(runner, "load_history", deleted_while_computing)
    with caplog.at_level(logging.INFO):
        output = agent_jobs.compute_agent_output(person.id, "momentum", NOW.isoformat())

    assert output is None
    assert _no_errors(caplog) == []
    assert "the person was deleted meanwhile" in caplog.text
    assert session.exec(select(sa.func.count()).select_from(AgentOutput)).one() == 0


def test_a_scheduler_round_skips_a_person_deleted_during_it_and_keeps_the_others_outputs(
    any_database: Session, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from oo_app.tasks.scheduler import run_round

    session = any_database
    leaving = make_person(session, "leaving@example.com")
    staying = make_person(session, "staying@example.com", seed=4)
    real_history = runner.load_history

    def first_one_leaves(db: Session, user: User, now: Any, *rest: Any) -> Any:
        if user.id == leaving.id and db.get(User, leaving.id) is not None and not getattr(first_one_leaves, "done", 0):
            first_one_leaves.done = 1  # type: ignore[attr-defined]
            _delete_now(db.get_bind(), user.id)
        return real_history(db, user, now, *rest)

    monkeypatch.setattr(runner, "load_history", first_one_leaves)
    with caplog.at_level(logging.INFO):
        written = run_round()

    assert _no_errors(caplog) == []
    assert "deleted during the agents' round" in caplog.text
    owners = set(session.exec(select(AgentOutput.user_id)).all())
    assert owners == {staying.id}
    assert written == len(session.exec(select(AgentOutput)).all())
