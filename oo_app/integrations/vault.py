"""The token vault: provider tokens encrypted at rest with ``MultiFernet`` over ``OO_TOKEN_KEYS`` (newest first).

The newest key encrypts; every listed key decrypts. To change keys, put a new key in front, run :func:`rotate`
(``oo integrations rotate-keys``), then drop the old key: no token is lost on the way. A plain token never reaches
the database, a log line or an error message. Outside development an empty ``OO_TOKEN_KEYS`` is an error; in
development a key is generated once into ``data/token.key`` (git-ignored), never derived from a default secret.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlmodel import Session, col, or_, select

from oo_app.devkeys import read_or_create
from oo_app.integrations.errors import NotConnected, UnreadableToken, VaultNotConfigured
from oo_app.models import Integration, utcnow
from oo_app.settings import Settings, get_settings

log = logging.getLogger(__name__)

KEY_HELP = (
    'generate one with `oo integrations generate-key` (or python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())") and set OO_TOKEN_KEYS=\'["<key>"]\''
)
TOKEN_COLUMNS = ("access_token_enc", "refresh_token_enc", "sync_token_enc")


class TokenVault:
    """Encrypts and decrypts provider tokens: ``keys[0]`` encrypts, any of ``keys`` decrypts."""

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        if not keys:
            raise VaultNotConfigured(f"the token vault has no key; {KEY_HELP}")
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key))
            except (ValueError, TypeError):
                raise VaultNotConfigured(
                    f"token key #{position} of {len(keys)} is not a Fernet key (32 url-safe base64-encoded bytes); "
                    + KEY_HELP
                ) from None
        self._newest = fernets[0]
        self._fernets = MultiFernet(fernets)

    def encrypt(self, token: str) -> str:
        return self._fernets.encrypt(token.encode()).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        """The plain token; raises ``cryptography.fernet.InvalidToken`` when no key of the vault opens it."""
        return self._fernets.decrypt(ciphertext.encode("ascii")).decode()

    def is_current(self, ciphertext: str) -> bool:
        """Whether ``ciphertext`` is already encrypted with the newest key."""
        try:
            self._newest.decrypt(ciphertext.encode("ascii"))
        except InvalidToken:
            return False
        return True

    def rotate(self, ciphertext: str) -> str:
        """``ciphertext`` re-encrypted with the newest key; raises ``InvalidToken`` when no key opens it."""
        return self._fernets.rotate(ciphertext.encode("ascii")).decode("ascii")


def load_keys(settings: Settings) -> list[str]:
    """The vault's keys, newest first: ``OO_TOKEN_KEYS``, else (development only) the generated key file."""
    if settings.token_keys:
        return [key.get_secret_value() for key in settings.token_keys]
    if settings.env != "development":
        raise VaultNotConfigured(
            f"OO_TOKEN_KEYS is empty: with OO_ENV={settings.env} the token vault needs at least one key; {KEY_HELP}"
        )
    return _development_keys(settings.token_key_file)


def _development_keys(path: Path) -> list[str]:
    """The keys of the development key file (one a line, newest first), generating it with one key if missing."""
    keys, created = read_or_create(path, lambda: Fernet.generate_key().decode("ascii"))
    if not keys:
        raise VaultNotConfigured(f"{path} holds no key; delete it to have one generated, or set OO_TOKEN_KEYS")
    if created:
        log.warning(
            "token vault: OO_TOKEN_KEYS is empty, so a development key was generated into %s; "
            "tokens stored with it are lost if the file is deleted. Set OO_TOKEN_KEYS outside development.",
            path,
        )
    return keys


def get_vault(settings: Settings | None = None) -> TokenVault:
    """The vault of the current settings; raises :class:`VaultNotConfigured` with what to set when it has no key."""
    return TokenVault(load_keys(settings or get_settings()))


def check_vault() -> None:
    """Fail fast at start-up when the vault cannot work (no key, or a malformed one)."""
    get_vault()


def describe(integration: Integration) -> str:
    """How errors and logs name an integration: provider, row and person, never a token."""
    return f"the {integration.provider} integration #{integration.id} of person #{integration.user_id}"


@dataclass(frozen=True)
class StoredTokens:
    """An integration's decrypted tokens, held in memory only for the request that needs them."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None


def read_tokens(integration: Integration, vault: TokenVault | None = None) -> StoredTokens:
    """Decrypt ``integration``'s tokens.

    Raises :class:`NotConnected` when it holds none, :class:`UnreadableToken` (naming the integration) when they were
    encrypted with a key the vault does not have.
    """
    if integration.access_token_enc is None:
        raise NotConnected(f"{integration.provider} is not connected; connect it from the settings page")
    vault = vault or get_vault()
    try:
        access = vault.decrypt(integration.access_token_enc)
        refresh = vault.decrypt(integration.refresh_token_enc) if integration.refresh_token_enc else None
    except InvalidToken:
        raise UnreadableToken(
            f"the tokens of {describe(integration)} were encrypted with a key that is not in OO_TOKEN_KEYS: "
            "an operator can put that key back (after the newest), or the person can reconnect"
        ) from None
    return StoredTokens(access_token=access, refresh_token=refresh, expires_at=integration.expires_at)


def store_tokens(
    integration: Integration,
    access_token: str,
    refresh_token: str | None,
    expires_at: datetime | None,
    vault: TokenVault | None = None,
) -> None:
    """Encrypt and set ``integration``'s tokens (the caller commits)."""
    vault = vault or get_vault()
    integration.access_token_enc = vault.encrypt(access_token)
    integration.refresh_token_enc = vault.encrypt(refresh_token) if refresh_token else None
    integration.expires_at = expires_at
    integration.updated_at = utcnow()


def forget_tokens(integration: Integration) -> None:
    """Drop ``integration``'s tokens, their expiry and its sync token (the caller commits)."""
    integration.access_token_enc = None
    integration.refresh_token_enc = None
    integration.sync_token_enc = None
    integration.expires_at = None
    integration.updated_at = utcnow()


@dataclass(frozen=True)
class RotationReport:
    rotated: int  # tokens re-encrypted with the newest key
    current: int  # tokens already encrypted with it, left as they were

    def as_dict(self) -> dict[str, Any]:
        return {"rotated": self.rotated, "current": self.current}


def rotate(session: Session, vault: TokenVault | None = None) -> RotationReport:
    """Re-encrypt every stored token with the newest key, within the caller's transaction.

    Idempotent: tokens already under the newest key are left untouched, so a second run rotates nothing. All or
    nothing: if any token opens with none of the keys, nothing is changed and :class:`UnreadableToken` names every
    such integration.
    """
    vault = vault or get_vault()
    rows = session.exec(
        select(Integration)
        .where(or_(col(Integration.access_token_enc).is_not(None), col(Integration.refresh_token_enc).is_not(None)))
        .order_by(col(Integration.id))
        .with_for_update()
    ).all()
    changes: list[tuple[Integration, str, str]] = []
    unreadable: list[str] = []
    current = 0
    for integration in rows:
        for column in TOKEN_COLUMNS:
            ciphertext = getattr(integration, column)
            if ciphertext is None:
                continue
            if vault.is_current(ciphertext):
                current += 1
                continue
            try:
                changes.append((integration, column, vault.rotate(ciphertext)))
            except InvalidToken:
                unreadable.append(f"{describe(integration)} ({column})")
    if unreadable:
        raise UnreadableToken(
            "key rotation stopped, nothing changed: no key in OO_TOKEN_KEYS opens "
            + "; ".join(unreadable)
            + ". Put the missing key back (after the newest) and rotate again, or disconnect those integrations."
        )
    for integration, column, ciphertext in changes:
        setattr(integration, column, ciphertext)
    session.flush()
    return RotationReport(rotated=len(changes), current=current)
