"""What every kind of calendar answers: the busy intervals between two moments, nothing about what they are.

Contract of a :class:`CalendarSource`: :meth:`~CalendarSource.busy` returns the busy intervals that overlap
``[start, end)`` as :class:`agents.busy.BusyInterval` values (aware UTC, possibly overlapping, unclipped), expanding
recurrences (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides) on the event's own time zone. Cancelled events and
instances, free ("transparent") events and all-day events are not busy. Failures raise the integration errors of
:mod:`oo_app.integrations.errors` (``ProviderUnavailable`` for a transient failure, ``RateLimited`` with the wait the
provider asked, ``ReauthNeeded`` when the provider refuses oO's access) or :class:`InvalidCalendar`; never a library's
own exception, and never a title, a secret or a URL with its secret in a message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from agents.busy import BusyInterval
from oo_app.errors import OOError

# The ``integrations.provider`` value of each kind of calendar.
ICS = "calendar-ics"
CALDAV = "calendar-caldav"
GOOGLE = "google-calendar"
KINDS = (CALDAV, GOOGLE, ICS)


class InvalidCalendar(OOError):
    """What the address answered is not a calendar oO can read (not iCalendar, too large, no calendar found)."""

    status_code = 422


class CalendarSource(Protocol):
    """One person's connected calendar, ready to be read (credentials already decrypted, in memory only)."""

    kind: str

    def busy(self, start: datetime, end: datetime) -> list[BusyInterval]:
        """The busy intervals overlapping ``[start, end)``."""
        ...
