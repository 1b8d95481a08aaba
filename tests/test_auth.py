"""Signing in: OpenID Connect against a real provider on loopback, sessions, CSRF, the dev login, admins.

Each refusal is driven through the real routes with a real provider (``oidc-provider-mock`` behind a guard that
enforces PKCE), and checked for what matters: the plain page, and no session row.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import oidc_provider_mock
import pytest
from authlib.oidc.core import CodeIDToken
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.errors import InvalidClaimError
from joserfc.jwk import RSAKey
from pydantic import ValidationError
from sqlmodel import Session, select

from oo_app.api import api
from oo_app.auth.accounts import EMAIL_UNVERIFIED
from oo_app.auth.errors import Forbidden
from oo_app.auth.oidc import claims_options, forget_clients, with_login_state
from oo_app.auth.routes import (
    CODE_REFUSED,
    DENIED,
    DEV_LOGIN_OFF,
    MISCONFIGURED,
    TAMPERED,
    UNREACHABLE,
    UNVERIFIED,
)
from oo_app.auth.sessions import CSRF_COOKIE, SESSION_COOKIE, csrf_token_for, hash_token
from oo_app.deps import require_admin
from oo_app.models import OAuthAccount, Role, Tip, User, utcnow
from oo_app.models import Session as SessionRow
from oo_app.settings import Settings, get_settings
from tests.auth_helpers import Provider, csrf_headers, oidc_provider, s256, session_cookies, sign_in

APP_URL = "http://127.0.0.1:8000"
ADA = oidc_provider_mock.User(
    sub="ada-subject",
    claims={"email": "Ada@Example.COM", "email_verified": True, "name": "Ada", "zoneinfo": "Europe/Paris"},
)

PRODUCTION_SECRET = "a-production-secret-of-at-least-32-characters"


# --- fixtures and flow steps ---------------------------------------------------------------------------------------


@pytest.fixture
def provider() -> Iterator[Provider]:
    with oidc_provider([ADA]) as provider:
        yield provider


@pytest.fixture
def client_for(engine, configure: Callable[..., None]) -> Iterator[Callable[..., TestClient]]:
    """``client_for(OO_X=...)``: a browser-like client of the app (cookies kept) under those settings."""
    clients: list[TestClient] = []

    def make(**env: str) -> TestClient:
        configure(**{"OO_APP_URL": APP_URL, **env})
        forget_clients()
        client = TestClient(with_login_state(api), base_url=APP_URL, raise_server_exceptions=False)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
    forget_clients()


@pytest.fixture
def client(client_for: Callable[..., TestClient], provider: Provider) -> TestClient:
    return client_for(OO_OIDC_ISSUER=provider.issuer, OO_OIDC_CLIENT_ID="oo-test", OO_OIDC_CLIENT_SECRET="s3cret")


def begin(client: TestClient) -> str:
    """``GET /auth/login``: the provider's authorization URL the browser is sent to."""
    response = client.get("/auth/login", follow_redirects=False)
    assert response.status_code == 302, response.text
    return response.headers["location"]


def finish(client: TestClient, callback: str) -> httpx.Response:
    """The browser coming back to ``/auth/callback`` from the provider."""
    return client.get(callback, follow_redirects=False)


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    return urlunsplit(parts._replace(query=urlencode({**query, **changes})))


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def sign_in_with_provider(client: TestClient, provider: Provider, sub: str = ADA.sub) -> httpx.Response:
    return finish(client, provider.authorize(begin(client), sub))


def session_rows(session: Session) -> list[SessionRow]:
    session.expire_all()
    return list(session.exec(select(SessionRow)).all())


def set_cookies(response: httpx.Response) -> dict[str, SimpleCookie]:
    jars = {}
    for header in response.headers.get_list("set-cookie"):
        jar = SimpleCookie()
        jar.load(header)
        jars.update({name: jar for name in jar})
    return jars


def assert_refused(response: httpx.Response, message: str, session: Session, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert message in response.text.replace("&#x27;", "'")
    assert "Traceback" not in response.text
    assert SESSION_COOKIE not in set_cookies(response), "a refused sign-in sets no session cookie"
    assert session_rows(session) == [], "a refused sign-in opens no session"


# --- signing in with the provider ----------------------------------------------------------------------------------


def test_signing_in_creates_the_person_from_the_verified_claims(client: TestClient, session: Session, provider) -> None:
    response = sign_in_with_provider(client, provider)
    assert response.status_code == 303
    assert response.headers["location"] == f"{APP_URL}/"
    person = session.exec(select(User)).one()
    assert (person.email, person.display_name, person.tz) == ("ada@example.com", "Ada", "Europe/Paris")
    account = session.exec(select(OAuthAccount)).one()
    assert (account.user_id, account.provider, account.subject) == (person.id, provider.issuer, ADA.sub)


def test_the_session_cookie_is_httponly_and_only_its_hash_is_stored(client, session: Session, provider) -> None:
    response = sign_in_with_provider(client, provider)
    cookies = set_cookies(response)
    token = cookies[SESSION_COOKIE][SESSION_COOKIE]
    assert token["httponly"]
    assert token["samesite"].lower() == "lax"
    assert token["path"] == "/"
    assert not token["secure"], "plain HTTP on 127.0.0.1 keeps the cookie usable"
    csrf = cookies[CSRF_COOKIE][CSRF_COOKIE]
    assert not csrf["httponly"], "page scripts read the CSRF cookie to echo it"
    assert csrf.value == csrf_token_for(token.value)
    row = session_rows(session)[0]
    assert row.token_hash == hash_token(token.value)
    assert token.value not in row.token_hash
    assert timedelta(days=13.9) < row.expires_at - utcnow() <= timedelta(days=14)


def test_the_flow_uses_pkce_s256_state_and_nonce(client: TestClient, provider: Provider) -> None:
    authorize_url = begin(client)
    query = query_of(authorize_url)
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"]
    assert query["state"]
    assert query["nonce"]
    assert query["redirect_uri"] == f"{APP_URL}/auth/callback"
    assert finish(client, provider.authorize(authorize_url, ADA.sub)).status_code == 303
    assert provider.guard.pkce_verified == 1, "the token request carried the verifier of that challenge"


def test_a_signed_in_person_can_call_the_api(client: TestClient, session: Session, provider: Provider) -> None:
    sign_in_with_provider(client, provider)
    response = client.post("/api/recommend", headers={"X-CSRF-Token": client.cookies[CSRF_COOKIE]})
    assert response.status_code == 200, response.text
    person = session.exec(select(User)).one()
    assert response.json()["tip"]["id"] in {tip.id for tip in person_tips(session, person)}


def person_tips(session: Session, person: User) -> list[Tip]:
    return list(session.exec(select(Tip).where(Tip.user_id == person.id)).all())


def test_the_same_account_signs_in_as_the_same_person(client: TestClient, session: Session, provider) -> None:
    sign_in_with_provider(client, provider)
    sign_in_with_provider(client, provider)
    assert len(session.exec(select(User)).all()) == 1
    assert len(session.exec(select(OAuthAccount)).all()) == 1
    assert len(session_rows(session)) == 1, "signing in again closes the browser's previous session"


def test_a_verified_email_links_the_existing_person(client, session: Session, demo_user: User, provider) -> None:
    provider_user = oidc_provider_mock.User(
        sub="demo-sub", claims={"email": "DEMO@example.com", "email_verified": True}
    )
    httpx.put(f"{provider.issuer}/users/{provider_user.sub}", json=provider_user.claims).raise_for_status()
    assert sign_in_with_provider(client, provider, provider_user.sub).status_code == 303
    account = session.exec(select(OAuthAccount)).one()
    assert account.user_id == demo_user.id
    assert len(session.exec(select(User)).all()) == 1


def test_an_unverified_email_of_an_existing_person_is_refused(client, session: Session, demo_user, provider) -> None:
    httpx.put(f"{provider.issuer}/users/intruder", json={"email": demo_user.email}).raise_for_status()
    response = sign_in_with_provider(client, provider, "intruder")
    assert_refused(response, EMAIL_UNVERIFIED, session, status=403)
    assert session.exec(select(OAuthAccount)).all() == []


@pytest.mark.parametrize("verified", [False, "true", None], ids=["false", "a string", "absent"])
def test_an_unverified_email_never_creates_a_person(client, session: Session, provider, verified) -> None:
    claims = {"email": "newcomer@example.com", **({} if verified is None else {"email_verified": verified})}
    httpx.put(f"{provider.issuer}/users/newcomer", json=claims).raise_for_status()
    assert_refused(sign_in_with_provider(client, provider, "newcomer"), EMAIL_UNVERIFIED, session, status=403)
    assert session.exec(select(User)).all() == []


def test_unverified_email_never_claims_an_account(client_for, session: Session, provider: Provider) -> None:
    """Pre-claiming: an attacker signs up at the provider with the victim's address, unverified, and signs in to oO
    first; the victim signs in later with that address verified. Even listed as an admin, the attacker gets nothing."""
    client = client_for(
        OO_OIDC_ISSUER=provider.issuer, OO_OIDC_CLIENT_SECRET="s3cret", OO_ADMIN_EMAILS='["ada@example.com"]'
    )
    httpx.put(f"{provider.issuer}/users/attacker", json={"email": "ada@example.com"}).raise_for_status()
    attacker = sign_in_with_provider(client, provider, "attacker")
    assert_refused(attacker, EMAIL_UNVERIFIED, session, status=403)
    assert session.exec(select(User)).all() == [], "the attacker's claim made no person"

    assert sign_in_with_provider(client, provider, ADA.sub).status_code == 303
    victim = session.exec(select(User)).one()
    accounts = session.exec(select(OAuthAccount)).all()
    assert [(account.user_id, account.subject) for account in accounts] == [(victim.id, ADA.sub)]
    assert victim.role == Role.admin, "the verified owner of the listed address is the admin"


def test_an_admin_email_the_provider_no_longer_verifies_promotes_nobody(client_for, session, provider) -> None:
    """An account linked while its email was verified still signs in by its subject; listing that email later does
    not make it an admin while the provider no longer vouches for the address."""
    client = client_for(OO_OIDC_ISSUER=provider.issuer, OO_OIDC_CLIENT_SECRET="s3cret")
    assert sign_in_with_provider(client, provider).status_code == 303
    unverified = {**ADA.claims, "email_verified": False}
    httpx.put(f"{provider.issuer}/users/{ADA.sub}", json=unverified).raise_for_status()
    client = client_for(
        OO_OIDC_ISSUER=provider.issuer, OO_OIDC_CLIENT_SECRET="s3cret", OO_ADMIN_EMAILS='["ada@example.com"]'
    )
    assert sign_in_with_provider(client, provider).status_code == 303
    session.expire_all()
    assert session.exec(select(User)).one().role == Role.user


def test_an_unknown_zoneinfo_leaves_utc(client, session: Session, provider: Provider) -> None:
    httpx.put(
        f"{provider.issuer}/users/bo",
        json={"email": "bo@example.com", "email_verified": True, "zoneinfo": "Mars/Olympus"},
    ).raise_for_status()
    sign_in_with_provider(client, provider, "bo")
    assert session.exec(select(User)).one().tz == "UTC"


def test_listed_admin_emails_are_promoted_at_sign_in(client_for, session: Session, provider: Provider) -> None:
    client = client_for(
        OO_OIDC_ISSUER=provider.issuer, OO_OIDC_CLIENT_SECRET="s3cret", OO_ADMIN_EMAILS='["ADA@example.com"]'
    )
    sign_in_with_provider(client, provider)
    person = session.exec(select(User)).one()
    assert person.role == Role.admin
    assert require_admin(person) is person


def test_operator_routes_refuse_a_person_without_the_admin_role(demo_user: User) -> None:
    assert demo_user.role == Role.user
    with pytest.raises(Forbidden, match="OO_ADMIN_EMAILS"):
        require_admin(demo_user)


# --- refused sign-ins: the plain page, and no session --------------------------------------------------------------


def test_a_tampered_state_is_refused(client: TestClient, session: Session, provider: Provider) -> None:
    callback = provider.authorize(begin(client), ADA.sub)
    assert_refused(finish(client, with_query(callback, state="forged-state")), TAMPERED, session)


def test_a_non_ascii_state_is_refused_like_any_forged_state(client: TestClient, session: Session, provider) -> None:
    callback = provider.authorize(begin(client), ADA.sub)
    assert_refused(finish(client, with_query(callback, state="é-forged")), TAMPERED, session)


def test_a_callback_from_another_browser_is_refused(client_for, client, session: Session, provider) -> None:
    """Login CSRF: an attacker's own callback URL, opened in the victim's browser (which never began that flow)."""
    callback = provider.authorize(begin(client), ADA.sub)
    victim = client_for(OO_OIDC_ISSUER=provider.issuer, OO_OIDC_CLIENT_ID="oo-test", OO_OIDC_CLIENT_SECRET="s3cret")
    assert_refused(finish(victim, callback), TAMPERED, session)


def test_a_replayed_callback_is_refused(client: TestClient, session: Session, provider: Provider) -> None:
    callback = provider.authorize(begin(client), ADA.sub)
    assert finish(client, callback).status_code == 303
    [first] = session_rows(session)
    replay = finish(client, callback)
    assert replay.status_code == 400
    assert TAMPERED in replay.text.replace("&#x27;", "'")
    assert [row.id for row in session_rows(session)] == [first.id], "no second session"


def test_a_replayed_code_under_a_fresh_state_is_refused(client: TestClient, session: Session, provider) -> None:
    first = provider.authorize(begin(client), ADA.sub)
    assert finish(client, first).status_code == 303
    code = query_of(first)["code"]
    fresh = query_of(provider.authorize(begin(client), ADA.sub))
    replay = finish(client, f"{APP_URL}/auth/callback?{urlencode({'code': code, 'state': fresh['state']})}")
    assert replay.status_code == 400
    assert CODE_REFUSED in replay.text
    assert len(session_rows(session)) == 1, "no second session"


def test_a_code_bound_to_another_pkce_challenge_is_refused(client, session: Session, provider: Provider) -> None:
    """An intercepted flow finished with the attacker's own PKCE challenge: the app's verifier does not match."""
    authorize_url = with_query(begin(client), code_challenge=s256("the-attackers-verifier"))
    response = finish(client, provider.authorize(authorize_url, ADA.sub))
    assert_refused(response, CODE_REFUSED, session)
    assert provider.guard.pkce_refused == 1


def test_an_id_token_with_another_nonce_is_refused(client, session: Session, provider, caplog) -> None:
    authorize_url = with_query(begin(client), nonce="a-nonce-this-browser-never-sent")
    with caplog.at_level(logging.WARNING, logger="oo_app.auth.routes"):
        response = finish(client, provider.authorize(authorize_url, ADA.sub))
    assert_refused(response, UNVERIFIED, session)
    assert provider.guard.pkce_verified == 1, "the exchange itself succeeded; the ID token was refused"
    assert "nonce" in caplog.text


def test_an_id_token_from_another_issuer_is_refused(client, session: Session, provider: Provider, caplog) -> None:
    provider.guard.token_host = f"127.0.0.1:{provider.port}"  # a validly signed token naming another issuer
    with caplog.at_level(logging.WARNING, logger="oo_app.auth.routes"):
        response = sign_in_with_provider(client, provider)
    assert_refused(response, UNVERIFIED, session)
    assert "iss" in caplog.text


def test_an_id_token_signed_by_another_key_is_refused(client, session: Session, provider: Provider) -> None:
    with oidc_provider() as impostor:
        provider.guard.jwks = impostor.public_keys()  # the app trusts keys that did not sign the token
        response = sign_in_with_provider(client, provider)
    assert_refused(response, UNVERIFIED, session)


def test_an_id_token_for_another_audience_fails_the_claims_check(configure) -> None:
    """Authlib, given oO's claims options, refuses a token minted for another client (the mock cannot be made to)."""
    configure(OO_OIDC_ISSUER="https://id.example", OO_OIDC_CLIENT_ID="oo")
    key = RSAKey.generate_key(2048)
    now = int(utcnow().timestamp())
    claims = {"iss": "https://id.example", "sub": "x", "aud": "someone-else", "iat": now, "exp": now + 60, "nonce": "n"}
    token = jwt.decode(jwt.encode({"alg": "RS256"}, claims, key), key)
    id_token = CodeIDToken(
        token.claims, token.header, claims_options(get_settings()), {"nonce": "n", "client_id": "oo"}
    )
    with pytest.raises(InvalidClaimError, match="aud"):
        id_token.validate()


def test_a_denied_authorization_shows_the_plain_page(client: TestClient, session: Session, provider) -> None:
    assert_refused(finish(client, provider.deny(begin(client))), DENIED, session)


def test_an_unreachable_provider_shows_the_plain_page(client_for, session: Session) -> None:
    client = client_for(OO_OIDC_ISSUER="http://127.0.0.1:9")
    assert_refused(client.get("/auth/login", follow_redirects=False), UNREACHABLE, session, status=502)


def test_a_client_the_provider_does_not_accept_shows_the_operator_is_needed(client_for, session, provider) -> None:
    """A public client (no secret): oidc-provider-mock 0.3.4 only takes client_secret_basic/post, so it refuses."""
    client = client_for(OO_OIDC_ISSUER=provider.issuer, OO_OIDC_CLIENT_SECRET="")
    assert_refused(sign_in_with_provider(client, provider), MISCONFIGURED, session, status=502)


def test_without_a_provider_sign_in_says_it_is_not_configured(client_for, session: Session) -> None:
    client = client_for(OO_DEV_LOGIN="false")
    assert_refused(client.get("/auth/login"), "not configured", session, status=503)


# --- sessions ------------------------------------------------------------------------------------------------------


def test_a_request_without_a_session_is_a_401(client_for) -> None:
    response = client_for().post("/api/recommend")
    assert response.status_code == 401
    assert "sign in" in response.json()["error"]


def test_an_expired_session_is_refused_and_deleted(client_for, session: Session, demo_user: User) -> None:
    client = client_for()
    sign_in(client, session, demo_user)
    [row] = session_rows(session)
    row.expires_at = utcnow() - timedelta(seconds=1)
    session.add(row)
    session.commit()
    response = client.post("/api/recommend")
    assert response.status_code == 401
    assert session_rows(session) == [], "the expired row is deleted when presented"


def test_a_forged_session_cookie_is_refused(client_for, session: Session, demo_user: User) -> None:
    client = client_for()
    forged = secrets.token_urlsafe(32)
    client.cookies.set(SESSION_COOKIE, forged)
    client.cookies.set(CSRF_COOKIE, csrf_token_for(forged))  # the CSRF proof is right; the session is not
    response = client.post("/api/recommend", headers={"X-CSRF-Token": csrf_token_for(forged)})
    assert response.status_code == 401
    assert session_rows(session) == []


# --- CSRF ----------------------------------------------------------------------------------------------------------


WRONG_PROOFS = {
    "no CSRF header": lambda right: {},
    "a wrong CSRF token": lambda right: {"X-CSRF-Token": "0" * 64},
    "the right token from a cross-site Origin": lambda right: {**right, "Origin": "https://evil.example"},
    "the right token from a cross-site fetch": lambda right: {**right, "Sec-Fetch-Site": "cross-site"},
}


@pytest.mark.parametrize("proof", WRONG_PROOFS)
@pytest.mark.parametrize("path", ["/api/recommend", "/api/tips/1/reaction"])
def test_a_write_without_the_csrf_proof_is_forbidden(client_for, session, demo_user, proof: str, path: str) -> None:
    client = client_for()
    cookies = session_cookies(session, demo_user)
    client.cookies.update(cookies)
    response = client.post(path, json={"reaction": "done"}, headers=WRONG_PROOFS[proof](csrf_headers(cookies)))
    assert response.status_code == 403, proof
    assert "refused" in response.json()["error"]


def test_a_csrf_token_of_another_session_is_forbidden(client_for, session: Session, demo_user: User) -> None:
    client = client_for()
    mine, theirs = session_cookies(session, demo_user), session_cookies(session, demo_user)
    client.cookies.update({SESSION_COOKIE: mine[SESSION_COOKIE], CSRF_COOKIE: theirs[CSRF_COOKIE]})
    assert client.post("/api/recommend", headers=csrf_headers(theirs)).status_code == 403


def test_a_non_ascii_csrf_header_is_forbidden_not_an_error(client_for, session: Session, demo_user: User) -> None:
    client = client_for()
    client.cookies.update(session_cookies(session, demo_user))
    response = client.post("/api/recommend", headers={"X-CSRF-Token": "é".encode()})
    assert response.status_code == 403, response.text
    assert "refused" in response.json()["error"]


def test_a_non_ascii_csrf_cookie_is_forbidden_not_an_error(client_for, session: Session, demo_user: User) -> None:
    client = client_for()
    token = session_cookies(session, demo_user)[SESSION_COOKIE]
    cookie = f"{SESSION_COOKIE}={token}; {CSRF_COOKIE}=é".encode()
    response = client.post("/api/recommend", headers={"Cookie": cookie, "X-CSRF-Token": "é".encode()})
    assert response.status_code == 403, response.text
    assert "refused" in response.json()["error"]


def test_logout_without_the_csrf_header_is_refused_and_keeps_the_session(client_for, session, demo_user) -> None:
    client = client_for()
    client.cookies.update(session_cookies(session, demo_user))
    response = client.post("/auth/logout", follow_redirects=False)
    assert response.status_code == 403
    assert "Sign-out refused" in response.text
    assert len(session_rows(session)) == 1


def test_logout_deletes_the_session_and_clears_the_cookies(client_for, session: Session, demo_user: User) -> None:
    client = client_for()
    cookies = session_cookies(session, demo_user)
    client.cookies.update(cookies)
    response = client.post("/auth/logout", headers=csrf_headers(cookies), follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"{APP_URL}/"
    assert session_rows(session) == []
    cleared = set_cookies(response)
    assert cleared[SESSION_COOKIE][SESSION_COOKIE].value == ""
    assert cleared[CSRF_COOKIE][CSRF_COOKIE].value == ""


def test_logout_from_the_page_form_carries_the_token_in_a_field(client_for, session: Session, demo_user) -> None:
    client = client_for()
    cookies = session_cookies(session, demo_user)
    client.cookies.update(cookies)
    response = client.post(
        "/auth/logout", data={"csrf_token": cookies[CSRF_COOKIE]}, headers={"Origin": APP_URL}, follow_redirects=False
    )
    assert response.status_code == 303
    assert session_rows(session) == []


# --- the development login -----------------------------------------------------------------------------------------


def test_dev_login_is_refused_when_not_enabled(client_for, session: Session, demo_user: User) -> None:
    client = client_for(OO_DEV_LOGIN="false")
    assert_refused(client.post("/auth/dev-login", follow_redirects=False), DEV_LOGIN_OFF, session, status=404)


def test_dev_login_signs_in_as_the_demo_person(client_for, session: Session, demo_user: User) -> None:
    client = client_for(OO_DEV_LOGIN="true")
    response = client.post("/auth/dev-login", headers={"Origin": APP_URL}, follow_redirects=False)
    assert response.status_code == 303
    [row] = session_rows(session)
    assert row.user_id == demo_user.id
    assert client.post("/api/recommend", headers={"X-CSRF-Token": client.cookies[CSRF_COOKIE]}).status_code == 200


def test_dev_login_from_another_site_is_refused(client_for, session: Session, demo_user: User) -> None:
    client = client_for(OO_DEV_LOGIN="true")
    response = client.post("/auth/dev-login", headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert_refused(response, TAMPERED, session, status=403)


def test_cookies_are_secure_when_the_app_is_not_on_localhost(client_for, session, demo_user: User) -> None:
    client = client_for(OO_APP_URL="https://oo.example", OO_DEV_LOGIN="true")
    response = client.post("/auth/dev-login", headers={"Origin": "https://oo.example"}, follow_redirects=False)
    assert response.status_code == 303
    assert all(jar[name]["secure"] for name, jar in set_cookies(response).items())


def test_settings_refuse_the_dev_login_in_production(configure) -> None:
    configure(OO_ENV="production", OO_DEV_LOGIN="true", OO_SECRET_KEY=PRODUCTION_SECRET)
    with pytest.raises(ValidationError, match="OO_DEV_LOGIN"):
        get_settings()


@pytest.mark.parametrize("secret", [None, "dev-only-secret-change-me", "short"], ids=["default", "dev", "short"])
def test_production_refuses_a_missing_or_weak_secret_key(configure, monkeypatch, secret: str | None) -> None:
    monkeypatch.delenv("OO_SECRET_KEY", raising=False)
    configure(OO_ENV="production", **({"OO_SECRET_KEY": secret} if secret else {}))
    with pytest.raises(ValidationError, match="OO_SECRET_KEY"):
        get_settings()


@pytest.mark.parametrize(
    ("env", "dev_login", "issuer", "enabled"),
    [
        ("development", None, None, True),  # ./scripts/dev with no provider
        ("development", None, "https://id.example", False),
        ("test", None, None, False),
        ("production", None, None, False),
        ("production", False, None, False),
        ("test", True, "https://id.example", True),
    ],
)
def test_when_the_dev_login_is_enabled(env: str, dev_login: bool | None, issuer: str | None, enabled: bool) -> None:
    settings = Settings(env=env, dev_login=dev_login, oidc_issuer=issuer, secret_key=PRODUCTION_SECRET)
    assert settings.dev_login_enabled is enabled
