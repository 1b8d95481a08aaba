"""The runner's reading of many persons' histories at one moment: a few queries for the whole group, as numbers.

Each person's events and task completions come back as :class:`agents.columns.EventColumn` /
:class:`agents.columns.CompletionColumn`: the database joins each column of the whole group into one string (SQLite
its stored timestamps, PostgreSQL integer epoch microseconds), which numpy turns into epoch microseconds at once, so
no row object or datetime is built per moment. The histories equal what :func:`agents.runner.load_history` reads
person by person (the round test compares them on SQLite and PostgreSQL).

Why one long module: the group statements, the decoding of what they return and the fall back to rows are one read.
The decoder splits on the separators and letters the statements write in, and the fall back reads what the decoder
refuses: apart, they would be coupled through each other's private constants.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session, col, select

from agents.base import MOOD_CONSENT, MOOD_EVENT, MOOD_LEVELS, TipOutcome, UserHistory
from agents.busy import CALENDAR_CONSENT, CalendarDay
from agents.columns import NO_DUE, CompletionColumn, EventColumn, moment
from agents.names import plain_name
from oo_app.clock import as_utc, zone
from oo_app.models import CalendarDayRecord, Consent, Event, EventType, TaskCompletion, Tip, User


def is_level(value: object) -> bool:
    """A mood check-in's level as stored: an int of :data:`agents.base.MOOD_LEVELS` (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value in MOOD_LEVELS


def read_histories(session: Session, users: Sequence[User], since: datetime, now: datetime) -> dict[int, UserHistory]:
    """Each person's history of ``(since, now]`` as :func:`agents.runner.load_history` reads it, by person id."""
    ids = [user.id for user in users if user.id is not None]
    if not ids:
        return {}
    dialect = session.get_bind().dialect.name
    events, moods = _events(session, dialect, ids, since, now)
    completions = _completions(session, dialect, ids, since, now)
    # Built as they are: the rows are already kept and ordered as UserHistory.build keeps them (build and a replace
    # cost four times as much a person); only check-ins go through build.
    moment, histories = as_utc(now), {}
    for user in users:
        mine = moods.get(user.id)
        checked_in = UserHistory.build((), (), user.tz, now, moods=mine).moods if mine else ()
        tz = str(zone(user.tz))
        histories[user.id] = UserHistory(events[user.id], completions[user.id], tz, moment, moods=checked_in)
    return histories


SEPARATOR = "\x1f"  # joins a text column's values (a value holding it is read again as rows)
# How SQLite holds a moment (SQLAlchemy's format, joined without a separator: every one is this wide), and a missing
# one in a group read: the first moment of year 1.
STORED = "YYYY-MM-DD HH:MM:SS.ffffff"
STORED_WIDTH = len(STORED)
DIGITS = np.array([char.isalpha() for char in STORED])
SEPARATORS = np.frombuffer(STORED.encode(), dtype=np.uint8)[~DIGITS]
NONE = "0001-01-01 00:00:00.000000"
NONE_STORED = int((np.datetime64(NONE.replace(" ", "T"), "us") - np.datetime64(0, "us")).astype(np.int64))
# A text of a known vocabulary comes as one letter a row, its value's position in the vocabulary; any other value
# as UNKNOWN (read apart). No vocabulary is longer than the letters.
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
UNKNOWN = "?"
POSITION = np.full(256, -2, dtype=np.int64)  # a letter's position; -1 for UNKNOWN, -2 for no letter of a code
POSITION[np.frombuffer(LETTERS.encode(), dtype=np.uint8)] = np.arange(len(LETTERS))
POSITION[ord(UNKNOWN)] = -1
KINDS = tuple(kind.value for kind in EventType)  # the events' kinds the app writes


def _constant(value: str | int) -> sa.ColumnElement:
    """``value`` written into the statement, not bound: SQLite reads a bound separator, CASE value or default anew
    for every row it joins (the events' read took twice as long with them bound)."""
    return sa.literal(value, literal_execute=True)


def _as_micros(column: sa.ColumnElement, dialect: str) -> sa.ColumnElement:
    """``column`` (a UTC timestamp) as numpy reads it back exactly: SQLite's stored text ('YYYY-MM-DD
    HH:MM:SS.ffffff', :data:`NONE` for none: a due date at that very moment would read as none), PostgreSQL's integer
    epoch microseconds (``extract`` is numeric since PostgreSQL 14: exact)."""
    if dialect == "sqlite":
        return sa.func.coalesce(column, _constant(NONE), type_=sa.Text)
    micros = sa.cast(sa.extract("epoch", column) * 1_000_000, sa.BigInteger)
    return sa.func.coalesce(micros, _constant(int(NO_DUE)), type_=sa.BigInteger)


def _joined(dialect: str, value: sa.ColumnElement, separator: str, order: Sequence[sa.ColumnElement]):
    """A person's selected rows' ``value``s as one string: in ``order`` on PostgreSQL, in the order SQLite reads them
    (an ORDER BY would make it copy the rows first, three times slower; :func:`_table` sorts them)."""
    if dialect == "sqlite":
        return sa.func.group_concat(value, _constant(separator), type_=sa.Text)
    from sqlalchemy.dialects.postgresql import aggregate_order_by

    text = sa.cast(value, sa.Text)
    return sa.func.string_agg(text, aggregate_order_by(_constant(separator), *order), type_=sa.Text)


def _micros(values: list[str] | list[int], dialect: str) -> np.ndarray:
    if dialect == "sqlite":
        micros = np.array(values, dtype="datetime64[us]").astype(np.int64)
        micros[micros == NONE_STORED] = NO_DUE
        return micros
    return np.array(values, dtype=np.int64)


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's days_from_civil), for years >= 1."""
    year = year - (month <= 2)
    era = year // 400
    of_era = year - era * 400
    of_year = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    return era * 146_097 + of_era * 365 + of_era // 4 - of_era // 100 + of_year - 719_468


def _parsed(text: str) -> np.ndarray | None:
    """SQLite's stored moments ('YYYY-MM-DD HH:MM:SS.ffffff', joined without a separator) as epoch microseconds,
    computed from their digits at once; None when any is stored otherwise (the group is then read as rows)."""
    raw = np.frombuffer(text.encode(), dtype=np.uint8)
    if len(raw) % STORED_WIDTH:
        return None
    # One row per character position, contiguous: each field is then a few passes over small integers.
    columns = raw.reshape(-1, STORED_WIDTH).T.copy()
    if not (columns[~DIGITS] == SEPARATORS[:, None]).all():
        return None
    columns -= np.uint8(48)
    if not (columns[DIGITS] < 10).all():
        return None

    def number(start: int, end: int) -> np.ndarray:
        value = columns[start].astype(np.int32)
        for position in range(start + 1, end):
            value *= 10
            value += columns[position]
        return value

    days = _days_from_civil(number(0, 4), number(5, 7), number(8, 10)).astype(np.int64)
    seconds = (number(11, 13) * 60 + number(14, 16)) * 60 + number(17, 19)
    micros = (days * 86_400 + seconds) * 1_000_000 + number(20, 26)
    micros[micros == NONE_STORED] = NO_DUE
    return micros


def _codes(values: list[str]) -> tuple[np.ndarray, list[str]]:
    """Each value's index into the distinct values (in order of first appearance), and those values."""
    index = {value: code for code, value in enumerate(dict.fromkeys(values))}
    return np.fromiter(map(index.__getitem__, values), np.int64, len(values)), list(index)


@dataclasses.dataclass(frozen=True)
class _Read:
    """One table's group read: the rows ``where`` selects in ``order`` (person, the first of ``columns``, id), their
    ``columns`` (timestamps) and ``texts``. A text named in ``known`` comes as codes into that vocabulary, which the
    database writes as one letter a row (its other values are read apart); one named in ``only`` (``name: (other
    text, value)``) is read only on the rows whose other text holds that value."""

    columns: dict[str, sa.ColumnElement]
    texts: dict[str, sa.ColumnElement]
    where: Sequence[sa.ColumnElement]
    order: Sequence[sa.ColumnElement]
    known: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    only: Mapping[str, tuple[str, str]] = dataclasses.field(default_factory=dict)

    @property
    def named(self) -> dict[str, sa.ColumnElement]:
        return {"user": self.order[0], **self.columns, **self.texts}


def _table(
    session: Session, read: _Read
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, tuple[np.ndarray, list[str]]]]:
    """The rows of ``read``: their persons, columns as epoch microseconds and texts as codes into their distinct
    values (-1 on the rows a text of ``only`` is not read on)."""
    dialect = session.get_bind().dialect.name
    joined = _joined_rows(session, dialect, read)
    if joined is None:  # a text held the separator, a value was null, or a moment was stored otherwise: read the rows
        named = read.named
        listed = session.exec(select(*named.values()).where(*read.where).order_by(*read.order)).all()  # type: ignore
        person = np.array([row[0] for row in listed], dtype=np.int64)
        values = {name: [row[i] for row in listed] for i, name in enumerate(named) if name != "user"}
        times = {name: _micros(values[name], dialect) for name in read.columns}
        coded = {name: _codes(values[name]) for name in read.texts if name not in read.only}
        for name, rows_of in _rows_of(coded, read.only).items():
            codes, distinct = _codes([values[name][i] for i in rows_of.tolist()])
            coded[name] = (_spread(codes, rows_of, len(person)), distinct)
    else:
        person, times, coded = joined
    first = times[next(iter(read.columns))]
    ascending = (np.diff(person) > 0) | ((np.diff(person) == 0) & (np.diff(first) >= 0))
    if not ascending.all():  # stable: rows of one moment stay in the order read (by id)
        index = np.lexsort((first, person))
        person, times = person[index], {name: column[index] for name, column in times.items()}
        coded = {name: (codes[index], distinct) for name, (codes, distinct) in coded.items()}
    return person, times, coded


def _joined_rows(
    session: Session, dialect: str, read: _Read
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, tuple[np.ndarray, list[str]]]] | None:
    """:func:`_table`'s answer read as one row a person, each column of their rows joined into one string (so no
    text of their id a row); None when a string does not split into one value a row. SQLite's moments are joined
    without a separator (each is as wide as :data:`STORED`), and a known vocabulary's letters too."""
    named = read.named
    rows = select(*(value.label(name) for name, value in named.items()), read.order[-1].label("id")).where(*read.where)
    rows = rows.subquery()
    ordered = [rows.c[next(iter(read.columns))], rows.c.id]
    moments_separator = "" if dialect == "sqlite" else ","

    def joined(name: str) -> sa.ColumnElement:
        if name in read.known:
            known = read.known[name]
            letters = {_constant(v): _constant(letter) for v, letter in zip(known, LETTERS[: len(known)], strict=True)}
            return _joined(dialect, sa.case(letters, value=rows.c[name], else_=_constant(UNKNOWN)), "", ordered)
        text = _joined(dialect, rows.c[name], SEPARATOR if name in read.texts else moments_separator, ordered)
        if name in read.only:
            other, value = read.only[name]
            return text.filter(rows.c[other] == _constant(value))
        return text

    found = session.exec(  # type: ignore[call-overload]
        select(rows.c.user, sa.func.count(), *(joined(name) for name in named if name != "user"))
        .group_by(rows.c.user)
        .order_by(rows.c.user)
    ).all()
    counts = np.fromiter((row[1] for row in found), np.int64, len(found))
    person = np.repeat(np.fromiter((row[0] for row in found), np.int64, len(found)), counts)
    times: dict[str, np.ndarray] = {}
    values: dict[str, list[str]] = {}
    coded: dict[str, tuple[np.ndarray, list[str]]] = {}
    for index, name in enumerate(named):
        if name == "user":
            continue
        parts = [row[index + 1] for row in found]
        present = [part for part in parts if part is not None]
        if name not in read.only and len(present) < len(parts):
            return None  # a null value
        if name in read.known:
            codes = POSITION[np.frombuffer("".join(present).encode(), dtype=np.uint8)]
            if len(codes) != len(person) or (codes < -1).any():
                return None
            coded[name] = _with_unknown(session, read, name, codes)
            continue
        separator = SEPARATOR if name in read.texts else moments_separator
        text = separator.join(present) if present else None
        if name in read.columns and dialect == "sqlite":
            parsed = _parsed(text or "")
            if parsed is None:
                return None
            times[name] = parsed
            continue
        values[name] = [] if text is None else text.split(separator)
        if name in read.columns:
            times[name] = _micros(values[name], dialect)
    if any(len(times[name]) != len(person) for name in read.columns):
        return None
    plain = [name for name in read.texts if name not in read.only and name not in read.known]
    if any(len(values[name]) != len(person) for name in plain):
        return None
    coded.update((name, _codes(values[name])) for name in plain)
    for name, rows_of in _rows_of(coded, read.only).items():
        if len(values[name]) != len(rows_of):
            return None
        codes, distinct = _codes(values[name])
        coded[name] = (_spread(codes, rows_of, len(person)), distinct)
    return person, times, coded


def _with_unknown(session: Session, read: _Read, name: str, codes: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Text ``name``'s codes into its known vocabulary and, after it, its other values in order of first appearance:
    the rows coded -1 read apart (in the group read's order), rarely any."""
    known = list(read.known[name])
    unknown = np.flatnonzero(codes < 0)
    if not len(unknown):
        return codes, known
    value = read.named[name]
    others = session.exec(  # type: ignore[call-overload]
        select(value).where(*read.where, value.not_in(known)).order_by(*read.order)
    ).all()
    if len(others) != len(unknown):
        raise RuntimeError(f"{name}: {len(others)} values outside the vocabulary read for {len(unknown)} rows")
    other_codes, distinct = _codes(list(others))
    codes = codes.copy()
    codes[unknown] = other_codes + len(known)
    return codes, known + distinct


def _rows_of(
    coded: dict[str, tuple[np.ndarray, list[str]]], only: Mapping[str, tuple[str, str]]
) -> dict[str, np.ndarray]:
    """For each text of ``only``, the rows it is read on (those whose other text holds the value)."""
    found = {}
    for name, (other, value) in only.items():
        codes, distinct = coded[other]
        found[name] = np.flatnonzero(codes == distinct.index(value)) if value in distinct else np.zeros(0, np.int64)
    return found


def _spread(codes: np.ndarray, rows: np.ndarray, size: int) -> np.ndarray:
    """``codes`` on ``rows`` of ``size`` rows, -1 on the others."""
    spread = np.full(size, -1, dtype=np.int64)
    spread[rows] = codes
    return spread


def _split(person: np.ndarray, ids: Sequence[int]) -> dict[int, slice]:
    """Where each person's rows lie in ``person`` (ascending)."""
    wanted = np.asarray(ids, dtype=np.int64)
    starts = np.searchsorted(person, wanted).tolist()
    ends = np.searchsorted(person, wanted, side="right").tolist()
    return {person_id: slice(start, end) for person_id, start, end in zip(ids, starts, ends, strict=True)}


def _events(
    session: Session, dialect: str, ids: list[int], since: datetime, now: datetime
) -> tuple[dict[int, EventColumn], dict[int, list[tuple[datetime, int]]]]:
    """The events, and the check-ins of those who grant consent ``mood``: one reading of the events for both."""
    moods_of = set(granted(session, ids, MOOD_CONSENT))
    person, times, coded = _table(
        session,
        _Read(
            {"at": _as_micros(col(Event.at), dialect)},
            {"kind": col(Event.type), "payload": sa.cast(col(Event.payload), sa.Text)},
            (col(Event.user_id).in_(ids), Event.at >= since, Event.at <= now),
            (col(Event.user_id), col(Event.at), col(Event.id)),
            known={"kind": KINDS},
            only={"payload": ("kind", MOOD_EVENT)},  # the check-ins' levels: no text for every other event
        ),
    )
    (kind, kinds), (payloads, texts) = coded["kind"], coded["payload"]
    mood = kind == kinds.index(MOOD_EVENT) if MOOD_EVENT in kinds else np.zeros(len(kind), dtype=bool)
    moods: dict[int, list[tuple[datetime, int]]] = {}
    levels = [_level(text) for text in texts]
    rows = zip(times["at"][mood].tolist(), payloads[mood].tolist(), person[mood].tolist(), strict=True)
    for at, code, user_id in rows:
        if user_id in moods_of and is_level(levels[code]):
            moods.setdefault(user_id, []).append((moment(at), levels[code]))
    kept = ~mood
    person, at, kind = person[kept], times["at"][kept], kind[kept]
    events = {user_id: EventColumn(at[span], kind[span], kinds) for user_id, span in _split(person, ids).items()}
    return events, moods


def _level(payload: str) -> object:
    """The level a check-in's payload (JSON text) holds; None for none (or for a payload that is no object)."""
    value = json.loads(payload) if payload else None
    return value.get("level") if isinstance(value, dict) else None


def _completions(
    session: Session, dialect: str, ids: list[int], since: datetime, now: datetime
) -> dict[int, CompletionColumn]:
    done = col(TaskCompletion.completed_at)
    person, times, coded = _table(
        session,
        _Read(
            {"at": _as_micros(done, dialect), "due": _as_micros(col(TaskCompletion.due_at), dialect)},
            {"project": col(TaskCompletion.project)},
            (col(TaskCompletion.user_id).in_(ids), done >= since, done <= now),
            (col(TaskCompletion.user_id), done, col(TaskCompletion.id)),
        ),
    )
    project, raw = coded["project"]
    names = tuple(plain_name(name) for name in raw)
    return {
        user_id: CompletionColumn(times["at"][span], times["due"][span], project[span], names)
        for user_id, span in _split(person, ids).items()
    }


def granted(session: Session, ids: Sequence[int], key: str) -> list[int]:
    """Those of ``ids`` who grant consent ``key``."""
    return list(
        session.exec(
            select(Consent.user_id).where(
                col(Consent.user_id).in_(list(ids)),
                Consent.key == key,
                Consent.granted == True,  # noqa: E712
            )
        ).all()
    )


def read_tip_outcomes(
    session: Session, ids: Sequence[int], since: datetime, now: datetime
) -> dict[int, tuple[TipOutcome, ...]]:
    """:func:`agents.runner.tip_outcomes_of` for each of ``ids`` (every one present), in one query."""
    rows = session.exec(
        select(Tip.user_id, Tip.reacted_at, Tip.lead_agent, Tip.kind, Tip.reaction, Tip.context)
        .where(
            col(Tip.user_id).in_(list(ids)),
            Tip.shadow == False,  # noqa: E712
            col(Tip.reaction).is_not(None),
            col(Tip.reacted_at).is_not(None),
            col(Tip.reacted_at) >= since,
            col(Tip.reacted_at) <= now,
        )
        .order_by(col(Tip.user_id), col(Tip.reacted_at), col(Tip.id))
    ).all()
    found: dict[int, list[TipOutcome]] = {person: [] for person in ids}
    for person, at, lead, kind, reaction, context in rows:
        found[person].append(TipOutcome(at, lead, str(kind), str(reaction), context))
    return {person: tuple(outcomes) for person, outcomes in found.items()}


def read_calendar_days(session: Session, ids: Sequence[int], since: date) -> dict[int, tuple[CalendarDay, ...]]:
    """:func:`agents.runner.calendar_days_of` for each of ``ids`` (every one present; empty without the consent)."""
    consenting = granted(session, ids, CALENDAR_CONSENT)
    found: dict[int, list[CalendarDay]] = {person: [] for person in ids}
    if consenting:
        record = CalendarDayRecord
        rows = session.exec(
            select(
                record.user_id,
                record.day,
                record.busy_minutes,
                record.meetings,
                record.first_busy_at,
                record.last_busy_at,
            )
            .where(col(record.user_id).in_(consenting), record.day >= since)
            .order_by(col(record.user_id), col(record.day))
        ).all()
        for person, *day in rows:
            found[person].append(CalendarDay(*day))
    return {person: tuple(days) for person, days in found.items()}
