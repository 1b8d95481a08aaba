"""Names from outside (project names, task titles): data in the agents' lines and tips, never layout or instructions.

Contract of :func:`plain_name`: the name without control characters (line breaks, tabs, escape sequences become a
space) or invisible format characters (bidi overrides, zero-width ones are dropped), its runs of whitespace collapsed
to one space and trimmed. It never raises; an empty result means no name. A name stays what its person typed
otherwise: a project may well be called like a domain, and the tip guardrails keep that out of tips.
"""

from __future__ import annotations

import unicodedata

_BREAKS = frozenset({"Cc", "Zl", "Zp"})  # control characters, line and paragraph separators
_INVISIBLE = frozenset({"Cf", "Cs"})  # format characters (bidi controls, zero-width), lone surrogates


def plain_name(name: object) -> str:
    """``name`` as plain one-line text (see the module)."""
    if isinstance(name, str) and name.isascii() and name.isprintable():
        return " ".join(name.split())  # no control or format character in it: only its spaces change
    kept = []
    for character in str(name or ""):
        category = unicodedata.category(character)
        if category in _BREAKS:
            kept.append(" ")
        elif category not in _INVISIBLE:
            kept.append(character)
    return " ".join("".join(kept).split())
