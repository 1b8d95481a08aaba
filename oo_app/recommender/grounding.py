"""The grounding check: a tip may only state what the agents' facts say.

Every number, clock time, weekday, month and capitalised name in a candidate tip must appear in the facts the writer
was given (the snippets and their data). A small model copies its examples and invents facts; this check is what
stands between it and the page. It is deliberately strict: rejecting a good tip costs one composer tip, showing an
invented one costs trust.

A quotation is held to the letter: a quoted span in a tip (a task title) must be one the facts quote, and a title the
facts quote may only appear quoted in a tip, so a title is never invented, altered or passed off as oO's own words.

A length of time is held to its unit: "3 h" or "180 minutes" in a tip needs a length of 3 hours in the facts (the
calendar's "free until 14:00 (3 h)"), not merely the number 3 somewhere (the count of meetings).

A tip never carries a link either (:func:`links_in`): no URL, web address, domain name, email address or IP address,
even when the facts hold one (a project may be named like a domain). A link in a tip is a way out of oO that nobody
checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
# Capitalised words a tip may use without the facts naming them (sentence starts are exempt anyway).
COMMON_WORDS = frozenset({"i", "ok", "oo", "todo"})

_TIME = re.compile(r"\b\d{1,2}:\d{2}\b")
_NUMBER = re.compile(r"(?<![\d:])[-+]?\d+(?:\.\d+)?(?![\d:])")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|\n)\s*[\"'(]*([A-Za-z][A-Za-z'-]*)")
# A URL's scheme (http://, ftp://, mailto:), or a web address.
_SCHEME = re.compile(r"(?i)\b(?:[a-z][a-z0-9+.-]*://|mailto:|www\.)\S*")
# A domain name: labels joined by dots, ending in a top-level label of 2+ letters ("example.com", "evil.io/x",
# "ada@example.com"), so not "e.g.", "a.m.", "10.30" or "3.5 h" (one-letter or numeric labels end none).
_DOMAIN = re.compile(r"(?<![\w.-])(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+(?:xn--[a-z0-9-]+|[^\W\d_]{2,63})(?![\w-])\S*")
# A quotation: an opening quote not inside a word, up to the first closing quote not followed by a letter (so
# "Mom's" stays inside 'Call Mom's doctor').
_OPEN, _CLOSE, _ANY = "'\"\u2018\u201c", "'\"\u2019\u201d", "'\"\u2018\u2019\u201c\u201d"  # straight and curly quotes
_QUOTED = re.compile(rf"(?<!\w)[{_OPEN}]([^{_ANY}\n]*?(?:\w['\u2019]\w[^{_ANY}\n]*?)*)[{_CLOSE}](?!\w)")
# A length of time: "45 min", "3 h", "2 hours", "1 h 30 min" (one length), "90 minutes".
_HOURS, _MINUTES = r"(?:hours?|hrs?|h)", r"(?:minutes?|mins?|min)"
_DURATION = re.compile(rf"(?i)(?<![\d.:])(\d+(?:\.\d+)?)\s*(?:({_HOURS})(?:\s+(\d+)\s*{_MINUTES})?|{_MINUTES})\b")
_IPV4 = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])\S*")


def _hour_forms(clock: str) -> set[str]:
    hour, minute = clock.split(":")
    return {f"{int(hour):02d}:{minute}", f"{int(hour)}:{minute}"}


def _numbers(text: str) -> set[float]:
    return {float(n) for n in _NUMBER.findall(_TIME.sub(" ", text))}


def durations(text: str) -> dict[str, float]:
    """The lengths of time ``text`` states, each as written and in minutes."""
    found = {}
    for match in _DURATION.finditer(text):
        amount, hours, extra = match.groups()
        found[match.group().strip()] = float(amount) * 60 + float(extra or 0) if hours else float(amount)
    return found


def quotations(text: str) -> list[str]:
    """The quoted spans of ``text``, without their quotes, in order."""
    return [match.group(1).strip() for match in _QUOTED.finditer(text)]


def _misquoted(tip: str, source: str) -> list[str]:
    """Quotations of ``tip`` the facts do not quote, and titles the facts quote that ``tip`` states unquoted."""
    quoted = {" ".join(q.lower().split()) for q in quotations(source) if q}
    problems = [q for q in quotations(tip) if " ".join(q.lower().split()) not in quoted]
    bare = " ".join(_QUOTED.sub(" ", tip).lower().split())
    # One-word titles ("Laundry") stay ordinary words: only a title of two words or more is held to its quotes.
    problems += [q for q in sorted(quoted) if " " in q and re.search(rf"(?<!\w){re.escape(q)}(?!\w)", bare)]
    return problems


def ungrounded(tip: str, facts: Iterable[str]) -> list[str]:
    """The terms of ``tip`` that no fact supports (empty when the tip is grounded)."""
    source = "\n".join(facts)
    source_lower = source.lower()
    problems: list[str] = _misquoted(tip, source)

    times = {form for clock in _TIME.findall(source) for form in _hour_forms(clock)}
    problems += [clock for clock in _TIME.findall(tip) if clock not in times]

    # A length is checked as a length (its own number need not appear: "180 minutes" states "3 h").
    lengths = set(durations(source).values())
    problems += [said for said, minutes in durations(tip).items() if minutes not in lengths]

    numbers = _numbers(source)
    problems += [n for n in _NUMBER.findall(_DURATION.sub(" ", _TIME.sub(" ", tip))) if float(n) not in numbers]

    starts = {match.group(1) for match in _SENTENCE_START.finditer(tip)}
    for word in (found.rstrip("'-") for found in _WORD.findall(tip)):  # "Acme'" closing a quotation is "Acme"
        lower = word.lower()
        if lower in WEEKDAYS or lower in MONTHS:
            if lower not in source_lower:
                problems.append(word)
        elif (
            word[0].isupper()
            and word not in starts
            and lower not in COMMON_WORDS
            and not re.search(rf"\b{re.escape(lower)}\b", source_lower)
        ):
            problems.append(word)
    return problems


def is_grounded(tip: str, facts: Iterable[str]) -> bool:
    return not ungrounded(tip, facts)


def links_in(text: str) -> list[str]:
    """The URLs, web addresses, domain names, email addresses and IP addresses in ``text`` (empty when none)."""
    return list(_links(text))


@lru_cache(maxsize=4096)
def _links(text: str) -> tuple[str, ...]:
    # Cached: every tip checks each of the composer's candidates, and most of their texts (the generic tips, the
    # rules' sentences over unchanged facts) are the same from one tip to the next.
    found = (match.group() for pattern in (_SCHEME, _DOMAIN, _IPV4) for match in pattern.finditer(text))
    return tuple(dict.fromkeys(link.rstrip(".,;:!?)") for link in found))
