"""``GET /`` carries a signed-in person's due tip in its HTML (:mod:`oo_app.first_paint`), over a static build as
Reflex serves it (Starlette's static files with ``html=True``).

The block holds the very tip the live state then shows, no text of a tip breaks out of it, the personal page is never
stored, and everyone else (signed out, first run pending, the service worker's shell copy, a failed lookup) gets the
page exactly as built.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from starlette.staticfiles import StaticFiles

from oo_app import first_paint
from oo_app.auth.sessions import session_cookie
from oo_app.first_paint import SHELL_HEADER, with_due_tip_page
from oo_app.models import Tip, User
from oo_app.state.tip import _show_current
from tests.auth_helpers import session_cookies

BUILT = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"/><title>oO</title>'
    '<link rel="modulepreload" href="/assets/app-1.js"/></head>'
    '<body><main><script id="paint-cached-tip">/* the painter */</script></main></body></html>'
)
BLOCK = re.compile(r'<script type="application/json" id="oo-due-tip">(.*?)</script>', re.S)


@pytest.fixture
def build(tmp_path: Path) -> Path:
    (tmp_path / "index.html").write_text(BUILT, encoding="utf-8")
    return tmp_path


def _client(build: Path, cookies: dict[str, str] | None = None) -> TestClient:
    client = TestClient(with_due_tip_page(StaticFiles(directory=build, html=True), pages=build))
    for name, value in (cookies or {}).items():
        client.cookies.set(name, value)
    return client


def _block(html: str) -> dict:
    found = BLOCK.findall(html)
    assert len(found) == 1, f"one due-tip block in the page: {found}"
    return json.loads(found[0])


def _tips(session: Session, user: User) -> list[Tip]:
    session.expire_all()
    return list(session.exec(select(Tip).where(Tip.user_id == user.id, Tip.shadow == False)).all())  # noqa: E712


@pytest.fixture
def cookies(session: Session, demo_user: User) -> dict[str, str]:
    return session_cookies(session, demo_user)


def test_a_signed_in_person_gets_the_page_with_the_tip_the_live_state_then_shows(
    session: Session, demo_user: User, cookies: dict[str, str], build: Path
) -> None:
    response = _client(build, cookies).get("/")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    painted = _block(page)
    assert page.index('id="oo-due-tip"') < page.index("</head>") < page.index('id="paint-cached-tip"')
    assert page.replace(BLOCK.search(page).group(0), "") == BUILT, "the build untouched around the block"
    assert set(painted) == {"id", "text", "kind"}
    live = _show_current(cookies)
    assert live is not None
    assert (live.id, live.text, live.kind) == (painted["id"], painted["text"], painted["kind"])
    tips = _tips(session, demo_user)
    assert [tip.id for tip in tips] == [painted["id"]], "one tip written, marked shown, for the page and the state"
    assert tips[0].shown_at is not None


def test_no_text_of_a_tip_breaks_out_of_the_block(
    session: Session, demo_user: User, cookies: dict[str, str], build: Path
) -> None:
    client = _client(build, cookies)
    tip_id = _block(client.get("/").text)["id"]
    hostile = 'Do it </script><script>alert(1)</script> <!-- & </SCRIPT > "quoted" \u2028 done'
    tip = session.get(Tip, tip_id)
    tip.text = hostile
    session.add(tip)
    session.commit()

    page = client.get("/").text

    assert _block(page) == {"id": tip_id, "text": hostile, "kind": tip.kind}, "the same tip, read back whole"
    assert "alert(1)</script>" not in page
    assert "<!--" not in page
    assert page.lower().count("<script") == 2, "the block and the painter, nothing injected"


def test_signed_out_or_a_stale_session_gets_the_page_exactly_as_built(build: Path) -> None:
    plain = _client(build).get("/")
    stale = _client(build, {session_cookie(): "not-a-session"}).get("/")

    for response in (plain, stale):
        assert response.status_code == 200
        assert response.text == BUILT


def test_before_the_first_run_the_page_is_as_built_and_no_tip_is_written(
    session: Session, demo_user: User, cookies: dict[str, str], build: Path
) -> None:
    demo_user.onboarded_at = None
    session.add(demo_user)
    session.commit()

    assert _client(build, cookies).get("/").text == BUILT
    assert _tips(session, demo_user) == []


def test_the_service_workers_shell_copy_is_the_plain_page_and_writes_nothing(
    session: Session, demo_user: User, cookies: dict[str, str], build: Path
) -> None:
    response = _client(build, cookies).get("/", headers={SHELL_HEADER: "1"})

    assert response.text == BUILT
    assert _tips(session, demo_user) == [], "the shell copy decides no tip"


def test_a_failed_lookup_serves_the_plain_page_and_logs_it(
    demo_user: User, cookies: dict[str, str], build: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    def broken(*_args, **_kwargs):  # fault injection: the recommender fails for this request
        raise RuntimeError("the recommender broke")

    monkeypatch.setattr(first_paint, "tip_to_show", broken)

    response = _client(build, cookies).get("/")

    assert response.status_code == 200
    assert response.text == BUILT
    assert "could not be looked up" in caplog.text


def test_only_get_of_the_root_is_touched(cookies: dict[str, str], build: Path) -> None:
    client = _client(build, cookies)
    assert client.head("/").headers.get("cache-control") is None, "HEAD: the static files' answer"
    assert client.get("/index.html").text == BUILT


def test_the_block_is_gzipped_for_a_browser_that_takes_it(cookies: dict[str, str], build: Path) -> None:
    response = _client(build, cookies).get("/", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert _block(response.text)["id"] > 0, "decoded by the client, the block is there"


STYLED = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"/>'
    '<link as="style" href="/assets/global-1.css" rel="preload"/>'
    '<link rel="modulepreload" href="/assets/app-1.js"/>'
    '<link href="/assets/global-1.css" rel="stylesheet" type="text/css"/></head>'
    '<body><main><script id="paint-cached-tip">/* the painter */</script></main></body></html>'
)
CSS = "@layer base{h1{color:#fff}}"


def test_the_personal_page_carries_the_build_styles_inline_so_no_request_holds_its_first_paint(
    cookies: dict[str, str], build: Path
) -> None:
    (build / "index.html").write_text(STYLED, encoding="utf-8")
    (build / "assets").mkdir()
    (build / "assets" / "global-1.css").write_text(CSS, encoding="utf-8")

    page = _client(build, cookies).get("/").text

    assert f"<style>{CSS}</style>" in page
    assert '<link href="/assets/global-1.css" rel="stylesheet" type="text/css" media="not all"/>' in page, (
        "the link stays for React to hydrate, applying to no medium"
    )
    assert 'rel="preload"' not in page, "nothing fetches the stylesheet ahead of the paint"
    assert page.index("<style>") < page.index("</head>")
    assert _client(build).get("/").text == STYLED, "signed out: the page as built, its stylesheet linked"


def test_a_stylesheet_that_cannot_be_inlined_stays_linked_as_built(cookies: dict[str, str], build: Path) -> None:
    (build / "index.html").write_text(STYLED, encoding="utf-8")
    (build / "assets").mkdir()
    (build / "assets" / "global-1.css").write_text("h1{content:'</style><script>'}", encoding="utf-8")

    page = _client(build, cookies).get("/").text

    assert "<style>" not in page
    assert page.replace(BLOCK.search(page).group(0), "") == STYLED, "the build untouched around the block"
