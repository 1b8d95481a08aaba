"""The installable page: manifest, icons, service worker, and the last tip painted at once, offline included.

The browser tests run the prod build in headless Chromium: a signed-in visit keeps the tip on the device and lets the
service worker store the shell; then, with the network cut, a reload still shows that tip.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from oo_app import pwa
from tests.browser_fixtures import AppServer, live_tip

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
MANIFEST = json.loads((ASSETS / "manifest.webmanifest").read_text())
CACHE_KEY = "oo.lastTip"


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return struct.unpack(">II", header[16:24])


def test_manifest_makes_the_page_installable() -> None:
    assert MANIFEST["name"] == "oO"
    assert MANIFEST["start_url"] == "/"
    assert MANIFEST["scope"] == "/"
    assert MANIFEST["display"] == "standalone"
    assert MANIFEST["background_color"] == MANIFEST["theme_color"] == "#000000"


@pytest.mark.parametrize("icon", MANIFEST["icons"], ids=lambda icon: f"{icon['sizes']}-{icon['purpose']}")
def test_every_manifest_icon_exists_at_its_declared_size(icon: dict[str, str]) -> None:
    width, height = (int(n) for n in icon["sizes"].split("x"))
    assert _png_size(ASSETS / icon["src"].lstrip("/")) == (width, height)


def test_icons_cover_192_512_and_a_maskable_one() -> None:
    sizes = {(icon["sizes"], icon["purpose"]) for icon in MANIFEST["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    assert (ASSETS / "favicon.ico").read_bytes()[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert _png_size(ASSETS / "apple-touch-icon.png") == (180, 180)


def test_the_head_links_manifest_icon_and_theme() -> None:
    rendered = " ".join(str(component.render()) for component in pwa.head_components())
    for needle in ("/manifest.webmanifest", "/favicon.ico", "/apple-touch-icon.png", "#000000", "oo.lastTip"):
        assert needle in rendered


# --- in the browser ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_server_env() -> dict[str, str]:
    return {"OO_DEV_LOGIN": "true"}


def _shell_ready(page: Page) -> None:
    """Waits until the service worker controls the page and has stored the shell."""
    page.evaluate("async () => { await navigator.serviceWorker.ready; }")
    if not page.evaluate("() => !!navigator.serviceWorker.controller"):
        page.reload()
    page.wait_for_function("() => !!navigator.serviceWorker.controller")
    page.wait_for_function(
        """async () => {
            const cache = await caches.open('oo-shell-v1');
            return !!(await cache.match('/')) && (await cache.keys()).some((r) => r.url.includes('/assets/'));
        }"""
    )


@pytest.mark.browser
def test_static_pwa_files_are_served(app_server: AppServer, browser: Browser) -> None:
    base, _ = app_server
    page = browser.new_page()
    for path, kind in (
        ("/manifest.webmanifest", "application/manifest+json"),
        ("/sw.js", "javascript"),
        ("/favicon.ico", "image/"),
        ("/icons/maskable-512.png", "image/png"),
    ):
        response = page.request.get(base + path)
        assert response.status == 200, path
        assert kind in response.headers.get("content-type", ""), path
    page.goto(base + "/")
    assert page.locator("link[rel=manifest]").get_attribute("href") == "/manifest.webmanifest"
    page.close()


@pytest.mark.browser
def test_an_offline_reload_shows_the_last_tip(
    app_server: AppServer, signed_in_context: Callable[..., BrowserContext], tmp_path: Path
) -> None:
    base = app_server.base
    context = signed_in_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(base + "/")
    tip = live_tip(page)
    _shell_ready(page)
    tip = live_tip(page)
    kept = json.loads(page.evaluate(f"() => localStorage.getItem('{CACHE_KEY}')"))
    assert kept["text"] == tip
    assert kept["id"] > 0
    assert not errors, f"the online page logged errors (e.g. a hydration mismatch): {errors}"
    cached = page.evaluate("async () => (await (await caches.open('oo-shell-v1')).keys()).map((r) => r.url)")
    assert not [url for url in cached if "/api/" in url], f"the service worker kept a person's data: {cached}"
    # A navigation through the service worker gets the page with the person's due tip in it; the shell keeps the
    # plain build (asked for again with X-OO-Shell), never that page.
    page.reload()
    assert page.locator("#oo-due-tip").count() == 1, "the page came with the due tip in its HTML"
    live_tip(page)
    page.wait_for_load_state("networkidle")
    shell = page.evaluate("async () => (await (await caches.open('oo-shell-v1')).match('/')).text()")
    assert 'id="paint-cached-tip"' in shell
    assert 'id="oo-due-tip"' not in shell, "the shell cache holds no personal page"

    context.set_offline(True)
    page.reload()
    page.wait_for_selector("#tip-cached-text")
    assert page.inner_text("#tip-cached-text").strip() == tip
    assert page.get_attribute("#tip-cached-text", "data-source") == "kept", "offline, the tip kept on the device"
    page.wait_for_selector("#offline-notice")
    page.screenshot(path=str(tmp_path / "offline.png"))

    context.set_offline(False)
    page.reload()
    assert live_tip(page) == tip
    page.wait_for_selector("#tip-cached", state="detached")


@pytest.mark.browser
def test_signing_out_forgets_the_kept_tip(
    app_server: AppServer, signed_in_context: Callable[..., BrowserContext]
) -> None:
    base = app_server.base
    context = signed_in_context()
    page = context.new_page()
    page.goto(base + "/")
    live_tip(page)
    page.wait_for_function(f"() => !!localStorage.getItem('{CACHE_KEY}')")
    page.click("#sign-out")
    page.wait_for_selector("#sign-in-page")
    assert page.evaluate(f"() => localStorage.getItem('{CACHE_KEY}')") is None
    page.reload()
    page.wait_for_selector("#sign-in-page")
    assert page.locator("#tip-cached").count() == 0


@pytest.mark.browser
def test_the_install_control_stays_hidden_until_the_browser_offers_it(
    app_server: AppServer, signed_in_context: Callable[..., BrowserContext]
) -> None:
    base = app_server.base
    context = signed_in_context()
    page = context.new_page()
    page.goto(base + "/")
    live_tip(page)
    assert page.locator("#install-app").is_hidden()
    # What Chromium fires when the page is installable; the control appears and hands the click to its prompt().
    page.evaluate(
        """() => {
            const offer = new Event('beforeinstallprompt', { cancelable: true });
            offer.prompt = () => { window.__prompted = true; };
            offer.userChoice = Promise.resolve({ outcome: 'dismissed' });
            window.dispatchEvent(offer);
        }"""
    )
    page.wait_for_selector("#install-app", state="visible")
    page.click("#install-app")
    assert page.evaluate("() => window.__prompted") is True
    page.wait_for_selector("#install-app", state="hidden")
