"""People from OpenID Connect claims: the account (provider, subject) finds the person, or a new one is made.

An email counts only when the ID token says ``email_verified: true``: only then is a person created, linked to a new
account or promoted to admin (``OO_ADMIN_EMAILS``, never demoted here) by it, so an unverified claim can never
pre-claim, take over or elevate anyone's account. No Reflex, no HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sqlmodel import Session, select

from oo_app.auth.errors import SignInFailed
from oo_app.clock import DEFAULT_ZONE, known_zone
from oo_app.models import OAuthAccount, Role, User

log = logging.getLogger(__name__)

NO_EMAIL = "Sign-in failed: your account at the provider shares no email address with oO. Try another account."
EMAIL_UNVERIFIED = (
    "Sign-in failed: your provider does not confirm that this email address is yours. "
    "Verify the email at your provider, then try again."
)


def verified_email(claims: Mapping[str, Any]) -> str | None:
    """The claims' email, lowercased, when the provider says it verified it (``email_verified`` is true), else None."""
    email = claims.get("email")
    if claims.get("email_verified") is not True or not isinstance(email, str) or "@" not in email:
        return None
    return email.strip().lower()


def person_for_claims(db: Session, provider: str, claims: Mapping[str, Any]) -> User:
    """The person behind verified ID-token ``claims`` of ``provider``: found by the account, linked, or created.

    A new account is linked to the person with its email, or a person is made for it, only when that email is verified
    (:func:`verified_email`). Otherwise the sign-in is refused (:class:`SignInFailed`, 403) rather than making a person
    without an email link: oO reaches and identifies people by email (one unique address per person), and a person
    made from a claim nobody checked could hold the address of someone who has not signed up yet, to be linked to
    their verified sign-in later. A provider that never verifies emails gets no accounts here. An account already
    linked signs in by (provider, subject) alone, whatever its claims say now.
    Raises :class:`SignInFailed` when the claims carry no email (400) or an unverified one (403).
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
    email = verified_email(claims)
    if email is None:
        raise SignInFailed(EMAIL_UNVERIFIED, status_code=403, reason=f"unverified email claim ({provider})")
    user = db.exec(select(User).where(User.email == email)).first()
    if user is None:
        user = _new_person(email, claims)
        db.add(user)
        db.flush()
    db.add(OAuthAccount(user_id=user.id, provider=provider, subject=subject))
    db.flush()
    log.info("linked %s account %s to person %s", provider, subject, user.id)
    return user


def _new_person(email: str, claims: Mapping[str, Any]) -> User:
    name = claims.get("name")
    return User(
        email=email,
        display_name=name[:200] if isinstance(name, str) else "",
        tz=known_zone(claims.get("zoneinfo")) or DEFAULT_ZONE,
        onboarded_at=None,  # a new person meets the first run (oo_app/profile/first_run.py)
    )


def promote_admin(user: User, admin_emails: Iterable[str], verified: str | None) -> User:
    """Gives ``user`` the admin role when their email is listed (case-insensitive) and is ``verified``: the address
    this sign-in vouches for (:func:`verified_email` of its claims). An unverified sign-in promotes nobody."""
    listed = {email.strip().lower() for email in admin_emails}
    if user.role != Role.admin and verified is not None and verified == user.email.lower() and verified in listed:
        user.role = Role.admin
        log.info("person %s promoted to admin (OO_ADMIN_EMAILS)", user.id)
    return user
