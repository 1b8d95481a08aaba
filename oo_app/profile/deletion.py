"""Account deletion: everything oO holds about a person goes, on their explicit confirmation.

Contract of :func:`delete_account`: the person confirms by typing their email address or ``CONFIRMATION_PHRASE``;
then their calendars are disconnected (:func:`oo_app.calendar.connections.disconnect_all`: Google's grant
revoked, the busy times in memory forgotten) and their provider tokens revoked
(:func:`oo_app.integrations.revocation.revoke_all`), their ``users`` row is
deleted (``ON DELETE CASCADE`` removes every person-owned row) and no row of theirs may remain in any person-owned
table, else nothing is deleted. Their MLflow traces are deleted last, in every experiment: an unreachable store is
never a reason to keep the account; the deletion is then recorded in ``pending_deletions`` (their bare id, nothing
else) in the same transaction, and :func:`finish_deletions` (``oo privacy finish-deletions`` and the scheduler)
deletes the traces once the store answers. With tracing switched off the store is not opened. The caller commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, col, select

from oo_app.calendar import connections as calendars
from oo_app.calendar.sources import KINDS as CALENDAR_KINDS
from oo_app.erasure import delete_traces, error_text
from oo_app.errors import InvalidInput
from oo_app.integrations import revocation
from oo_app.models import PendingDeletion, User
from oo_app.profile.export import person_tables

log = logging.getLogger(__name__)

CONFIRMATION_PHRASE = "delete my account"


@dataclass(frozen=True)
class DeletionReport:
    """What deleting an account removed: rows per table (``users`` included), what happened to the provider tokens
    and to the MLflow traces (``traces_deleted`` is None when they could not be deleted, ``traces`` says why)."""

    user_id: int
    removed: dict[str, int]
    tokens: str
    traces: str
    traces_deleted: int | None
    notes: list[str] = field(default_factory=list)


class DeletionIncomplete(RuntimeError):
    """Rows of the person survived the deletion of their ``users`` row; the transaction must roll back."""


def confirms_deletion(user: User, confirmation: str) -> bool:
    """Whether ``confirmation`` is the person's email address or the confirmation phrase (case and spaces aside)."""
    typed = " ".join(str(confirmation).split()).casefold()
    return bool(typed) and typed in {user.email.strip().casefold(), CONFIRMATION_PHRASE}


def _counts(session: Session, user_id: int) -> dict[str, int]:
    return {
        table.name: session.exec(sa.select(sa.func.count()).select_from(table).where(column == user_id)).scalar_one()
        for table, column in person_tables()
    }


def _revoke_tokens(session: Session, user: User) -> str:
    try:
        with session.begin_nested():
            results = calendars.disconnect_all(session, user)
            # The calendars are disconnected already: their rows add nothing to the revocations.
            results += [r for r in revocation.revoke_all(session, user) or [] if r.provider not in CALENDAR_KINDS]
    except Exception as error:
        log.exception("revoking the provider tokens of user %s failed; deleting the account anyway", user.id)
        return (
            f"could not be revoked ({type(error).__name__}); oO deleted them, but remove oO's access in the settings "
            "of each service you connected"
        )
    if not results:
        return "none: no service was connected"
    failed = [result.provider for result in results if result.revocation == "failed"]
    if failed:
        return (
            f"deleted; {', '.join(failed)} did not confirm the revocation, so remove oO's access in its settings "
            "as well"
        )
    return f"revoked at {', '.join(result.provider for result in results)} and deleted"


@dataclass(frozen=True)
class FinishReport:
    """What one pass over the pending deletions did: the persons whose traces are now deleted, those still pending,
    and why the pass stopped (None when nothing failed)."""

    finished: list[int]
    pending: list[int]
    error: str | None = None


def finish_deletions(session: Session) -> FinishReport:
    """Delete the MLflow traces of every pending deletion, oldest first; a finished deletion's row goes.

    Stops at the first failure, counted on that deletion with its error: the others use the same store and would
    fail alike. The caller commits.
    """
    from oo_app import trace_deletion  # imports mlflow

    rows = list(session.exec(select(PendingDeletion).order_by(col(PendingDeletion.requested_at))))
    finished: list[int] = []
    for row in rows:
        try:
            deleted = trace_deletion.delete_user_traces(row.person_id)
        except Exception as error:
            row.attempts, row.last_error = row.attempts + 1, error_text(error)
            session.add(row)
            session.flush()
            log.warning("pending trace deletion of user %s failed again (%s)", row.person_id, row.last_error)
            pending = [r.person_id for r in rows if r.person_id not in finished]
            return FinishReport(finished=finished, pending=pending, error=row.last_error)
        session.delete(row)
        session.flush()
        finished.append(row.person_id)
        log.info("finished the deletion of user %s: %d MLflow traces deleted", row.person_id, deleted)
    return FinishReport(finished=finished, pending=[])


def pending_count(session: Session) -> int:
    """How many deletions wait for the trace store (cheap: the scheduler asks before importing mlflow)."""
    return session.exec(select(sa.func.count()).select_from(PendingDeletion)).one()


def delete_account(session: Session, user: User, confirmation: str) -> DeletionReport:
    """Delete ``user`` and everything stored about them, once ``confirmation`` confirms it (see the module).

    Raises InvalidInput, deleting nothing, when the confirmation is neither their email nor the phrase; raises
    :class:`DeletionIncomplete` when a row of theirs survives (the caller's transaction then rolls back).
    """
    if not confirms_deletion(user, confirmation):
        raise InvalidInput(f"to delete your account, type your email address or {CONFIRMATION_PHRASE!r}")
    user_id = user.id
    removed = _counts(session, user_id)
    tokens = _revoke_tokens(session, user)
    removed[User.__tablename__] = session.exec(sa.delete(User).where(User.id == user_id)).rowcount or 0
    session.flush()
    remaining = {name: count for name, count in _counts(session, user_id).items() if count}
    if remaining or not removed[User.__tablename__]:
        raise DeletionIncomplete(f"user {user_id}: rows remain after deleting the account: {remaining}")
    traces, traces_deleted = delete_traces(session, user_id)
    log.info("deleted the account of user %s: %s", user_id, removed)
    return DeletionReport(
        user_id=user_id,
        removed=removed,
        tokens=tokens,
        traces=traces,
        traces_deleted=traces_deleted,
        notes=["Your account and everything oO stored about you are deleted; signing in again starts afresh."],
    )
