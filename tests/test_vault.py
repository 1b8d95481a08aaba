"""The token vault: tokens encrypted at rest, keys rotated without losing one, clear errors for missing keys.

Rotation runs on SQLite and on PostgreSQL; the vault's keys come from ``OO_TOKEN_KEYS`` as in production.
"""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from oo_app.api import api
from oo_app.demo import seed_demo
from oo_app.integrations.cli import integrations
from oo_app.integrations.errors import UnreadableToken, VaultNotConfigured
from oo_app.integrations.vault import TokenVault, get_vault, read_tokens, rotate, store_tokens
from oo_app.models import Integration, User
from tests.auth_helpers import sign_in
from tests.conftest import NOW

OLD_KEY, NEW_KEY, STRANGER_KEY = (Fernet.generate_key().decode() for _ in range(3))
TOKENS = {
    "demo@example.com": ("access-demo-3f9a1c", "refresh-demo-77b2e0"),
    "ada@example.com": ("access-ada-c04d5e", None),
}

PRODUCTION_SECRET = "a-production-secret-of-at-least-32-characters"


@pytest.fixture
def database(any_database: Session, configure: Callable[..., None]) -> Session:
    """A migrated database of either kind, made the app's configured one, outside development (no key file)."""
    configure(OO_ENV="test")
    return any_database


def keys(*values: str) -> str:
    return json.dumps(list(values))


def connect_people(session: Session, vault: TokenVault) -> dict[str, int]:
    """Two people with Todoist tokens stored by ``vault``: {email: integration id}."""
    ids = {}
    for email, (access, refresh) in TOKENS.items():
        user = seed_demo(session, email, now=NOW) if email == "demo@example.com" else User(email=email)
        session.add(user)
        session.flush()
        integration = Integration(user_id=user.id, provider="todoist", scopes="data:read")
        store_tokens(integration, access, refresh, None, vault)
        session.add(integration)
        session.flush()
        ids[email] = integration.id
    session.commit()
    return ids


def all_plain_tokens(session: Session, vault: TokenVault) -> dict[str, tuple[str, str | None]]:
    session.expire_all()
    people = {user.id: user.email for user in session.exec(select(User)).all()}
    found = {}
    for integration in session.exec(select(Integration)).all():
        tokens = read_tokens(integration, vault)
        found[people[integration.user_id]] = (tokens.access_token, tokens.refresh_token)
    return found


def test_a_token_is_stored_encrypted_and_reads_back() -> None:
    vault = TokenVault([NEW_KEY])
    ciphertext = vault.encrypt("access-demo-3f9a1c")
    assert "access-demo-3f9a1c" not in ciphertext
    assert vault.decrypt(ciphertext) == "access-demo-3f9a1c"


def test_a_token_under_an_old_key_still_decrypts_until_rotated() -> None:
    under_old = TokenVault([OLD_KEY]).encrypt("access-demo-3f9a1c")
    vault = TokenVault([NEW_KEY, OLD_KEY])
    assert vault.decrypt(under_old) == "access-demo-3f9a1c"
    assert not vault.is_current(under_old), "the old key's token is not yet under the newest key"


def test_rotation_reencrypts_every_token_under_the_newest_key_and_loses_none(
    database: Session, configure: Callable[..., None]
) -> None:
    configure(OO_TOKEN_KEYS=keys(OLD_KEY))
    connect_people(database, get_vault())

    configure(OO_TOKEN_KEYS=keys(NEW_KEY, OLD_KEY))
    report = rotate(database)
    database.commit()

    assert report.rotated == 3, "two access tokens and one refresh token were under the old key"
    assert all_plain_tokens(database, TokenVault([NEW_KEY])) == TOKENS, "the newest key alone opens every token"


def test_rotation_is_idempotent(database: Session, configure: Callable[..., None]) -> None:
    configure(OO_TOKEN_KEYS=keys(OLD_KEY))
    connect_people(database, get_vault())
    configure(OO_TOKEN_KEYS=keys(NEW_KEY, OLD_KEY))
    rotate(database)
    database.commit()
    before = {row.id: (row.access_token_enc, row.refresh_token_enc) for row in database.exec(select(Integration))}

    again = rotate(database)
    database.commit()

    assert (again.rotated, again.current) == (0, 3)
    after = {row.id: (row.access_token_enc, row.refresh_token_enc) for row in database.exec(select(Integration))}
    assert after == before, "a second rotation rewrote nothing"


def test_a_token_under_an_unknown_key_is_a_clear_error_naming_the_integration(
    database: Session, configure: Callable[..., None]
) -> None:
    configure(OO_TOKEN_KEYS=keys(STRANGER_KEY))
    ids = connect_people(database, get_vault())
    configure(OO_TOKEN_KEYS=keys(NEW_KEY, OLD_KEY))
    integration = database.get(Integration, ids["ada@example.com"])

    with pytest.raises(UnreadableToken) as caught:
        read_tokens(integration)

    message = str(caught.value)
    assert f"todoist integration #{integration.id}" in message
    assert "OO_TOKEN_KEYS" in message
    assert "access-ada" not in message


def test_rotation_with_an_unreadable_token_changes_nothing(database: Session, configure: Callable[..., None]) -> None:
    configure(OO_TOKEN_KEYS=keys(OLD_KEY))
    ids = connect_people(database, get_vault())
    stray = database.get(Integration, ids["ada@example.com"])
    stray.access_token_enc = TokenVault([STRANGER_KEY]).encrypt("access-ada-c04d5e")
    database.commit()
    before = {row.id: (row.access_token_enc, row.refresh_token_enc) for row in database.exec(select(Integration))}

    configure(OO_TOKEN_KEYS=keys(NEW_KEY, OLD_KEY))
    with pytest.raises(UnreadableToken, match=f"integration #{stray.id}"):
        rotate(database)
    database.rollback()

    after = {row.id: (row.access_token_enc, row.refresh_token_enc) for row in database.exec(select(Integration))}
    assert after == before, "rotation is all or nothing"


def test_an_unreadable_token_does_not_break_unrelated_requests(
    demo_user: User, session: Session, configure: Callable[..., None]
) -> None:
    configure(
        OO_TOKEN_KEYS=keys(NEW_KEY),
        OO_ENV="test",
        OO_TODOIST_CLIENT_ID="oo",
        OO_TODOIST_CLIENT_SECRET="secret",
        OO_TODOIST_API_URL="http://127.0.0.1:9/api/v1",  # never reached: the token does not open
    )
    integration = Integration(user_id=demo_user.id, provider="todoist", scopes="data:read")
    store_tokens(integration, "access-demo-3f9a1c", None, None, TokenVault([STRANGER_KEY]))
    session.add(integration)
    session.commit()

    with TestClient(api, raise_server_exceptions=False) as client:
        sign_in(client, session, demo_user)
        tip = client.post("/api/recommend")
        status = client.get("/api/integrations")
        sync = client.post("/api/integrations/todoist/sync")

    assert tip.status_code == 200, tip.text
    assert status.status_code == 200
    assert status.json()["integrations"][0]["status"] == "connected"
    assert sync.status_code == 409
    assert f"todoist integration #{integration.id}" in sync.json()["error"]


def test_outside_development_no_key_is_a_clear_error(configure: Callable[..., None], tmp_path: Path) -> None:
    configure(
        OO_ENV="production",
        OO_SECRET_KEY="a-production-secret-of-at-least-32-characters",
        OO_TOKEN_KEYS="[]",
        OO_TOKEN_KEY_FILE=str(tmp_path / "token.key"),
    )
    with pytest.raises(VaultNotConfigured, match="OO_TOKEN_KEYS is empty"):
        get_vault()
    assert not (tmp_path / "token.key").exists(), "no key is made up outside development"


def test_a_malformed_key_is_a_clear_error_that_does_not_echo_it(configure: Callable[..., None]) -> None:
    configure(
        OO_ENV="production",
        OO_SECRET_KEY="a-production-secret-of-at-least-32-characters",
        OO_TOKEN_KEYS=keys(NEW_KEY, "not-a-fernet-key"),
    )
    with pytest.raises(VaultNotConfigured, match="token key #2 of 2 is not a Fernet key") as caught:
        get_vault()
    assert "not-a-fernet-key" not in str(caught.value)


def test_development_generates_one_key_into_the_key_file(
    configure: Callable[..., None], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "data" / "token.key"
    configure(OO_ENV="development", OO_TOKEN_KEYS="[]", OO_TOKEN_KEY_FILE=str(path))
    with caplog.at_level(logging.WARNING, logger="oo_app.integrations.vault"):
        ciphertext = get_vault().encrypt("access-demo-3f9a1c")
    assert str(path) in caplog.text, "the generation is logged with where the key went"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert get_vault().decrypt(ciphertext) == "access-demo-3f9a1c", "the next start reads the same key"
    assert len(path.read_text().split()) == 1


def test_cli_rotate_keys_reports_what_it_rotated(session: Session, configure: Callable[..., None]) -> None:
    configure(OO_TOKEN_KEYS=keys(OLD_KEY), OO_ENV="test")
    connect_people(session, get_vault())
    configure(OO_TOKEN_KEYS=keys(NEW_KEY, OLD_KEY))

    result = CliRunner().invoke(integrations, ["rotate-keys"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.splitlines()[0]) == {"rotated": 3, "current": 0}
    assert all_plain_tokens(session, TokenVault([NEW_KEY])) == TOKENS


def test_cli_rotate_keys_fails_clearly_on_an_unknown_key(session: Session, configure: Callable[..., None]) -> None:
    configure(OO_TOKEN_KEYS=keys(STRANGER_KEY), OO_ENV="test")
    connect_people(session, get_vault())
    configure(OO_TOKEN_KEYS=keys(NEW_KEY))

    result = CliRunner().invoke(integrations, ["rotate-keys"])

    assert result.exit_code == 1
    assert "nothing changed" in result.output
    assert "Traceback" not in result.output
