"""Server-side sessions: a random token in an HttpOnly cookie, only its SHA-256 hash in the ``sessions`` table.

A session lasts ``OO_SESSION_DAYS``; an expired one is refused and deleted when it is next presented. The CSRF token
of a session is an HMAC of its token under ``OO_SECRET_KEY``, so it needs no column and dies with the session.
Where cookies are Secure the two cookies are named with the ``__Host-`` prefix (:func:`session_cookie`,
:func:`csrf_cookie`): read them by those functions, never by a literal name. Never log or store a raw token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, delete, select

from oo_app.auth.errors import Unauthenticated
from oo_app.auth.oidc import is_local
from oo_app.models import Session as SessionRow
from oo_app.models import User, utcnow
from oo_app.settings import Settings, get_settings

SESSION_COOKIE = "oo_session"  # the names on http://localhost; see session_cookie() and csrf_cookie()
CSRF_COOKIE = "oo_csrf"
HOST_PREFIX = "__Host-"
TOKEN_BYTES = 32
SIGN_IN_AGAIN = "sign in first: this request carries no valid session (it may have expired)"


def secure_cookies(settings: Settings | None = None) -> bool:
    """Whether oO's cookies are Secure: unless ``OO_APP_URL`` is on this machine (plain http://localhost)."""
    return not is_local((settings or get_settings()).app_url)


def session_cookie(settings: Settings | None = None) -> str:
    """The session cookie's name: ``__Host-oo_session`` where cookies are Secure (as in production), so that only
    this exact origin over HTTPS can set it (no subdomain, no plain-http page can plant or shadow one); ``oo_session``
    on http://localhost, where browsers refuse the prefix."""
    return HOST_PREFIX + SESSION_COOKIE if secure_cookies(settings) else SESSION_COOKIE


def csrf_cookie(settings: Settings | None = None) -> str:
    """The CSRF cookie's name, prefixed like :func:`session_cookie` (``static/push.js`` reads it by that name)."""
    return HOST_PREFIX + CSRF_COOKIE if secure_cookies(settings) else CSRF_COOKIE


def hash_token(token: str) -> str:
    """The stored form of a session token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token_for(token: str) -> str:
    """The CSRF token bound to a session token (HMAC-SHA256 under the secret key, hex)."""
    key = get_settings().secret_key.get_secret_value().encode()
    return hmac.new(key, b"oo-csrf:" + token.encode(), hashlib.sha256).hexdigest()


def start_session(db: Session, user: User, now: datetime | None = None) -> str:
    """Opens a session for ``user`` and returns its raw token (for the cookie only; the row keeps its hash)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = now or utcnow()
    lifetime = timedelta(days=get_settings().session_days)
    db.add(SessionRow(user_id=user.id, token_hash=hash_token(token), expires_at=now + lifetime, created_at=now))
    db.flush()
    return token


# The session and its person in one round trip: every page event and API call starts here. Built once (with its
# parameter bound at each call): building a statement costs more CPU than running it.
_SESSION_AND_PERSON = (
    select(SessionRow, User)
    .outerjoin(User, User.id == SessionRow.user_id)
    .where(SessionRow.token_hash == sa.bindparam("token_hash"))
)


def user_for_token(db: Session, token: str | None, now: datetime | None = None) -> User:
    """The person whose live session ``token`` opens; raises :class:`Unauthenticated` otherwise.

    An expired session is deleted and committed here before refusing it, so the refusal does not roll it back.
    """
    if not token:
        raise Unauthenticated(SIGN_IN_AGAIN)
    found = db.exec(_SESSION_AND_PERSON, params={"token_hash": hash_token(token)}).first()
    if found is None:
        raise Unauthenticated(SIGN_IN_AGAIN)
    row, user = found
    if row.expires_at <= (now or utcnow()):
        db.delete(row)
        db.commit()
        raise Unauthenticated(SIGN_IN_AGAIN)
    if user is None:  # the row cascades with its person; only a concurrent deletion gets here
        raise Unauthenticated(SIGN_IN_AGAIN)
    return user


def end_session(db: Session, token: str | None) -> bool:
    """Deletes the session of ``token``; whether there was one."""
    if not token:
        return False
    result = db.exec(delete(SessionRow).where(SessionRow.token_hash == hash_token(token)))
    return bool(result.rowcount)
