"""The installable, offline-capable shell of the page: head tags, the inline scripts and the connection notice.

The service worker (``assets/sw.js``, served at ``/sw.js``) keeps the pages and their build assets; the last tip is
kept by the page itself in ``localStorage`` (``oo_app/static/pwa.js``) and painted from there before the scripts load
(``oo_app/static/cached_tip.js``), so a returning person sees their tip at once, online or not. A first visit does
not wait for the scripts and the live connection either: in production the page's HTML carries the person's due tip
(:mod:`oo_app.first_paint`), which the painter paints at once; elsewhere it asks ``GET /api/tips/due`` for the tip
the live state will show and paints it as soon as it answers. ``static/push.js``
subscribes this browser to web push for the settings page. The scripts are
inlined: they must run while the HTML is parsed, and an extra request would delay the very tip they paint.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import reflex as rx
from reflex_components_core.core.banner import has_too_many_connection_errors

from oo_app.components.style import BACKGROUND, FONT, MUTED_TEXT, SMALL_MUTED, TEXT

STATIC = Path(__file__).resolve().parent / "static"
THEME = BACKGROUND
CACHED_TIP_CSS = f"""
#tip-cached{{position:fixed;inset:0;display:flex;flex-direction:column;align-items:center;justify-content:center;
gap:2rem;padding:2rem;background:{BACKGROUND};color:{TEXT};font-family:{FONT};
pointer-events:none;z-index:1}}
#tip-cached .oo-cached-kind{{color:{MUTED_TEXT};font-size:.85rem;margin:0;text-transform:uppercase;letter-spacing:.2em}}
#tip-cached .oo-cached-text{{font-size:clamp(1.4rem,4vw,2.1rem);line-height:1.35;max-width:36rem;text-align:center;
margin:0;font-weight:400}}
#tip-cached .oo-cached-reactions{{height:2.55rem}}
#tip-cached .oo-cached-links{{height:1.275rem}}
#tip-cached .oo-cached-mood{{height:1.8rem}}
#tip-cached .oo-cached-row{{height:0}}
"""


@cache
def _script(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def _inline_script(name: str, **props) -> rx.Component:
    return rx.el.script(custom_attrs={"dangerouslySetInnerHTML": {"__html": _script(name)}}, **props)


def head_components() -> list[rx.Component]:
    """What every page's ``<head>`` carries: manifest, icons, theme colour, the cached tip's style and the glue."""
    return [
        rx.el.link(rel="manifest", href="/manifest.webmanifest"),
        rx.el.meta(name="theme-color", content=THEME),
        rx.el.meta(name="color-scheme", content="dark"),
        rx.el.link(rel="icon", href="/favicon.ico", sizes="48x48"),
        rx.el.link(rel="apple-touch-icon", href="/apple-touch-icon.png"),
        rx.el.meta(name="apple-mobile-web-app-capable", content="yes"),
        rx.el.meta(name="apple-mobile-web-app-status-bar-style", content="black"),
        rx.el.style(CACHED_TIP_CSS),
        _inline_script("pwa.js"),
        _inline_script("push.js"),
    ]


def cached_tip_painter() -> rx.Component:
    """The inline script that paints the due tip the page carries (``#oo-due-tip``), else the last tip kept on this
    device, then the due tip from ``GET /api/tips/due`` (see ``static/cached_tip.js``)."""
    return _inline_script("cached_tip.js", id="paint-cached-tip")


def connection_notice() -> rx.Component:
    """Replaces Reflex's connection toasts: one quiet line while the live connection is down (offline included)."""
    return rx.cond(
        has_too_many_connection_errors,
        rx.el.p(
            "offline · reconnecting",
            id="offline-notice",
            role="status",
            style={
                "position": "fixed",
                "bottom": "1rem",
                "left": "0",
                "right": "0",
                "text_align": "center",
                **SMALL_MUTED,
                "z_index": "2",
            },
        ),
    )
