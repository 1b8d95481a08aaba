"""People from OpenID Connect claims: the account (provider, subject) finds the person, or a new one is made.

An existing person is linked to a new account by email only when the provider says the email is verified, so an
unverified claim can never take over someone else's history. Admins are promoted from ``OO_ADMIN_EMAILS`` at
sign-in (never demoted here). No Reflex, no HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from oo_app.auth.errors import SignInFailed
from oo_app.models import OAuthAccount, Role, User

log = logging.getLogger(__name__)

NO_EMAIL = "Sign-in failed: your account at the provider shares no email address with oO. Try another account."
EMAIL_TAKEN = (
    "Sign-in failed: an oO account already uses this email, and the provider does not confirm it is yours. "
    "Verify the email at your provider, then try again."
)


def valid_zone(name: Any) -> str | None:
    """``name`` when it is an IANA time zone this machine knows, else None."""
    if not isinstance(name, str) or not name or len(name) > 64:
        return None
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError; bad paths raise ValueError
        return None
    return name


def person_for_claims(db: Session, provider: str, claims: Mapping[str, Any]) -> User:
    """The person behind verified ID-token ``claims`` of ``provider``: found by the account, linked, or created.

    Raises :class:`SignInFailed` when the claims carry no email, or when the email belongs to another person and is
    not verified by the provider.
    """
    subject = str(claims["sub"])
    account = db.exec(
        select(OAuthAccount).where(OAuthAccount.provider == provider, OAuthAccount.subject == subject)
    ).first()
    if account is not None:
        user = db.get(User, account.user_id)
        if user is not None:
            return user
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise SignInFailed(NO_EMAIL, reason=f"no email claim for subject {subject!r}")
    email = email.strip().lower()
    user = db.exec(select(User).where(User.email == email)).first()
    if user is None:
        user = _new_person(email, claims)
        db.add(user)
        db.flush()
    elif claims.get("email_verified") is not True:
        raise SignInFailed(EMAIL_TAKEN, status_code=409, reason=f"unverified email of an existing person ({provider})")
    db.add(OAuthAccount(user_id=user.id, provider=provider, subject=subject))
    db.flush()
    log.info("linked %s account %s to person %s", provider, subject, user.id)
    return user


def _new_person(email: str, claims: Mapping[str, Any]) -> User:
    name = claims.get("name")
    return User(
        email=email,
        display_name=name[:200] if isinstance(name, str) else "",
        tz=valid_zone(claims.get("zoneinfo")) or "UTC",
    )


def promote_admin(user: User, admin_emails: Iterable[str]) -> User:
    """Gives ``user`` the admin role when their email is listed (case-insensitive)."""
    if user.role != Role.admin and user.email.lower() in {email.strip().lower() for email in admin_emails}:
        user.role = Role.admin
        log.info("person %s promoted to admin (OO_ADMIN_EMAILS)", user.id)
    return user
