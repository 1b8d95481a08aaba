"""Stored times (:class:`oo_app.models.UTCDateTime`): written in any zone, read back as the same instant in aware UTC,
to the microsecond, on every database; a naive time is refused before anything is written."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from oo_app.models import Event, User


def _person(session: Session) -> User:
    user = User(email="times@example.com", display_name="times", tz="Europe/Berlin")
    session.add(user)
    session.flush()
    return user


@pytest.mark.parametrize(
    "written",
    [
        datetime(2026, 3, 29, 3, 30, 15, 123456, tzinfo=ZoneInfo("Europe/Berlin")),  # just after the spring change
        datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Berlin")),  # the second 02:30 of the autumn
        datetime(2026, 11, 20, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_a_stored_time_reads_back_as_the_same_instant_in_utc(any_database: Session, written: datetime) -> None:
    session = any_database
    user = _person(session)
    session.add(Event(user_id=user.id, type="app_open", at=written))
    session.commit()
    session.expire_all()

    read = session.exec(select(Event.at).where(Event.user_id == user.id)).one()
    assert read.tzinfo is UTC
    # (Compared in UTC: Python never finds an instant of a repeated hour equal to one in another zone.)
    assert read == written.astimezone(UTC), "the same instant, to the microsecond"
    assert read.timestamp() == written.timestamp()


def test_a_naive_time_is_refused_and_nothing_is_written(session: Session) -> None:
    user = _person(session)
    session.commit()
    session.add(Event(user_id=user.id, type="app_open", at=datetime(2026, 11, 20, 12)))
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        session.flush()
    session.rollback()
    assert session.exec(select(Event).where(Event.user_id == user.id)).all() == []
