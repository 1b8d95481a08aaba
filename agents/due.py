"""When a task is due, as its task manager states it: read on a person's clock only where it is used.

A :class:`Due` is a full-day date, a floating wall time (that time on the person's clock, wherever they are) or a fixed
moment. It holds no person's zone, so what keeps one (the in-memory cache of open tasks) stays true when the person's
zone changes; whoever reads it passes the zone in effect then. Never import the database or an integration here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo

END_OF_DAY = time(23, 59, 59)  # a full-day due falls due at the end of its day


@dataclass(frozen=True, slots=True)
class Due:
    """``when`` is a ``date`` (due that whole day), a naive ``datetime`` (a floating wall time) or an aware
    ``datetime`` (a fixed moment)."""

    when: date | datetime

    def day_on(self, clock: tzinfo) -> date:
        """The calendar day it is due on the clock ``clock``: a date or a floating time is its own day wherever the
        person is; a fixed moment falls on the day ``clock`` reads it."""
        if isinstance(self.when, datetime):
            return self.when.astimezone(clock).date() if self.when.tzinfo else self.when.date()
        return self.when

    def moment_on(self, clock: tzinfo) -> datetime:
        """When it falls due, in aware UTC, for a person on the clock ``clock``: a full day at its end (23:59:59
        there), a floating time at that wall time there, a fixed moment as it is."""
        if isinstance(self.when, datetime):
            moment = self.when if self.when.tzinfo else self.when.replace(tzinfo=clock)
        else:
            moment = datetime.combine(self.when, END_OF_DAY, tzinfo=clock)
        return moment.astimezone(UTC)
