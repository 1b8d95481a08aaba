"""`oo hub`: the notebooks are served only to operators who logged in with the hub's password, over http and over
marimo's websocket alike; and one real hub, driven in headless Chromium, shows the tips chart with data."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from click.testing import CliRunner
from itsdangerous import TimestampSigner
from playwright.sync_api import BrowserContext, Locator
from sqlmodel import Session, select
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from oo_app import db
from oo_app.cli import main
from oo_app.db import make_engine
from oo_app.hub import navigation
from oo_app.hub import server as hub_server
from oo_app.hub.guard import COOKIE, HubGuard, HubSessions, LoginThrottle
from oo_app.hub.server import create_app
from oo_app.models import Tip, User
from oo_app.settings import get_settings
from tests.app_server import free_port, seeded_database, serve_command

PASSWORD = "operators-only-0123456789"
NOTEBOOK_PAGE = "/notebooks/hub/"
NOTEBOOK_SOCKET = "/notebooks/hub/ws?session_id=test-session"
HUB_URL = "http://127.0.0.1:2718"  # as an operator opens it through an SSH tunnel: a host the hub answers to
SOCKET_URL = "ws://127.0.0.1:2718" + NOTEBOOK_SOCKET  # absolute: TestClient sends a relative one to "testserver"


@pytest.fixture(scope="module", autouse=True)
def migrated_mlflow_store(mlflow_template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One migrated MLflow store for the whole module. The `hub` notebook's kernel opens the store in a thread of its
    own that may outlive its test; were the store fresh, MLflow would migrate it there, and Alembic's process-wide
    context would collide with the next test's own migration."""
    store = tmp_path_factory.mktemp("hub-mlflow") / "mlflow.db"
    shutil.copy(mlflow_template_db, store)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OO_MLFLOW_TRACKING_URI", f"sqlite:///{store}")
        yield


@pytest.fixture
def hub_env(engine: object, configure: Callable[..., None]) -> Callable[..., None]:
    """The test's migrated database is the app's, and the hub has its password."""
    configure(OO_ENV="test", OO_HUB_PASSWORD=PASSWORD)
    return configure


@pytest.fixture
def client(hub_env: Callable[..., None]) -> Iterator[TestClient]:
    """A logged-out client of a hub whose ``hub`` notebook is already open (marimo builds a notebook's app on the
    first request for its page), so a refused websocket is the guard's doing, not a missing app's."""
    with TestClient(create_app(get_settings(), failure_delay_s=0), base_url=HUB_URL, follow_redirects=False) as client:
        log_in(client)
        assert client.get(NOTEBOOK_PAGE).status_code == 200
        client.cookies.clear()
        yield client


def log_in(
    client: httpx.Client, password: str = PASSWORD, next_path: str = "/", headers: dict[str, str] | None = None
) -> httpx.Response:
    return client.post("/login", data={"password": password, "next": next_path}, headers=headers)


def assert_socket_refused(client: TestClient, headers: dict[str, str] | None = None) -> None:
    """The notebook's websocket is closed before it is accepted, by the guard (code 1008), so no cell ever arrives."""
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect(SOCKET_URL, headers=headers or {}) as ws,
    ):
        ws.receive_text()
    assert refused.value.code == 1008, "refused by the hub's guard before marimo saw it"


def sessions() -> HubSessions:
    settings = get_settings()
    return HubSessions(settings.secret_key.get_secret_value(), PASSWORD, settings.hub_session_hours * 3600)


# --- nobody passes without the password ----------------------------------------------------------------------------


def test_a_notebook_page_without_login_redirects_to_the_login_page(client: TestClient) -> None:
    response = client.get(NOTEBOOK_PAGE)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fnotebooks%2Fhub%2F"
    assert 'type="password"' in client.get("/login").text


def test_a_notebook_websocket_without_login_is_closed_before_it_is_accepted(client: TestClient) -> None:
    assert_socket_refused(client)


def test_the_guard_never_hands_an_unsigned_websocket_to_the_notebooks() -> None:
    reached: list[str] = []

    async def notebooks(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(scope["type"])

    guarded = TestClient(HubGuard(notebooks, HubSessions("secret", PASSWORD, 60)))
    for cookie in (None, "forged.value.sig"):
        if cookie:
            guarded.cookies.set(COOKIE, cookie)
        with pytest.raises(WebSocketDisconnect), guarded.websocket_connect("/notebooks/hub/ws"):
            pass
    assert reached == [], "marimo must never see an unauthenticated websocket"


def test_a_marimo_api_call_without_login_gets_401(client: TestClient) -> None:
    response = client.post("/notebooks/hub/api/kernel/run", json={})
    assert response.status_code == 401
    assert "sign in" in response.json()["error"]


def test_a_wrong_password_gets_a_401_page_and_no_cookie(client: TestClient) -> None:
    response = log_in(client, "not the password")
    assert response.status_code == 401
    assert "wrong password" in response.text
    assert "set-cookie" not in response.headers
    assert client.get(NOTEBOOK_PAGE).status_code == 303


# --- the right password opens the notebooks ------------------------------------------------------------------------


def test_the_right_password_sets_a_strict_httponly_cookie_that_expires(client: TestClient) -> None:
    response = log_in(client, next_path=NOTEBOOK_PAGE)
    assert response.status_code == 303
    assert response.headers["location"] == NOTEBOOK_PAGE
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith(f"{COOKIE}=")
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert f"max-age={12 * 3600}" in cookie


def test_a_logged_in_operator_gets_the_notebook_page_and_its_websocket(client: TestClient) -> None:
    log_in(client)
    page = client.get(NOTEBOOK_PAGE)
    assert page.status_code == 200
    assert "marimo" in page.text.lower()
    with client.websocket_connect(SOCKET_URL) as socket:
        assert '"kernel-ready"' in socket.receive_text()


def test_the_index_lists_every_notebook(client: TestClient) -> None:
    log_in(client)
    assert f'href="{NOTEBOOK_PAGE}"' in client.get("/").text


def test_logging_out_closes_the_hub_again(client: TestClient) -> None:
    log_in(client)
    client.post("/logout")
    assert client.get(NOTEBOOK_PAGE).status_code == 303


def test_the_name_given_at_login_is_who_acts_else_the_configured_operator(client: TestClient) -> None:
    named = client.post("/login", data={"password": PASSWORD, "name": "  Ada   Lovelace "})
    assert sessions().operator_for(named.cookies[COOKIE]) == "Ada Lovelace"
    assert sessions().operator_for(log_in(client).cookies[COOKIE]) == get_settings().hub_operator
    refused = client.post("/login", data={"password": PASSWORD, "name": "<script>"})
    assert refused.status_code == 400
    assert "set-cookie" not in refused.headers


def test_login_returns_only_to_paths_of_the_hub(client: TestClient) -> None:
    assert log_in(client, next_path="//evil.example/steal").headers["location"] == "/"


def test_a_file_that_is_no_notebook_is_not_served(client: TestClient) -> None:
    log_in(client)
    assert client.get("/notebooks/__init__/").status_code == 404
    assert client.get("/notebooks/../oo_app/settings/").status_code == 404


# --- forged, expired and stale cookies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param(HubSessions("another-secret", PASSWORD, 3600).issue("hub"), id="another secret key"),
        pytest.param(HubSessions("dev-only-secret-change-me", "an old password", 3600).issue("hub"), id="old password"),
        pytest.param("eyJvcGVyYXRvciI6Im1hbGxvcnkifQ.AAAAAA.forged", id="made up"),
    ],
)
def test_a_forged_or_stale_cookie_is_refused_over_http_and_websocket(client: TestClient, cookie: str) -> None:
    client.cookies.set(COOKIE, cookie)
    assert client.get(NOTEBOOK_PAGE).status_code == 303
    assert_socket_refused(client)


def test_an_expired_cookie_is_refused(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    lifetime_s = get_settings().hub_session_hours * 3600
    with monkeypatch.context() as past:
        past.setattr(TimestampSigner, "get_timestamp", lambda _self: int(time.time() - lifetime_s - 60))
        expired = sessions().issue("hub")
    assert sessions().operator_for(sessions().issue("hub")) == "hub", "a fresh cookie of the same kind is valid"
    client.cookies.set(COOKIE, expired)
    assert client.get(NOTEBOOK_PAGE).status_code == 303
    assert_socket_refused(client)


def test_a_websocket_from_another_origin_is_refused_even_with_the_cookie(client: TestClient) -> None:
    log_in(client)
    assert_socket_refused(client, headers={"Origin": "http://evil.example"})


def test_a_login_posted_from_another_site_is_refused(client: TestClient) -> None:
    response = client.post("/login", data={"password": PASSWORD}, headers={"Origin": "http://evil.example"})
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_repeated_wrong_passwords_lock_the_address_out(hub_env: Callable[..., None]) -> None:
    app = create_app(get_settings(), failure_delay_s=0, throttle=LoginThrottle(max_failures=3, window_s=60))
    with TestClient(app, base_url=HUB_URL, follow_redirects=False) as client:
        assert [log_in(client, "guess").status_code for _ in range(3)] == [401, 401, 401]
        locked = log_in(client)
        assert locked.status_code == 429, "even the right password waits once the address is locked out"
        assert int(locked.headers["retry-after"]) > 0
        assert "set-cookie" not in locked.headers


def test_a_wrong_password_answers_slowly(hub_env: Callable[..., None]) -> None:
    app = create_app(get_settings(), failure_delay_s=0.3)
    with TestClient(app, base_url=HUB_URL, follow_redirects=False) as client:
        started = time.monotonic()
        log_in(client, "guess")
        assert time.monotonic() - started >= 0.3


def test_the_notebooks_learn_who_acts_and_read_the_apps_database(hub_env: Callable[..., None]) -> None:
    hub_env(OO_HUB_OPERATOR="ops-team")
    settings = get_settings()
    seen: list[object] = []

    async def notebooks(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope["user"], scope["meta"]))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    guarded = TestClient(HubGuard(notebooks, sessions()), cookies={COOKIE: sessions().issue("ops-team")})
    assert guarded.get("/notebooks/hub/").status_code == 204
    assert seen == [
        ({"is_authenticated": True, "username": "ops-team", "display_name": "ops-team"}, {"operator": "ops-team"})
    ]
    assert hub_server.notebook_environment(settings) == {
        "OO_DATABASE_URL": settings.database_url,
        "OO_HUB_OPERATOR": "ops-team",
        "OO_HUB_NOTEBOOK_LINKS": "path",
    }


def test_links_between_served_notebooks_lead_to_the_served_notebooks(
    hub_env: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    for name, value in hub_server.notebook_environment(get_settings()).items():
        monkeypatch.setenv(name, os.environ.get(name, value))  # serve() exports these to os.environ: undone after
    hub_env(OO_HUB_NOTEBOOK_LINKS="file")  # as `marimo run admin_notebooks/` wants them, e.g. from .env
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)

    hub_server.serve(get_settings(), "127.0.0.1", 2718)

    here = f"{hub_server.NOTEBOOKS_PATH}/hub/"
    assert urljoin(here, navigation.notebook_href("tips")) == f"{hub_server.NOTEBOOKS_PATH}/tips/", (
        "a served notebook links to where the hub serves the others, not to ?file= of itself"
    )


# --- the edge: hosts, proxies, security headers --------------------------------------------------------------------

PRODUCTION_SECRET = "s" * 40
PROXY = "10.0.0.5"


def hub_client(client: tuple[str, int] = ("127.0.0.1", 50000), base_url: str = HUB_URL, **kwargs: Any) -> TestClient:
    """A client of a fresh hub (settings as configured), connecting from ``client``."""
    app = create_app(get_settings(), **{"failure_delay_s": 0, **kwargs})
    return TestClient(app, base_url=base_url, client=client, follow_redirects=False)


def test_every_hub_response_carries_the_security_headers(client: TestClient) -> None:
    pages = {"login page": client.get("/login"), "refusal": client.post("/notebooks/hub/api/kernel/run", json={})}
    log_in(client)
    pages["notebook"] = client.get(NOTEBOOK_PAGE)
    for name, response in pages.items():
        headers = response.headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"], name
        assert headers["x-content-type-options"] == "nosniff", name
        assert headers["referrer-policy"] in {"same-origin", "strict-origin-when-cross-origin"}, name  # marimo's own
        assert "strict-transport-security" not in headers, f"{name}: no HSTS outside production"
    assert "default-src 'none'" in pages["login page"].headers["content-security-policy"], "its own strict policy"


def test_the_hub_sends_hsts_in_production(hub_env: Callable[..., None]) -> None:
    hub_env(OO_ENV="production", OO_SECRET_KEY=PRODUCTION_SECRET)
    with hub_client() as client:
        assert client.get("/login").headers["strict-transport-security"].startswith("max-age=")


def test_a_host_the_hub_does_not_know_is_refused(hub_env: Callable[..., None]) -> None:
    with hub_client(base_url="http://rebound.evil.example:2718") as client:
        refused = client.get("/login")
        assert refused.status_code == 400, "a DNS-rebinding page names its own host"
        assert refused.headers["x-content-type-options"] == "nosniff"
        socket = "ws://rebound.evil.example:2718" + NOTEBOOK_SOCKET
        with pytest.raises(WebSocketDenialResponse), client.websocket_connect(socket):
            pass
    hub_env(OO_HUB_ALLOWED_HOSTS="hub.example.org")
    with hub_client(base_url="https://hub.example.org") as client:
        assert client.get("/login").status_code == 200, "the name operators open behind their proxy"


def test_behind_a_trusted_tls_proxy_the_cookie_is_secure(hub_env: Callable[..., None]) -> None:
    hub_env(OO_HUB_TRUSTED_PROXIES=PROXY)
    with hub_client(client=(PROXY, 40000)) as client:
        proxied = log_in(client, headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"})
        assert "secure" in proxied.headers["set-cookie"].lower()
        assert "secure" not in log_in(client).headers["set-cookie"].lower(), "plain http straight to the proxy's hub"
    with hub_client(client=("203.0.113.9", 40000)) as client:
        spoofed = log_in(client, headers={"X-Forwarded-Proto": "https"})
        assert "secure" not in spoofed.headers["set-cookie"].lower(), "only the trusted proxy is believed"


def test_the_login_brake_counts_the_client_the_trusted_proxy_names_and_no_one_elses(
    hub_env: Callable[..., None],
) -> None:
    hub_env(OO_HUB_TRUSTED_PROXIES=f"{PROXY},192.0.2.0/24")
    throttle = LoginThrottle(max_failures=3, window_s=60)

    def attempt(peer: str, forwarded_for: str | None, password: str = "guess") -> int:
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        with hub_client(client=(peer, 40000), throttle=throttle) as client:
            return log_in(client, password, headers=headers).status_code

    # A client may send its own X-Forwarded-For; the proxy appends the address it saw, and that one counts.
    assert [attempt(PROXY, f"203.0.113.{n}, 198.51.100.7") for n in range(3)] == [401, 401, 401]
    assert attempt(PROXY, "198.51.100.7", PASSWORD) == 429, "the attacker behind the proxy is locked out"
    assert attempt(PROXY, "198.51.100.8", PASSWORD) == 303, "another person behind the same proxy is not"
    # Straight from an untrusted peer, X-Forwarded-For is ignored: naming other addresses does not escape the brake.
    assert [attempt("203.0.113.50", f"198.51.100.{n}") for n in range(10, 13)] == [401, 401, 401]
    assert attempt("203.0.113.50", "198.51.100.99", PASSWORD) == 429


# --- `oo hub` ------------------------------------------------------------------------------------------------------


def test_oo_hub_without_a_password_exits_1_and_says_what_to_set(configure: Callable[..., None]) -> None:
    configure(OO_HUB_PASSWORD="")
    result = CliRunner().invoke(main, ["hub"])
    assert result.exit_code == 1
    assert "set OO_HUB_PASSWORD" in result.output


def test_oo_hub_refuses_a_short_password_outside_development(configure: Callable[..., None]) -> None:
    configure(OO_ENV="test", OO_HUB_PASSWORD="short")
    result = CliRunner().invoke(main, ["hub"])
    assert result.exit_code == 1
    assert "at least 16 characters" in result.output


def test_oo_hub_refuses_a_database_that_lacks_migrations(
    configure: Callable[..., None], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    db.migrate(url, "0002")
    configure(OO_HUB_PASSWORD=PASSWORD, OO_DATABASE_URL=url)
    served: list[tuple[str, int]] = []
    monkeypatch.setattr(hub_server, "serve", lambda _settings, host, port: served.append((host, port)))
    result = CliRunner().invoke(main, ["hub"])
    assert result.exit_code == 1
    missing = ", ".join(db.pending_migrations(url))
    assert missing.startswith("0003")
    assert f"lacks the migrations {missing}: run `oo migrate` first" in result.output
    assert served == [], "no hub over tables it cannot read"


def test_oo_hub_stays_on_loopback_unless_host_is_given_on_the_command_line(
    configure: Callable[..., None], monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    configure(OO_HUB_PASSWORD=PASSWORD, OO_HUB_HOST="0.0.0.0", OO_DATABASE_URL=sqlite_url)
    served: list[tuple[str, int]] = []
    monkeypatch.setattr(hub_server, "serve", lambda _settings, host, port: served.append((host, port)))
    refused = CliRunner().invoke(main, ["hub"])
    assert refused.exit_code == 1
    assert "--host 0.0.0.0" in refused.output
    assert CliRunner().invoke(main, ["hub", "--host", "0.0.0.0", "--port", "2799"]).exit_code == 0
    assert served == [("0.0.0.0", 2799)]


# --- the real hub in a browser -------------------------------------------------------------------------------------

START_TIMEOUT_S = 120
CHART_TIMEOUT_MS = 90_000


def seed_reacted_tips(database_url: str, now: datetime) -> int:
    """Tips of the demo person over the last week, most of them answered, so the hub's charts have data."""
    reactions = ["done", "done", "snoozed", "dismissed", "liked", None]
    engine = make_engine(database_url)
    with Session(engine) as session:
        user = session.exec(select(User)).one()
        tips = [
            Tip(
                user_id=user.id,
                text=f"Hub tip {day}.{index}: close one open loop.",
                prompt_version="orchestrator-v2",
                model_alias="tip-generator",
                model="oo-rules/composer",
                policy="incumbent",
                sources=[{"agent_id": "time-of-day", "agent_version": "1.0.0", "output_id": 1}],
                created_at=now - timedelta(days=day, hours=index),
                shown_at=now - timedelta(days=day, hours=index),
                reaction=reactions[(day + index) % len(reactions)],
            )
            for day in range(7)
            for index in range(3)
        ]
        session.add_all(tips)
        session.commit()
    engine.dispose()
    return len(tips)


@pytest.fixture(scope="module")
def served_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`oo hub` as an operator starts it, on a free loopback port over a seeded database; its base URL."""
    tmp_path = tmp_path_factory.mktemp("hub")
    database_url = seeded_database(tmp_path)
    seed_reacted_tips(database_url, datetime.now(UTC))
    port = free_port()
    env = {**os.environ, "OO_DATABASE_URL": database_url, "OO_HUB_PASSWORD": PASSWORD, "OO_SCHEDULER_ENABLED": "false"}
    command = [str(Path(sys.executable).with_name("oo")), "hub", "--port", str(port)]
    with serve_command(
        command, port, tmp_path / "hub.log", env, _serves_login, what="oo hub", timeout_s=START_TIMEOUT_S
    ) as served:
        assert f"{served.base}/" in served.log_path.read_text(), "oo hub prints its URL"
        yield served.base


def _serves_login(base: str) -> bool:
    return httpx.get(f"{base}/login", timeout=5).status_code == 200


def test_the_served_hub_refuses_a_websocket_without_login_and_serves_one_with_it(served_hub: str) -> None:
    socket_url = served_hub.replace("http://", "ws://") + NOTEBOOK_SOCKET
    with pytest.raises(InvalidStatus) as refused:
        connect(socket_url, open_timeout=10)
    assert refused.value.response.status_code == 403, "uvicorn turns a close before accept into 403"
    with httpx.Client(base_url=served_hub, timeout=10) as client:
        assert log_in(client).status_code == 303
        # marimo builds a notebook's app on the first request for its page; a browser always asks for that first
        assert client.get(NOTEBOOK_PAGE).status_code == 200
        cookie = f"{COOKIE}={client.cookies[COOKIE]}"
    with connect(socket_url, additional_headers={"Cookie": cookie}, open_timeout=10) as socket:
        assert '"kernel-ready"' in socket.recv(timeout=30)


def _drawn_bars(bars: Locator) -> int:
    """How many of these bar paths have a height on screen (an empty day draws a flat one)."""
    return bars.evaluate_all("paths => paths.filter(path => path.getBoundingClientRect().height > 1).length")


@pytest.mark.browser
def test_an_operator_logs_in_and_sees_the_tips_chart_with_data(
    served_hub: str, new_context: Callable[..., BrowserContext], tmp_path: Path
) -> None:
    left_the_machine: list[str] = []
    page = new_context(viewport={"width": 1280, "height": 1000}).new_page()
    page.on("requestfailed", lambda request: left_the_machine.append(request.url))
    page.set_default_timeout(30_000)
    page.goto(served_hub + "/")
    assert page.url.startswith(served_hub + "/login"), page.url
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.click(f'a[href="{NOTEBOOK_PAGE}"]')
    # marimo draws its plotly charts inside shadow roots: Playwright's CSS locators pierce them, querySelector not
    bars = page.locator(".js-plotly-plot .trace.bars .point path")
    bars.first.wait_for(state="attached", timeout=CHART_TIMEOUT_MS)
    deadline = time.monotonic() + CHART_TIMEOUT_MS / 1000
    while _drawn_bars(bars) == 0 and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    drawn = _drawn_bars(bars)
    page.wait_for_timeout(500)  # let plotly finish its transition before the picture
    screenshot = tmp_path / "hub.png"
    page.screenshot(path=str(screenshot), full_page=True)
    print(f"screenshot: {screenshot}; {drawn} bars; requests kept off the network: {left_the_machine}")
    assert drawn > 0, "the tips-per-day chart draws the seeded tips"
    assert screenshot.stat().st_size > 10_000
