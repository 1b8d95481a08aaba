"""The task engine: one procrastinate app carries the jobs of every domain, the app starts every in-process loop, and
the agents never reach up into the engine, push or the UI. No PostgreSQL needed: the app is built, never opened.
"""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Callable

import pytest

from oo_app import housekeeping
from oo_app.push import jobs as push_jobs
from oo_app.settings import ROOT
from oo_app.tasks import agent_jobs, engine

QUEUE_URL = "postgresql+psycopg://127.0.0.1:5432/test"  # trust auth; building the app never connects
AGENTS = ROOT / "agents"
# What an agent module may never import: the engine and push sit above the agents, Reflex is the UI's.
FORBIDDEN_IN_AGENTS = ("oo_app.tasks", "oo_app.push", "procrastinate", "reflex")


def test_the_workers_run_the_jobs_of_every_domain(configure: Callable[..., None]) -> None:
    configure(OO_DATABASE_URL=QUEUE_URL)
    app = engine.get_app()

    expected = {
        agent_jobs.COMPUTE_TASK,
        agent_jobs.ENQUEUE_TASK,
        push_jobs.PUSH_TASK,
        housekeeping.FINISH_DELETIONS_TASK,
        housekeeping.PURGE_TASK,
    }
    assert expected <= set(app.tasks), f"tasks missing from the engine's app: {expected - set(app.tasks)}"
    periodic = {task.task.name: task.cron for task in app.periodic_registry.periodic_tasks.values()}
    assert periodic == {
        agent_jobs.ENQUEUE_TASK: "* * * * *",
        push_jobs.PUSH_TASK: "* * * * *",
        housekeeping.FINISH_DELETIONS_TASK: "*/10 * * * *",
        housekeeping.PURGE_TASK: "17 3 * * *",
    }


def test_task_names_stay_those_of_jobs_already_queued() -> None:
    names = (agent_jobs.COMPUTE_TASK, agent_jobs.ENQUEUE_TASK, push_jobs.PUSH_TASK)
    assert names == ("oo.compute_agent_output", "oo.enqueue_due_and_recover", "oo.deliver_push"), (
        "renaming a task strands the jobs already waiting under the old name"
    )
    assert (housekeeping.FINISH_DELETIONS_TASK, housekeeping.PURGE_TASK) == ("oo.finish_deletions", "oo.purge")


def test_the_job_queue_refuses_a_database_that_is_not_postgresql(configure: Callable[..., None]) -> None:
    configure(OO_DATABASE_URL="sqlite:///oo.db", OO_JOBS_DATABASE_URL="")
    with pytest.raises(engine.JobQueueUnavailable, match="OO_JOBS_DATABASE_URL"):
        engine.get_app()


def test_every_inprocess_loop_stays_off_when_the_scheduler_is(configure: Callable[..., None]) -> None:
    from oo_app.tasks.inprocess import LIFESPAN_TASKS, agent_scheduler

    configure(OO_SCHEDULER_ENABLED="false")
    assert (agent_scheduler, push_jobs.push_scheduler, housekeeping.housekeeping_scheduler) == LIFESPAN_TASKS
    for task in LIFESPAN_TASKS:
        asyncio.run(asyncio.wait_for(task(), timeout=5))  # returns at once, or times out


def imported_modules(source: str, package: str) -> set[str]:
    """Every module ``source`` (a module of ``package``) imports, anywhere in it (functions and ``TYPE_CHECKING``
    blocks included); ``from a import b`` counts as both ``a`` and ``a.b``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]) if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            found |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return found


def forbidden(imports: set[str]) -> set[str]:
    """The imports among ``imports`` that fall under :data:`FORBIDDEN_IN_AGENTS`."""
    return {name for name in imports if any(name == f or name.startswith(f"{f}.") for f in FORBIDDEN_IN_AGENTS)}


def test_the_agents_never_import_the_task_engine_push_or_reflex() -> None:
    imports = {
        path.relative_to(ROOT).as_posix(): imported_modules(
            path.read_text(), ".".join(path.relative_to(ROOT).parent.parts)
        )
        for path in sorted(AGENTS.rglob("*.py"))
    }
    assert "oo_app.models" in imports["agents/runner.py"], "the walk should see the agents' imports (none found)"

    offending = {(path, name) for path, names in imports.items() for name in forbidden(names)}
    assert offending == set(), "agents/ must not import the task engine, push, procrastinate or Reflex"


def test_the_import_walk_catches_a_forbidden_import_wherever_it_hides() -> None:
    source = """
from oo_app import push
from oo_app.tasks.engine import get_app
import reflex as rx

def later():
    from procrastinate.jobs import Job
"""
    assert forbidden(imported_modules(source, "agents")) >= {
        "oo_app.push",
        "oo_app.tasks.engine",
        "reflex",
        "procrastinate.jobs",
    }
    allowed = imported_modules("from oo_app.clock import as_utc\nfrom .base import Agent\n", "agents")
    assert "agents.base" in allowed, "a relative import should resolve within its package"
    assert forbidden(allowed) == set()
