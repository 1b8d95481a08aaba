"""How oO's pages look: the style dicts every page and component takes from here, over the palette.

Black, one quiet column, light text. The colours are named once, in :mod:`oo_app.palette`, and re-exported here for
``pages/`` and ``components/``; no colour literal appears anywhere else (tests/test_ui_structure.py checks it). Muted
text must keep passing the contrast audit on black (tests/test_accessibility.py). Plain data only: no component, no
state.
"""

from __future__ import annotations

from oo_app.palette import (
    BACKGROUND,
    BRIGHT,
    DANGER_OUTLINE,
    ERROR,
    FIELD_BACKGROUND,
    FIELD_OUTLINE,
    FONT,
    MUTED_TEXT,
    OUTLINE,
    OUTLINE_QUIET,
    RULE,
    SOFT_TEXT,
    TEXT,
)
from oo_app.palette import OK as OK  # only the components use it: re-exported

# Shared by every page.
PAGE_STYLE = {
    "min_height": "100vh",
    "background": BACKGROUND,
    "color": TEXT,
    "display": "flex",
    "flex_direction": "column",
    "align_items": "center",
    "justify_content": "center",
    "gap": "2rem",
    "padding": "2rem",
    "font_family": FONT,
}
FOCUS = {"outline": f"2px solid {BRIGHT}", "outline_offset": "2px"}
MUTED = {"color": MUTED_TEXT, "font_size": "0.9rem", "margin": "0.2rem 0"}
SMALL_MUTED = {**MUTED, "font_size": "0.85rem", "margin": "0"}  # the tip page's quieter, tighter lines

# The tip page and its sign-in view.
TIP_STYLE = {
    "font_size": "clamp(1.4rem, 4vw, 2.1rem)",
    "line_height": "1.35",
    "max_width": "36rem",
    "text_align": "center",
    "margin": "0",
    "font_weight": "400",
}
LINK_STYLE = {
    **SMALL_MUTED,
    "background": "transparent",
    "border": "none",
    "cursor": "pointer",
    "text_decoration": "underline",
    "_focus_visible": FOCUS,
}
REACTION_BUTTON = {
    "background": "transparent",
    "color": SOFT_TEXT,
    "border": f"1px solid {OUTLINE_QUIET}",
    "border_radius": "999px",
    "padding": "0.5rem 1.25rem",
    "font_size": "0.95rem",
    "cursor": "pointer",
    "_hover": {"color": BRIGHT, "border_color": OUTLINE},
    "_focus_visible": FOCUS,
    "_disabled": {"opacity": "0.4", "cursor": "default"},
}
CONTEXT_ROW = {"display": "flex", "gap": "0.5rem", "flex_wrap": "wrap", "justify_content": "center"}
CONTEXT_BUTTON = {
    **REACTION_BUTTON,
    "padding": "0.25rem 0.8rem",
    "font_size": "0.85rem",
    "&[aria-pressed='true']": {"color": BRIGHT, "border_color": OUTLINE},
}
SIGN_IN_STYLE = {
    "color": TEXT,
    "border": f"1px solid {OUTLINE}",
    "border_radius": "999px",
    "padding": "0.6rem 1.6rem",
    "font_size": "1.05rem",
    "text_decoration": "none",
    "_hover": {"color": BRIGHT, "border_color": BRIGHT},
    "_focus_visible": FOCUS,
}
QUIET_BUTTON = {
    "background": "transparent",
    "border": "none",
    "color": MUTED_TEXT,
    "font_size": "0.85rem",
    "cursor": "pointer",
    "text_decoration": "underline",
    "_hover": {"color": BRIGHT},
    "_focus_visible": FOCUS,
}

# The mood check-in under the tip: quieter than the reactions; the chosen answer reads brighter.
MOOD_ROW = {
    "display": "flex",
    "gap": "0.5rem",
    "align_items": "center",
    "flex_wrap": "wrap",
    "justify_content": "center",
}
MOOD_BUTTON = {
    **REACTION_BUTTON,
    "color": MUTED_TEXT,
    "padding": "0.2rem 0.8rem",
    "font_size": "0.85rem",
    "&[aria-pressed='true']": {"color": BRIGHT, "border_color": OUTLINE},
}

# The settings page.
COLUMN = {**PAGE_STYLE, "justify_content": "flex-start", "align_items": "stretch", "gap": "2.5rem"}
SECTION = {"max_width": "44rem", "width": "100%", "margin": "0 auto", "display": "flex", "flex_direction": "column"}
HEADING = {"font_size": "1.2rem", "font_weight": "500", "margin": "0 0 0.8rem 0"}
BUTTON = {
    "background": "transparent",
    "color": TEXT,
    "border": f"1px solid {OUTLINE}",
    "border_radius": "999px",
    "padding": "0.3rem 0.9rem",
    "font_size": "0.9rem",
    "cursor": "pointer",
    "_hover": {"border_color": BRIGHT},
    "_focus_visible": FOCUS,
}
LINK_BUTTON = {**BUTTON, "align_self": "flex-start", "text_decoration": "none"}  # a link that looks like BUTTON
DANGER = {**BUTTON, "border_color": DANGER_OUTLINE, "color": ERROR}
FIELD = {
    "background": FIELD_BACKGROUND,
    "color": TEXT,
    "border": f"1px solid {FIELD_OUTLINE}",
    "border_radius": "6px",
    "padding": "0.3rem 0.5rem",
    "font_size": "0.95rem",
    "_focus_visible": FOCUS,
}
ROW = {"display": "flex", "gap": "0.6rem", "align_items": "center", "flex_wrap": "wrap"}
CHIP = {**MUTED, "display": "inline-flex", "gap": "0.25rem", "align_items": "center", "color": TEXT}
CARD = {"border_top": f"1px solid {RULE}", "padding": "0.8rem 0"}
# What oO learned (oo_app/components/learned_section.py): a statement reads like the tip, smaller; a switch per agent.
STATEMENT = {"font_size": "1.05rem", "line_height": "1.45", "margin": "0.3rem 0", "color": TEXT}
AGENT_TITLE = {"font_size": "1rem", "font_weight": "500", "margin": "0", "color": TEXT}
SWITCH = {**BUTTON, "min_width": "4.5rem", "&[aria-checked='false']": {"color": MUTED_TEXT}}
FOLD_SUMMARY = {**MUTED, "cursor": "pointer", "_focus_visible": FOCUS}

# The first run on the tip page (oo_app/components/first_run.py): one calm column of plain-words choices.
FIRST_RUN_FORM = {
    "max_width": "34rem",
    "width": "100%",
    "display": "flex",
    "flex_direction": "column",
    "gap": "1.5rem",
}
FIRST_RUN_TITLE = {**TIP_STYLE, "text_align": "left"}
FIELDSET = {
    "border": "none",
    "padding": "0",
    "margin": "0",
    "display": "flex",
    "flex_direction": "column",
    "gap": "1rem",
}
LEGEND = {**MUTED, "padding": "0", "margin": "0 0 0.4rem 0"}
CHOICE = {"display": "flex", "gap": "0.8rem", "align_items": "flex-start"}
CHECKBOX = {
    "width": "1.2rem",
    "height": "1.2rem",
    "margin": "0.15rem 0 0 0",
    "flex_shrink": "0",
    "accent_color": BRIGHT,
    "cursor": "pointer",
    "_focus_visible": FOCUS,
}
CHOICE_TITLE = {"display": "block", "color": TEXT, "font_size": "1rem", "cursor": "pointer"}
CHOICE_TEXT = {"display": "block", **MUTED, "line_height": "1.45"}
PRIMARY_BUTTON = {**SIGN_IN_STYLE, "background": "transparent", "cursor": "pointer", "_disabled": {"opacity": "0.4"}}
INLINE_LINK = {
    "color": MUTED_TEXT,
    "text_decoration": "underline",
    "_hover": {"color": BRIGHT},
    "_focus_visible": FOCUS,
}
NOTE = {**SMALL_MUTED, "max_width": "30rem", "text_align": "center", "line_height": "1.5"}
