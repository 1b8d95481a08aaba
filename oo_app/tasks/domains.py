"""The domains that have jobs, listed once: each with the ``register(app)`` that adds its tasks to the procrastinate
app (the workers) and the loop the app runs as a lifespan task when no workers run (the in-process engine).

Adding a domain of jobs (e.g. a sync) is adding one :class:`Domain` to :data:`DOMAINS`: the engine builds its app from
the registers (:mod:`oo_app.tasks.engine`) and the app starts the loops (:data:`LIFESPAN_TASKS`), each of which
returns at once when ``runs_inprocess_scheduler`` is off. A domain's register and loop live in its own jobs module;
the domains never import this one. Never import Reflex here: the app registers the loops.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from oo_app import housekeeping
from oo_app.calendar import jobs as calendar_jobs
from oo_app.integrations import jobs as todoist_jobs
from oo_app.push import jobs as push_jobs
from oo_app.tasks import agent_jobs

if TYPE_CHECKING:
    from procrastinate import App

Loop = Callable[[], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Domain:
    """A domain's jobs on both engines: ``register`` adds its tasks and periodic tasks to a procrastinate app;
    ``loop`` does the same work in the app's own process, for as long as the app lives."""

    name: str
    register: Callable[[App], None]
    loop: Loop


DOMAINS = (
    # one job per due (person, agent); every minute, deferral and stalled-job recovery; in-process: due agents every
    # OO_SCHEDULER_INTERVAL_S, then fresher tips for their persons
    Domain("agents", agent_jobs.register, agent_jobs.agent_scheduler),
    Domain("push", push_jobs.register, push_jobs.push_scheduler),  # a web push round every minute
    # pending deletions every ten minutes, the retention round daily
    Domain("housekeeping", housekeeping.register, housekeeping.housekeeping_scheduler),
    # Todoist's syncs: a round every minute, each person at their next attempt
    Domain("todoist", todoist_jobs.register, todoist_jobs.todoist_scheduler),
    # calendar syncs (CalDAV, Google, ICS): a round every minute, each person at their next attempt
    Domain("calendar", calendar_jobs.register, calendar_jobs.calendar_scheduler),
)

LIFESPAN_TASKS: tuple[Loop, ...] = tuple(domain.loop for domain in DOMAINS)
