"""What a deleted person leaves behind, cleaned: their MLflow traces, and the background work that outlives them.

:func:`delete_traces` deletes a person's traces in every experiment, or records the deletion in
``pending_deletions`` when the store cannot be reached (:func:`oo_app.profile.deletion.finish_deletions` finishes
it). Shadow tips, tips written ahead and agent jobs run after the request that started them, so the person may
delete their account meanwhile. The foreign keys to ``users`` refuse the job's rows then; :func:`unless_gone` turns
that refusal into :class:`PersonGone` (the job's transaction rolls back, the job logs one quiet line), and
:func:`forget_late_work` deletes the MLflow traces such a job wrote after the deletion had swept them.

This module stands low (models, settings, the database): the agents, the recommender and the profile use it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from oo_app.db import session_scope
from oo_app.models import PendingDeletion, User
from oo_app.settings import get_settings

log = logging.getLogger(__name__)

ERROR_CHARS = 500  # of a failed sweep's error kept on its pending deletion


def error_text(error: Exception) -> str:
    """The type and message of ``error``, cut to what a pending deletion keeps."""
    return f"{type(error).__name__}: {error}"[:ERROR_CHARS]


def record_pending(session: Session, user_id: int, error: Exception) -> PendingDeletion:
    """Record (or count another failed attempt of) the trace deletion of deleted person ``user_id``; flushed."""
    pending = session.get(PendingDeletion, user_id)
    if pending is None:
        pending = PendingDeletion(person_id=user_id, last_error=error_text(error))
    else:
        pending.attempts, pending.last_error = pending.attempts + 1, error_text(error)
    session.add(pending)
    session.flush()
    return pending


def delete_traces(session: Session, user_id: int) -> tuple[str, int | None]:
    """Delete the MLflow traces of person ``user_id`` in every experiment; what happened, and how many went (None
    when none could be deleted). An unreachable store records a pending deletion in ``session``; never raises it."""
    if not get_settings().tracing_enabled:
        log.warning("tracing is switched off: the MLflow traces of user %s, if any, were not deleted", user_id)
        return "not deleted: tracing is switched off here, so oO does not open its trace store", None
    try:
        from oo_app import trace_deletion  # imports mlflow: only when there are traces to delete

        deleted = trace_deletion.delete_user_traces(user_id)
    except Exception as error:
        log.warning(
            "could not delete the MLflow traces of user %s (%s: %s); recorded as a pending deletion",
            user_id,
            type(error).__name__,
            error,
        )
        record_pending(session, user_id, error)
        return (
            f"not deleted yet: the trace store could not be reached ({type(error).__name__}); oO deletes them as soon "
            "as it answers again",
            None,
        )
    return f"deleted {deleted}", deleted


class PersonGone(Exception):
    """The person a background job worked for was deleted meanwhile: the job wrote nothing."""

    def __init__(self, user_id: int) -> None:
        super().__init__(f"person {user_id} was deleted while a background job worked for them")
        self.user_id = user_id


def person_exists(bind: Engine | Session, user_id: int) -> bool:
    """Whether person ``user_id`` exists, asked of the database on a connection of its own (``bind``'s engine): a
    session whose flush failed cannot ask, and its identity map may still hold the deleted row."""
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    with engine.connect() as connection:
        found = connection.execute(sa.select(User.id).where(User.id == user_id)).first()
    return found is not None


@contextmanager
def unless_gone(session: Session, user_id: int) -> Iterator[None]:
    """Run a job's writes for person ``user_id``; raise :class:`PersonGone` instead of the error when they fail
    because the person no longer exists (a foreign key refused a row, or a row to update was deleted with them).

    Any other failure propagates unchanged. The caller's transaction must roll back either way.
    """
    try:
        yield
    except (sa.exc.IntegrityError, StaleDataError) as error:
        if person_exists(session, user_id):
            raise
        raise PersonGone(user_id) from error


def forget_late_work(engine: Engine, user_id: int) -> None:
    """Delete the traces a job of deleted person ``user_id`` may have written after their deletion swept the store;
    when the store cannot be reached, record the deletion as pending (see :mod:`oo_app.profile.deletion`)."""
    try:
        with session_scope(engine) as session:
            delete_traces(session, user_id)
    except Exception:
        log.exception("could not record the pending trace deletion of deleted person %s", user_id)
