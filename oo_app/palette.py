"""oO's palette: every colour of every page, named once, and the font. Plain constants; imports nothing.

The Reflex pages take them through :mod:`oo_app.components.style`; the page's head (its theme colour) and the pages
served without Reflex (:mod:`oo_app.plain_page`: sign-in refusals, the OAuth legs, the operators' hub) take them from
here. It stands outside ``components/`` so that those can: the components import the page states, which import
``auth``, so ``auth`` importing ``components`` would close a cycle between the rooms, and the hub must not load the
UI. No colour literal appears anywhere else in the product (tests/test_ui_structure.py); muted text must keep
passing the contrast audit on black (tests/test_accessibility.py).
"""

from __future__ import annotations

BACKGROUND = "#000000"
TEXT = "#f2f2f2"
BRIGHT = "#ffffff"  # hover and the focus ring
MUTED_TEXT = "#a8a8a8"  # secondary lines; passes the contrast audit on black
SOFT_TEXT = "#c8c8c8"  # the reaction buttons' labels, the plain pages' links and labels
OUTLINE = "#8a8a8a"  # a button's border
OUTLINE_QUIET = "#3a3a3a"  # a reaction button's border at rest
RULE = "#2a2a2a"  # the line between rows
FIELD_BACKGROUND = "#111111"
FIELD_OUTLINE = "#6a6a6a"
ERROR = "#ff8f8f"
DANGER_OUTLINE = "#ff6b6b"
OK = "#9fd89f"
FONT = "system-ui, -apple-system, 'Segoe UI', sans-serif"
