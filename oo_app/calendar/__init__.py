"""The calendar signal: busy times read from a CalDAV server, Google Calendar or a secret ICS address.

Derivatives only (docs/adr/0007-calendar-busy-intervals.md): the busy intervals of the next hours live in memory, each
local day's derivative is stored (``calendar_days``); no event title, description, attendee or location is kept.
Never import Reflex here.
"""
