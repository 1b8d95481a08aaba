"""Background work of a person deleted while it ran: it writes nothing, it does not fail noisily, it leaves no trace.

Shadow tips, tips written ahead and agent jobs run after the request that started them, so the person may delete
their account meanwhile. The foreign keys to ``users`` refuse the job's rows then; :func:`unless_gone` turns that
refusal into :class:`PersonGone` (the job's transaction rolls back, the job logs one quiet line), and
:func:`forget_late_work` deletes the MLflow traces such a job wrote after the deletion had swept them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from oo_app.models import User

log = logging.getLogger(__name__)


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
    from oo_app.db import session_scope
    from oo_app.profile.deletion import delete_traces

    try:
        with session_scope(engine) as session:
            delete_traces(session, user_id)
    except Exception:
        log.exception("could not record the pending trace deletion of deleted person %s", user_id)
