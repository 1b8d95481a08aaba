"""A first visit paints its tip before the scripts run: the page's inline painter fetches the due tip
(``GET /api/tips/due``) while the scripts load, and the live page then takes over that very tip.

Real Chromium on the prod build, under the page's own CSP. The page's scripts (its build assets) are held back by
Playwright's routing until the test releases them, so whatever shows before that came from the HTML and its inline
scripts alone, with no websocket open.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Route
from sqlmodel import Session

from oo_app.db import make_engine
from oo_app.models import Tip
from tests.browser_fixtures import AppServer, live_tip
from tests.test_accessibility import _violations

SHOTS = Path("/tmp/shots-paint")
KEY = "oo.lastTip"
PAINTED = "#tip-cached-text"
SCRIPTS = re.compile(r"/assets/[^?#]+\.js(?:[?#].*)?$")

# Every tip text the page ever showed, where (painted ahead or live) and with which id, in order.
SEEN_JS = """
(() => {
  const seen = (window.__ooSeen = []);
  const note = (node, where) => {
    const text = node ? node.textContent.trim() : "";
    if (!text) return;
    const id = Number(node.getAttribute("data-tip-id"));
    if (!seen.some((s) => s.where === where && s.id === id && s.text === text)) seen.push({ where, id, text });
  };
  new MutationObserver(() => {
    note(document.querySelector("#tip-cached-text"), "painted");
    note(document.querySelector("#tip-text"), "live");
  }).observe(document, { childList: true, subtree: true, characterData: true, attributes: true });
})();
"""


# How many live regions on the page hold this text (each would announce it).
ANNOUNCING = """(text) => [...document.querySelectorAll(
  '[aria-live]:not([aria-live=off]), [role=status], [role=alert], [role=log]'
)].filter((region) => region.textContent.includes(text)).length"""


class HeldScripts:
    """Holds the page's scripts (build assets ending in .js) until :meth:`release`: the page stays as its HTML and
    inline scripts made it, and opens no websocket."""

    def __init__(self, context: BrowserContext) -> None:
        self.held: list[Route] = []
        self.released = False
        context.route(SCRIPTS, self._hold)

    def _hold(self, route: Route) -> None:
        if self.released:
            route.fallback()
        else:
            self.held.append(route)

    def release(self) -> None:
        self.released = True
        for route in self.held:
            route.fallback()
        self.held.clear()


@pytest.fixture(scope="module")
def app_server_env() -> dict[str, str]:
    return {"OO_TIP_WRITER": "rules"}


@pytest.fixture
def hold_scripts(new_context: Callable[..., BrowserContext]) -> Iterator[Callable[[BrowserContext], HeldScripts]]:
    """``hold_scripts(context)``: :class:`HeldScripts` on that context, released at teardown whatever happened (a
    context closed with requests held would wait for them)."""
    holds: list[HeldScripts] = []

    def hold(context: BrowserContext) -> HeldScripts:
        holds.append(HeldScripts(context))
        return holds[-1]

    yield hold
    for held in holds:
        held.release()


def _tip(app_server: AppServer, tip_id: int) -> Tip:
    engine = make_engine(app_server.database_url)
    with Session(engine) as session:
        tip = session.get(Tip, tip_id)
    engine.dispose()
    assert tip is not None, f"no tip {tip_id} in the database"
    return tip


def _watch(page: Page) -> tuple[list[str], list[str]]:
    """The page's websockets and its console errors (a script refused by the CSP among them), as they come."""
    sockets: list[str] = []
    errors: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    return sockets, errors


GLOBAL_STYLES_APPLY_JS = "() => getComputedStyle(document.body).boxSizing === 'border-box'"


@pytest.mark.browser
def test_a_first_visit_paints_the_due_tip_before_the_scripts_and_the_live_page_takes_it_over(
    app_server: AppServer,
    signed_in_context: Callable[..., BrowserContext],
    hold_scripts: Callable[[BrowserContext], HeldScripts],
) -> None:
    context = signed_in_context()
    scripts = hold_scripts(context)
    context.add_init_script(SEEN_JS)
    page = context.new_page()
    sockets, errors = _watch(page)

    page.goto(app_server.base + "/", wait_until="commit")
    page.wait_for_selector(f"{PAINTED}[data-source=due]")
    painted_id = int(page.get_attribute(PAINTED, "data-tip-id") or 0)
    painted = page.inner_text(PAINTED).strip()
    painted_top = page.evaluate(f"() => document.querySelector({PAINTED!r}).getBoundingClientRect().top")
    assert painted_id > 0
    assert painted, "the painted tip has its text"
    assert scripts.held, "the page's scripts were still held back"
    assert sockets == [], "the tip came before any websocket"
    assert page.locator("#tip-text").count() == 0, "no live tip yet"
    # The build's global styles (a reset: every box is border-box) apply from the page itself, inline.
    assert page.evaluate(GLOBAL_STYLES_APPLY_JS), "the global styles applied to the first paint"
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "first-visit-painted.png"))

    scripts.release()
    assert live_tip(page) == painted, "the live page shows the painted tip's text"
    assert int(page.get_attribute("#tip-text", "data-tip-id") or 0) == painted_id, "and its id"
    page.wait_for_selector("#tip-cached", state="detached")
    assert sockets, "the live page opened its websocket"
    page.screenshot(path=str(SHOTS / "first-visit-live.png"))
    moved = page.evaluate(f"() => document.querySelector('#tip-text').getBoundingClientRect().top - {painted_top}")
    print(f"the tip moved {moved:.1f} px when the live page took over")
    seen = page.evaluate("() => window.__ooSeen")
    assert {tip["id"] for tip in seen} == {painted_id}, f"no other tip flashed on screen: {seen}"
    assert _tip(app_server, painted_id).shown_at is not None

    assert page.evaluate(GLOBAL_STYLES_APPLY_JS), "and to the live page"

    page.click("#react-done")
    page.wait_for_function(f"() => Number(document.querySelector('#tip-text')?.dataset.tipId) > {painted_id}")
    assert _tip(app_server, painted_id).reaction == "done", "the reaction reached the painted tip"
    assert not errors, f"the page logged errors (a refused script, a hydration mismatch): {errors}"


@pytest.mark.browser
def test_a_signed_out_visit_gets_no_tip_and_forgets_the_one_kept(
    app_server: AppServer,
    new_context: Callable[..., BrowserContext],
    hold_scripts: Callable[[BrowserContext], HeldScripts],
) -> None:
    context = new_context()
    scripts = hold_scripts(context)
    kept = {"id": 7, "text": "A tip kept by someone who signed out elsewhere.", "kind": "advice", "at": 0}
    # Planted before the page's first script, once: the device still holds an earlier person's tip.
    context.add_init_script(
        f"if (!sessionStorage.planted) {{ sessionStorage.planted = '1'; "
        f"localStorage.setItem({KEY!r}, JSON.stringify({{...{json.dumps(kept)}, at: Date.now()}})); }}"
    )
    page = context.new_page()

    with page.expect_response(lambda response: response.url.endswith("/api/tips/due")) as answer:
        page.goto(app_server.base + "/", wait_until="commit")
    assert answer.value.status == 401
    assert answer.value.headers["cache-control"] == "no-store"
    page.wait_for_selector("#tip-cached", state="detached")
    assert page.evaluate(f"() => localStorage.getItem({KEY!r})") is None

    scripts.release()
    page.wait_for_selector("#sign-in-page")
    assert page.locator(PAINTED).count() == 0


@pytest.mark.browser
def test_the_painted_tip_passes_the_audit_and_is_announced_once(
    app_server: AppServer,
    signed_in_context: Callable[..., BrowserContext],
    hold_scripts: Callable[[BrowserContext], HeldScripts],
) -> None:
    # bypass_csp: the audit injects axe-core as an inline script, which the page's CSP refuses (as it should).
    context = signed_in_context(bypass_csp=True)
    scripts = hold_scripts(context)
    page = context.new_page()
    page.goto(app_server.base + "/", wait_until="commit")
    page.wait_for_selector(f"{PAINTED}[data-source=due]")

    assert _violations(page) == []
    assert page.get_attribute("#tip-cached", "aria-label") == "Your tip"
    text = page.inner_text(PAINTED).strip()
    assert page.evaluate(ANNOUNCING, text) == 0, "the painted tip is in no live region: it is not announced"

    scripts.release()
    assert live_tip(page) == text
    page.wait_for_selector("#tip-cached", state="detached")
    assert page.evaluate(ANNOUNCING, text) == 1, "the live tip is announced once, by one live region"


@pytest.mark.browser
def test_the_due_tip_is_in_the_first_html_and_painted_with_no_request(
    app_server: AppServer,
    signed_in_context: Callable[..., BrowserContext],
    hold_scripts: Callable[[BrowserContext], HeldScripts],
) -> None:
    context = signed_in_context()
    scripts = hold_scripts(context)
    asked: list[str] = []
    # The painter's fetch of the due tip is refused: what it paints can only come from the page's own HTML.
    context.route("**/api/tips/due", lambda route: (asked.append(route.request.url), route.abort()))
    context.add_init_script(SEEN_JS)
    page = context.new_page()
    sockets, errors = _watch(page)

    with page.expect_response(lambda response: response.url.rstrip("/") == app_server.base) as first:
        page.goto(app_server.base + "/", wait_until="commit")
    assert first.value.headers["cache-control"] == "no-store", "the personal page is never stored"
    block = json.loads(first.value.text().split('id="oo-due-tip">', 1)[1].split("</script>", 1)[0])
    page.wait_for_selector(f"{PAINTED}[data-source=due]")
    painted_id = int(page.get_attribute(PAINTED, "data-tip-id") or 0)
    assert painted_id == block["id"]
    assert page.inner_text(PAINTED).strip() == block["text"]
    assert scripts.held, "the page's scripts were still held back"
    assert sockets == []
    assert asked == [], "the painter asked for nothing: the tip was in the HTML"
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "first-html-painted.png"))

    scripts.release()
    assert live_tip(page) == block["text"], "the live page shows the tip of the HTML"
    assert int(page.get_attribute("#tip-text", "data-tip-id") or 0) == painted_id, "and its id"
    page.wait_for_selector("#tip-cached", state="detached")
    seen = page.evaluate("() => window.__ooSeen")
    assert {tip["id"] for tip in seen} == {painted_id}, f"no other tip flashed on screen: {seen}"
    assert not errors, f"the page logged errors (a refused script, a hydration mismatch): {errors}"
