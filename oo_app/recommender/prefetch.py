"""Tips written ahead: once a tip reaches the screen, its successor is written in the background, so that answering
the tip shows the next one at once instead of waiting on the model.

A tip written ahead has ``follows`` = the shown tip and no ``shown_at``: it *waits*. Waiting tips are invisible to
every question about the person's tips (their current tip, the recent tips a prompt lists, the hub's counts); the
only way out is :func:`take_waiting` after the person answers the tip it follows, and only while it is fresh (younger
than the shelf life and than the person's newest agent output). A waiting tip that is never taken (the shown tip was
replaced, or the person left) stays in the log, never shown. Shadow candidates write beside a tip written ahead once
it is taken, like beside any shown tip.

A tip written ahead differs from the tip it follows and from the person's last shown tips, as every shown tip must (a
model's paraphrase is overruled as it is written, :mod:`.orchestrator`): one that repeats them is discarded at once
(logged), and one that repeats a tip shown since it was written is not taken. Then the reaction path writes the next
tip itself.

The job runs on one background thread per process, on the database of the session that committed the shown tip.
It is metered (:mod:`.limits`): past the person's limit it writes nothing and logs that. A failing job is logged and
leaves the reaction path to write the next tip itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, func, select

from oo_app.erasure import PersonGone, forget_late_work, unless_gone
from oo_app.models import AgentOutput, Tip, User
from oo_app.ops import metrics
from oo_app.recommender import limits
from oo_app.recommender.background import BackgroundJobs
from oo_app.recommender.composer import normalized
from oo_app.recommender.learning import LEARNER
from oo_app.recommender.limits import TipLimitReached
from oo_app.recommender.orchestrator import recent_tip_texts
from oo_app.recommender.service import recommend
from oo_app.settings import get_settings

log = logging.getLogger(__name__)

_jobs = BackgroundJobs("prefetch")


# Built once, values bound at each call (every reaction runs them): see oo_app/recommender/feedback.py.
_SUCCESSOR = select(Tip).where(Tip.follows == sa.bindparam("shown_id"))
_FOLLOWER = aliased(Tip)
# The shown tip, its person, and whether a tip follows it already: what a tip written ahead starts from, in one read.
_SHOWN_AND_PERSON = (
    select(Tip, User, select(_FOLLOWER.id).where(_FOLLOWER.follows == Tip.id).exists())
    .join(User, col(User.id) == Tip.user_id)
    .where(Tip.id == sa.bindparam("shown_id"))
)
# The tip waiting to follow the answered one, with the time of its person's newest agent news (the learner's aside).
_SUCCESSOR_AND_NEWS = select(
    Tip,
    select(func.max(AgentOutput.computed_at))
    .where(AgentOutput.user_id == Tip.user_id, AgentOutput.agent_id != LEARNER)
    .scalar_subquery(),
).where(Tip.follows == sa.bindparam("shown_id"))


def waiting_successor(session: Session, shown_id: int) -> Tip | None:
    return session.exec(_SUCCESSOR, params={"shown_id": shown_id}).first()


def write_ahead(session: Session, shown_id: int, now: datetime | None = None) -> Tip | None:
    """Write the tip to follow the shown tip ``shown_id``; None when it needs none (gone, answered, not shown, a
    shadow, or already followed) or when what was written repeats the shown tip or a recent one (then nothing is
    stored). Raises :class:`~oo_app.erasure.PersonGone` when the person was deleted while
    it was written."""
    found = session.exec(_SHOWN_AND_PERSON, params={"shown_id": shown_id}).first()
    if found is None:
        return None
    shown, user, followed = found
    if shown.shadow or shown.shown_at is None or shown.reaction is not None or followed:
        return None
    # Read once: the tip being written waits (it is none of the recent tips), so they are the same after it.
    recent = recent_tip_texts(session, user.id)
    with unless_gone(session, shown.user_id):
        tip = recommend(session, user, now, follows=shown, recent=recent)
    # A model's paraphrase of these was overruled while it was written (:mod:`.orchestrator`); the composer repeats
    # itself only once every phrasing it has was shown, and that is no tip to hold ready.
    if _repeats(tip.text, [shown.text, *recent]):
        log.info("the tip written to follow tip %s repeats a recent tip: discarded, the reaction writes one", shown_id)
        session.delete(tip)
        session.flush()
        return None
    return tip


def _repeats(text: str, recent: list[str]) -> bool:
    return normalized(text) in {normalized(tip) for tip in recent}


def take_waiting(
    session: Session, user: User, answered: Tip, shelf_life: timedelta, now: datetime | None = None
) -> Tip | None:
    """The tip written ahead to follow ``answered``, if it is still fresh: then it stops waiting (the caller marks it
    shown) and its shadows are written; else None (the caller writes a new tip)."""
    from oo_app.recommender import shadow

    now = now or datetime.now(UTC)
    found = session.exec(_SUCCESSOR_AND_NEWS, params={"shown_id": answered.id}).first()
    if found is None:
        return None
    # The learner's output after the reaction being answered is not news that stales it: the tip after next reads it.
    tip, newest_output = found
    if tip.user_id != user.id or tip.shown_at is not None or tip.created_at + shelf_life <= now:
        return None
    if newest_output is not None and newest_output > tip.created_at:
        return None  # written before the agents' latest news
    # A tip shown since it was written (the person answered before it was ready) may say the same: compared as text
    # only, so that a reaction never waits on the embedder.
    if _repeats(tip.text, recent_tip_texts(session, user.id)):
        log.info("tip %s written ahead repeats a tip shown since; a new one is written", tip.id)
        return None
    metrics.tip_served(tip.model, tip.policy, 0.0)
    shadow.after_commit(session, tip)
    return tip


def after_commit(session: Session, shown: Tip) -> None:
    """Once ``session`` commits, write the successor of ``shown`` in the background (when the setting allows)."""
    if shown.shadow or not get_settings().prepare_next_tip:
        return
    shown_id, engine = shown.id, session.get_bind()
    event.listen(session, "after_commit", lambda _session: submit(engine, shown_id), once=True)


def _job(engine: Engine, shown_id: int) -> None:
    from oo_app.db import session_scope

    try:
        with session_scope(engine) as session, limits.metered():
            write_ahead(session, shown_id)
    except TipLimitReached as limited:
        log.info("no tip written to follow tip %s: past its person's tip limit (%s s)", shown_id, limited.retry_after_s)
    except PersonGone as gone:
        log.info("no tip written to follow tip %s: its person %s was deleted meanwhile", shown_id, gone.user_id)
        forget_late_work(engine, gone.user_id)
    except sa.exc.IntegrityError:
        log.info("tip %s already has a successor written ahead", shown_id)
    except Exception:
        log.exception("writing the tip to follow tip %s failed; the reaction will write one", shown_id)


def submit(engine: Engine, shown_id: int) -> Future[None]:
    """Write the successor of tip ``shown_id`` of the database behind ``engine``, in the background."""
    return _jobs.submit(_job, engine, shown_id)


def submit_in_order(job: Callable[..., None], *args: Any) -> Future[None]:
    """Run ``job(*args)`` on the write-ahead thread: before the tips written ahead that are submitted after it."""
    return _jobs.submit(job, *args)


def drain(timeout: float | None = None) -> bool:
    """Wait for the jobs submitted so far; True when all finished within ``timeout`` seconds."""
    return _jobs.drain(timeout)
