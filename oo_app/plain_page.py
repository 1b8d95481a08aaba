"""The one HTML shell of the pages served without Reflex: a sign-in refused, an OAuth leg's outcome, the hub's login
and index. Black, one centred column, the palette's colours (:mod:`oo_app.palette`), no script.

Contract: :func:`page` returns a whole document around ``body``, which is HTML as given: the caller escapes whatever
came from outside. Inline ``style`` attributes only, so the strict policies of those pages (no script, inline styles)
hold. Never import Reflex here: the hub and the API's plain routes use it.
"""

from __future__ import annotations

import html

from oo_app.palette import BACKGROUND, ERROR, FIELD_BACKGROUND, FIELD_OUTLINE, FONT, SOFT_TEXT, TEXT

BODY = (
    f"margin:0;min-height:100vh;background:{BACKGROUND};color:{TEXT};display:flex;flex-direction:column;"
    f"align-items:center;justify-content:center;gap:1.5rem;padding:2rem;box-sizing:border-box;font-family:{FONT}"
)
LINK = f"color:{SOFT_TEXT}"  # a way back, a label
TEXT_LINK = f"color:{TEXT}"  # a link that is the page's content (the hub's notebooks)
ALERT = f"color:{ERROR}"
FIELD = (
    f"background:{FIELD_BACKGROUND};color:{TEXT};border:1px solid {FIELD_OUTLINE};border-radius:6px;padding:.6rem;"
    "font-size:1rem"
)


def page(body: str, *, title: str = "oO", width: str = "32rem") -> str:
    """A whole document titled ``title`` with ``body`` (HTML, escaped by the caller) in a centred column at most
    ``width`` wide."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="theme-color" content="{BACKGROUND}"><title>{html.escape(title)}</title></head>
<body style="{BODY}">
<main style="max-width:{width};width:100%;text-align:center">
{body}
</main></body></html>
"""
