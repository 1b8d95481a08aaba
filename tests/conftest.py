"""Shared fixtures: real databases (a migrated SQLite file per test; PostgreSQL when it runs) and the demo person.

Every test that touches settings goes through :func:`configure`, which points ``OO_*`` at the test's own database
and clears the process-wide caches, so no test reads the developer's ``data/oo.db``. A test's SQLite file is a copy
of a template migrated (and, for :func:`demo_user`, seeded) once per session: the same rows, ids and Alembic version
as migrating and seeding in the test, for a copy's cost (tests/test_database_templates.py holds them to that).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import hypothesis
import numpy as np
import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy.engine import Engine
from sqlmodel import Session, select, update

from oo_app import db, settings
from oo_app.bootstrap import bootstrap
from oo_app.demo import seed_demo
from oo_app.llm.router import get_router
from oo_app.models import Consent, User
from oo_app.recommender.learning import forget_priors
from tests.suite_groups import pytest_addoption, pytest_collection_modifyitems  # noqa: F401 (hooks of this conftest)

pytest_plugins = ["tests.browser_fixtures"]  # the server, Chromium and signed-in contexts of the browser tests

# oO defaults to production; the suite is `test` (no generated development keys, no default dev login) unless a run
# asks for another. Tests of development or production behaviour configure it themselves.
os.environ.setdefault("OO_ENV", "test")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# LiteLLM's Router sleeps before a retry, 0.5 s doubling plus up to 0.75 s of jitter (constants read when LiteLLM is
# imported, by this process and the ones the tests start): the tests prove that calls are retried, not how long the
# Router waits in between, so a retry here waits a twentieth of that.
os.environ.setdefault("INITIAL_RETRY_DELAY", "0.025")
os.environ.setdefault("JITTER", "0.04")
# Most tests want the fast, deterministic composer; tests of the local model ask for it explicitly.
os.environ.setdefault("OO_TIP_WRITER", "rules")
os.environ.setdefault("OO_TRACING_ENABLED", "false")  # tests of tracing switch it on with their own store
# Tips written ahead run in the background: on for the tests of them (tests/test_prefetch.py, the browser tests).
os.environ.setdefault("OO_PREPARE_NEXT_TIP", "false")
bootstrap()  # the suite wires the LLM router as the app, the CLI, the worker and the hub do at start
# No property test fails on time: Hypothesis's default deadline (200 ms an example) failed one on a busy machine
# (DeadlineExceeded at 265 ms, then passed: "flaky"). How fast is the business of benchmarks/.
hypothesis.settings.register_profile("oo", deadline=None)
hypothesis.settings.load_profile("oo")

PG_ADMIN_URL = os.environ.get("OO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # a Friday; 13:00 in Berlin, the demo person's zone
DEMO_EMAIL = "demo@example.com"


def clear_caches() -> None:
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()
    get_router.cache_clear()
    forget_priors()


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """``configure(OO_X="...")`` sets settings for this test; caches are cleared then and at teardown."""

    def apply(**env: str) -> None:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        clear_caches()

    apply(OO_SCHEDULER_ENABLED="false")
    yield apply
    monkeypatch.undo()
    clear_caches()


def migrated_sqlite(path: Path) -> str:
    """A new SQLite file at ``path`` migrated to head, no connection left open (the file alone holds it); its URL."""
    url = f"sqlite:///{path}"
    db.migrate(url)  # disposes its engine: SQLite folds the write-ahead log back into the file
    return url


def seed_demo_person(url: str, now: datetime = NOW) -> None:
    """The demo person and their history of 90 days up to ``now``, committed into the empty database at ``url``."""
    engine = db.make_engine(url)
    try:
        with Session(engine) as session:
            assert seed_demo(session, DEMO_EMAIL, now=now) is not None, "the demo person goes into an empty database"
            session.commit()
    finally:
        engine.dispose()


def restamp_demo_person(url: str) -> None:
    """Give the copied demo person the wall-clock stamps a seed in this test would give (the person's creation and
    first-run answer, the consents' dates); everything else the seed writes is a function of NOW and a fixed seed."""
    now = datetime.now(UTC)
    engine = db.make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(update(User).values(created_at=now, onboarded_at=now))
            connection.execute(update(Consent).values(at=now))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head, made once per session: tests copy it (migrating one costs about a second)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "oo.db"
    migrated_sqlite(path)
    return path


@pytest.fixture(scope="session")
def demo_template(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """:func:`sqlite_template` with the demo person seeded at NOW, made once per session for :func:`demo_user`."""
    path = tmp_path_factory.mktemp("demo-template") / "oo.db"
    shutil.copy(sqlite_template, path)
    seed_demo_person(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated SQLite file of the test's own: a copy of :func:`sqlite_template`, or of :func:`demo_template` when
    the test asks for :func:`demo_user` (which, before anything else, would seed the very same rows into it)."""
    path = tmp_path / "oo.db"
    if "demo_user" in request.fixturenames:
        shutil.copy(request.getfixturevalue("demo_template"), path)
        restamp_demo_person(f"sqlite:///{path}")
    else:
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(sqlite_url: str, configure: Callable[..., None]) -> Iterator[Engine]:
    """The test's migrated SQLite database, also made the app's configured database."""
    configure(OO_DATABASE_URL=sqlite_url)
    engine = db.get_engine()
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session
        session.rollback()


@pytest.fixture
def demo_user(session: Session) -> User:
    """The demo person with 90 days of history up to NOW: copied in with the test's database (:func:`sqlite_url`), or
    seeded now into a database that came from elsewhere."""
    user = session.exec(select(User).where(User.email == DEMO_EMAIL)).first()
    if user is None:
        user = seed_demo(session, DEMO_EMAIL, now=NOW)
        assert user is not None, "the demo person goes into an empty database"
        session.commit()
    return user


@pytest.fixture
def oo(configure: Callable[..., None]) -> Callable[..., Result]:
    """``oo(*args, database_url=..., **env)``: the ``oo`` command's result, run in this process (click's runner) with
    those settings. A command that ends in an exception other than its exit fails the test: the installed command
    would print a stack trace."""

    from oo_app.cli import main  # the commands' modules load with the first test that runs one

    def run(*args: str, database_url: str, **extra_env: str) -> Result:
        configure(OO_DATABASE_URL=database_url, **extra_env)
        result = CliRunner().invoke(main, list(args))
        assert result.exception is None or isinstance(result.exception, SystemExit), "".join(
            traceback.format_exception(result.exception)
        )
        return result

    return run


@pytest.fixture(autouse=True, scope="session")
def each_sense_regression_fitted_once() -> Iterator[None]:
    """The sense classifier's regression, fitted in a child process (seconds: scikit-learn loads there), is a function
    of its inputs alone; the app fits it once per embedder. Every Ollama stand-in is an embedder of its own (its own
    port) whose vectors are all the stand-ins' (tests/fakes/ollama.py's ``embedding``): this session fits each set of
    inputs once, in the child process still, and answers the same inputs again from memory."""
    from oo_app.recommender import sense_fit

    fitted: dict[str, tuple[np.ndarray, float]] = {}
    fit_in_child = sense_fit.fit_weights

    def fit_once(features: np.ndarray, labels: np.ndarray, c: float) -> tuple[np.ndarray, float]:
        key = hashlib.sha256(features.tobytes() + labels.tobytes() + repr((features.shape, c)).encode()).hexdigest()
        if key not in fitted:
            fitted[key] = fit_in_child(features, labels, c)
        weights, intercept = fitted[key]
        return weights.copy(), intercept

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sense_fit, "fit_weights", fit_once)
        yield


@pytest.fixture(scope="session")
def mlflow_template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow database with its tables and no oO experiments yet: tests copy it (migrating one costs ~6 s)."""
    import mlflow

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    mlflow.MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


def in_ci() -> bool:
    """True on CI (``CI=true``, as .ci/run sets it), where PostgreSQL and Redis run: tests needing them never skip."""
    return os.environ.get("CI", "").strip().lower() == "true"


def service_missing(reason: str) -> NoReturn:
    """Skip a test whose PostgreSQL or Redis does not answer on a developer's machine; fail it on CI, where a skip
    would leave a broken database setup behind a green run."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: the services the suite needs must run)", pytrace=False)
    pytest.skip(reason)


def postgres_available(url: str | None = None) -> str | None:
    """None when the local PostgreSQL (or the one at ``url``) answers, else the reason it does not."""
    url = url or PG_ADMIN_URL
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as error:
        return f"PostgreSQL at {url} is unreachable: {type(error).__name__}: {error}"
    finally:
        engine.dispose()
    return None


@contextmanager
def postgres_database(template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database (a copy of the database ``template`` when given, else empty) for as long as the block
    runs, then dropped; its URL. Skips when PostgreSQL does not answer (fails on CI)."""
    reason = postgres_available()
    if reason:
        service_missing(reason)
    name = f"oo_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """The name of a PostgreSQL database migrated to head, made once per session (per pytest-xdist worker) and
    connected to by nobody after: tests' databases are copies of it (a migration costs about 0.3 s, a copy 0.06)."""
    with postgres_database() as url:
        db.migrate(url)  # disposes its engine: PostgreSQL copies only a template nobody is connected to
        yield sa.make_url(url).database


@pytest.fixture
def migrated_postgres_url(postgres_template: str) -> Iterator[str]:
    """A PostgreSQL database of this test's own, migrated to head (a copy of :func:`postgres_template`: the same
    schema and Alembic version as migrating here, tests/test_database_templates.py holds it to that)."""
    with postgres_database(template=postgres_template) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_database(request: pytest.FixtureRequest, configure: Callable[..., None]) -> Iterator[Session]:
    """A session on a migrated database of each kind, made the app's configured one (PostgreSQL skipped when down,
    except on CI)."""
    if request.param == "sqlite":
        url = request.getfixturevalue("sqlite_url")
    else:
        url = request.getfixturevalue("migrated_postgres_url")
    configure(OO_DATABASE_URL=url)
    engine = db.get_engine()
    with Session(engine, expire_on_commit=False) as session:
        yield session
        session.rollback()
    engine.dispose()
