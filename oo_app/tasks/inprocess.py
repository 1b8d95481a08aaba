"""The in-process engine: the app's lifespan tasks that run agents, push rounds, housekeeping and Todoist syncs.

The single-process twin of the workers (``OO_TASK_ENGINE=inprocess``): :data:`LIFESPAN_TASKS` lists every loop the
app starts, each of which returns at once when ``runs_inprocess_scheduler`` is off. Never import Reflex here: the app
registers the list.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from oo_app.calendar.jobs import calendar_scheduler
from oo_app.db import session_scope
from oo_app.housekeeping import housekeeping_scheduler
from oo_app.integrations.jobs import todoist_scheduler
from oo_app.push.jobs import push_scheduler
from oo_app.recommender import refresh_tips
from oo_app.settings import get_settings
from oo_app.tasks.scheduler import run_forever

log = logging.getLogger(__name__)


def _refresh(user_ids: set[int]) -> None:
    with session_scope() as session:
        refresh_tips(session, user_ids)


async def agent_scheduler() -> None:
    """Runs due agents for as long as the app lives, unless OO_SCHEDULER_ENABLED=0 or workers own the jobs."""
    settings = get_settings()
    if not settings.runs_inprocess_scheduler:
        log.info("in-process agent scheduler is off")
        return
    await run_forever(settings.scheduler_interval_s, _refresh)


LIFESPAN_TASKS: tuple[Callable[[], Coroutine[Any, Any, None]], ...] = (
    agent_scheduler,  # due agents every OO_SCHEDULER_INTERVAL_S, then fresher tips for their persons
    push_scheduler,  # a web push round every minute
    housekeeping_scheduler,  # pending deletions every ten minutes, the retention round daily
    todoist_scheduler,  # a Todoist round every minute: each person at their next attempt
    calendar_scheduler,  # a calendar round every minute: each person at their next attempt
)
