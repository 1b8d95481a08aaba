"""Fixtures of the browser tests: the app served once per module, Chromium, and browser contexts signed in or not.

Loaded for the whole suite by tests/conftest.py. A module shapes its server by overriding ``app_server_env`` (extra
environment) or ``app_database`` (more seeding); every test gets contexts of its own, kept off the network and closed
at its teardown. Chromium is module-scoped, never session-scoped: while Playwright's sync API is alive its event loop
counts as running, and ``asyncio.run`` in other modules' tests would refuse to start.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Browser, BrowserContext, Page
from sqlmodel import Session, select

from oo_app.db import make_engine
from oo_app.models import User
from tests.app_server import chromium, loopback_only, seeded_database, serve_app
from tests.auth_helpers import browser_cookies, session_cookies

if TYPE_CHECKING:
    from tests.auth_helpers import Provider
    from tests.fakes.todoist import FakeTodoist

DEMO_EMAIL = "demo@example.com"
VIEWPORT = {"width": 1000, "height": 700}


class AppServer(NamedTuple):
    """The module's running app (prod build, ``--single-port``): its base URL and the database it serves."""

    base: str
    database_url: str


# --- helpers -------------------------------------------------------------------------------------------------------


def person_cookies(database_url: str, email: str = DEMO_EMAIL) -> dict[str, str]:
    """A session of the person with ``email`` in that database, opened the way a sign-in opens one; its cookies."""
    engine = make_engine(database_url)
    with Session(engine) as session:
        cookies = session_cookies(session, session.exec(select(User).where(User.email == email)).one())
    engine.dispose()
    return cookies


def open_context(
    browser: Browser, base: str | None = None, cookies: dict[str, str] | None = None, **options: Any
) -> BrowserContext:
    """A context of ``browser`` kept off the network (1000 by 700 unless ``viewport`` says otherwise; ``options`` go to
    ``new_context``), holding ``cookies`` for the app at ``base`` when given. The caller closes it."""
    context = loopback_only(browser.new_context(**{"viewport": VIEWPORT, **options}))
    if cookies:
        assert base, "cookies belong to the app at a base URL"
        context.add_cookies(browser_cookies(cookies, base))
    return context


def signed_in_by_provider_env(provider: Provider, todoist: FakeTodoist, client: str) -> dict[str, str]:
    """An app server's environment for brand-new people: sign-in through ``provider`` only (as OIDC client
    ``client``), the token vault keyed, and Todoist set up against the stand-in ``todoist``."""
    return {
        "OO_OIDC_ISSUER": provider.issuer,
        "OO_OIDC_CLIENT_ID": client,
        "OO_OIDC_CLIENT_SECRET": f"{client}-secret",
        "OO_DEV_LOGIN": "false",
        "OO_TOKEN_KEYS": json.dumps([Fernet.generate_key().decode()]),
        "OO_TODOIST_CLIENT_ID": todoist.client_id,
        "OO_TODOIST_CLIENT_SECRET": todoist.client_secret,
        "OO_TODOIST_OAUTH_URL": todoist.oauth_url,
        "OO_TODOIST_API_URL": todoist.api_url,
    }


def tip_text(page: Page) -> str:
    """The text of the tip the page shows, once it shows any."""
    page.wait_for_function("() => (document.querySelector('#tip-text')?.innerText || '').trim().length > 0")
    return page.inner_text("#tip-text").strip()


def live_tip(page: Page, timeout_ms: float = 30_000) -> str:
    """The text of the tip the page shows, once it carries the id of a stored tip (``data-tip-id`` above 0), waiting
    up to ``timeout_ms``."""
    page.wait_for_function("() => Number(document.querySelector('#tip-text')?.dataset.tipId) > 0", timeout=timeout_ms)
    return page.inner_text("#tip-text").strip()


# --- fixtures ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, one per module (see the module docstring for why not one per session)."""
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def app_workdir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's server directory: its database and its log."""
    return tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2])


@pytest.fixture(scope="module")
def app_server_env() -> dict[str, str]:
    """Environment the module's server gets beyond :func:`tests.app_server.run_server`'s; a module overrides it."""
    return {}


@pytest.fixture(scope="module")
def app_database(app_workdir: Path) -> str:
    """The URL of the database the module's server serves: the demo person and their history. A module that needs
    more overrides this fixture, asking for it by the same name to get this one."""
    return seeded_database(app_workdir)


@pytest.fixture(scope="module")
def app_server(app_workdir: Path, app_database: str, app_server_env: dict[str, str]) -> Iterator[AppServer]:
    """The app served to this module's tests, one server per module."""
    with serve_app(app_workdir, app_database, app_server_env) as base:
        yield AppServer(base, app_database)


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """``new_context(**options)``: a signed-out context of :func:`open_context`, closed at the test's teardown."""
    contexts: list[BrowserContext] = []

    def new(**options: Any) -> BrowserContext:
        contexts.append(open_context(browser, **options))
        return contexts[-1]

    yield new
    for context in contexts:
        context.close()


@pytest.fixture
def signed_in_context(
    new_context: Callable[..., BrowserContext], app_server: AppServer
) -> Callable[..., BrowserContext]:
    """``signed_in_context(email=..., **options)``: a context holding a fresh session of that person of the served
    database (the demo person by default), closed at the test's teardown."""

    def new(email: str = DEMO_EMAIL, **options: Any) -> BrowserContext:
        context = new_context(**options)
        context.add_cookies(browser_cookies(person_cookies(app_server.database_url, email), app_server.base))
        return context

    return new


@pytest.fixture
def signed_in_page(signed_in_context: Callable[..., BrowserContext], app_server: AppServer) -> Callable[..., Page]:
    """``signed_in_page(path="/", email=..., **options)``: a page of :func:`signed_in_context` at ``path``."""

    def new(path: str = "/", email: str = DEMO_EMAIL, **options: Any) -> Page:
        page = signed_in_context(email, **options).new_page()
        page.goto(app_server.base + path)
        return page

    return new


@pytest.fixture
def signed_out_page(new_context: Callable[..., BrowserContext], app_server: AppServer) -> Page:
    """The app's page in a context without a session."""
    page = new_context().new_page()
    page.goto(app_server.base + "/")
    return page
