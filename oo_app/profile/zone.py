"""A person's time zone: oO starts a new person in their browser's zone, unless they chose one themselves.

``users.tz`` is the zone oO reads a person's day in (quiet hours, push timing, the agents' history); the first sign-in
sets it from the provider's ``zoneinfo`` claim, else to :data:`DEFAULT_ZONE`. A zone the person chose is never
overwritten here: the one they set on the settings page (the time-of-day agent's ``tz`` preference with source
``user``) and the one their provider sent (the person set it there), so the browser's zone only fills in for a person
still in the default. A zone from the browser is checked at this boundary: one this machine does not know is ignored
with a log line, never an error to the person.
Functions here flush and never commit: the caller's session is the transaction.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, select

from oo_app.clock import DEFAULT_ZONE, known_zone
from oo_app.models import PrefSource, User, UserPreference

log = logging.getLogger(__name__)

ZONE_KEY = "tz"  # the agent parameter that carries the zone (time-of-day)


def own_zone(session: Session, user: User) -> str | None:
    """The zone the person set themselves on the settings page, or None when they never did."""
    return session.exec(
        select(UserPreference.value).where(
            UserPreference.user_id == user.id, UserPreference.key == ZONE_KEY, UserPreference.source == PrefSource.user
        )
    ).first()


def adopt_browser_zone(session: Session, user: User, name: Any) -> bool:
    """Make ``name``, the IANA zone the person's browser runs in, their zone (``users.tz``) while they are still in
    :data:`DEFAULT_ZONE` and never set their own on the settings page.

    What oO inferred from the former zone (``tz`` preferences of source ``inferred``) follows it, so quiet hours are
    read on the new clock before the agents run again. Whether the zone was stored: False for a zone this machine does
    not know (logged, ignored), for a person who set their own zone or whose provider sent one, or when it is their
    zone already.
    """
    zone = known_zone(name)
    if zone is None:
        log.info("ignored a browser time zone this machine does not know for person %s: %r", user.id, str(name)[:64])
        return False
    if user.tz != DEFAULT_ZONE or zone == DEFAULT_ZONE or own_zone(session, user) is not None:
        return False
    user.tz = zone
    session.add(user)
    inferred = session.exec(
        select(UserPreference).where(
            UserPreference.user_id == user.id,
            UserPreference.key == ZONE_KEY,
            UserPreference.source == PrefSource.inferred,
        )
    )
    for row in inferred:
        row.value, row.updated_at = zone, datetime.now(UTC)
        session.add(row)
    session.flush()
    log.info("person %s now in their browser's time zone", user.id)
    return True
