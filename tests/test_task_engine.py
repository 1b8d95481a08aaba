"""The task engine: one procrastinate app carries the jobs of every domain, and the app starts every in-process loop,
both from the one list of domains.
No PostgreSQL needed: the app is built, never opened. That the agents never reach up into the engine, push or the UI
is an import contract (``pyproject.toml``, checked by ``tests/test_structure.py``).
"""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Callable

import pytest
from pydantic import ValidationError

from oo_app import housekeeping
from oo_app.calendar import jobs as calendar_jobs
from oo_app.integrations import jobs as integration_jobs
from oo_app.push import jobs as push_jobs
from oo_app.settings import ROOT, Settings
from oo_app.tasks import agent_jobs, engine
from oo_app.tasks.domains import DOMAINS, LIFESPAN_TASKS

QUEUE_URL = "postgresql+psycopg://127.0.0.1:5432/test"  # trust auth; building the app never connects


def test_the_workers_run_the_jobs_of_every_domain(configure: Callable[..., None]) -> None:
    configure(OO_DATABASE_URL=QUEUE_URL)
    app = engine.get_app()

    expected = {
        agent_jobs.COMPUTE_TASK,
        agent_jobs.ENQUEUE_TASK,
        push_jobs.PUSH_TASK,
        housekeeping.FINISH_DELETIONS_TASK,
        housekeeping.PURGE_TASK,
        integration_jobs.SYNC_TASK,
        calendar_jobs.SYNC_TASK,
    }
    assert expected <= set(app.tasks), f"tasks missing from the engine's app: {expected - set(app.tasks)}"
    periodic = {task.task.name: task.cron for task in app.periodic_registry.periodic_tasks.values()}
    assert periodic == {
        agent_jobs.ENQUEUE_TASK: "* * * * *",
        push_jobs.PUSH_TASK: "* * * * *",
        housekeeping.FINISH_DELETIONS_TASK: "*/10 * * * *",
        housekeeping.PURGE_TASK: "17 3 * * *",
        integration_jobs.SYNC_TASK: "* * * * *",
        calendar_jobs.SYNC_TASK: "* * * * *",
    }


def test_the_agents_tick_follows_its_setting(configure: Callable[..., None]) -> None:
    configure(OO_DATABASE_URL=QUEUE_URL, OO_JOBS_TICK_CRON="* * * * * */2")
    periodic = {task.task.name: task.cron for task in engine.get_app().periodic_registry.periodic_tasks.values()}
    assert periodic[agent_jobs.ENQUEUE_TASK] == "* * * * * */2"
    assert periodic[push_jobs.PUSH_TASK] == "* * * * *", "only the agents' tick is set"


@pytest.mark.parametrize("value", ["every minute", "* * *", "61 * * * *"])
def test_a_tick_that_is_no_cron_expression_is_refused_in_words(value: str) -> None:
    with pytest.raises(ValidationError, match=r"OO_JOBS_TICK_CRON .* is not a cron expression"):
        Settings(jobs_tick_cron=value)


def test_task_names_stay_those_of_jobs_already_queued() -> None:
    names = (agent_jobs.COMPUTE_TASK, agent_jobs.ENQUEUE_TASK, push_jobs.PUSH_TASK)
    assert names == ("oo.compute_agent_output", "oo.enqueue_due_and_recover", "oo.deliver_push"), (
        "renaming a task strands the jobs already waiting under the old name"
    )
    assert (housekeeping.FINISH_DELETIONS_TASK, housekeeping.PURGE_TASK) == ("oo.finish_deletions", "oo.purge")
    assert integration_jobs.SYNC_TASK == "oo.sync_todoist"


def test_the_job_queue_refuses_a_database_that_is_not_postgresql(configure: Callable[..., None]) -> None:
    configure(OO_DATABASE_URL="sqlite:///oo.db", OO_JOBS_DATABASE_URL="")
    with pytest.raises(engine.JobQueueUnavailable, match="OO_JOBS_DATABASE_URL"):
        engine.get_app()


def test_every_inprocess_loop_stays_off_when_the_scheduler_is(configure: Callable[..., None]) -> None:
    configure(OO_SCHEDULER_ENABLED="false")
    assert (
        agent_jobs.agent_scheduler,
        push_jobs.push_scheduler,
        housekeeping.housekeeping_scheduler,
        integration_jobs.todoist_scheduler,
        calendar_jobs.calendar_scheduler,
    ) == LIFESPAN_TASKS
    for task in LIFESPAN_TASKS:
        asyncio.run(asyncio.wait_for(task(), timeout=5))  # returns at once, or times out


def registers_of_jobs() -> set[str]:
    """Every module of the product that defines ``register(app: App)``: a domain that has jobs, read from the source."""
    found = set()
    for path in sorted((ROOT / "oo_app").rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name == "register" and node.args.args:
                annotation = node.args.args[0].annotation
                if isinstance(annotation, ast.Name) and annotation.id == "App":
                    found.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return found


def test_every_domain_with_jobs_is_listed_once_with_its_register_and_its_loop_together() -> None:
    registers = registers_of_jobs()
    assert {"oo_app.push.jobs", "oo_app.housekeeping"} <= registers, f"the scan misses registers: {registers}"
    listed = [domain.register.__module__ for domain in DOMAINS]
    assert sorted(listed) == sorted(registers), "list each domain that has jobs once in oo_app/tasks/domains.py"
    apart = [domain.name for domain in DOMAINS if domain.loop.__module__ != domain.register.__module__]
    assert not apart, f"a domain's in-process loop lives beside its register: {apart}"
    assert tuple(domain.loop for domain in DOMAINS) == LIFESPAN_TASKS, "the app starts every domain's loop"
