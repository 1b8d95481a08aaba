"""The rows of "What oO learned about you" on ``/settings``: each agent's statements in plain words and its raw
parameters, flattened so the page lists every agent's in one loop. Plain data built from the profile's preferences
(:mod:`oo_app.profile.prefs`), the parsing of what the controls send and their refusals in words; no state, no
database of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlmodel import Session

from oo_app.errors import InvalidInput
from oo_app.models import User
from oo_app.profile.consents import ConsentState
from oo_app.profile.prefs import GLOBAL_SCOPE, ScopePrefs
from oo_app.profile.sayings import agent_about, agent_title, listed, reading_order

SOURCE_LABELS = {
    "user": "set by you",
    "inferred": "learned by oO",
    "default": "not learned yet",
}
# A parameter oO takes rather than learns: its "inferred" value came from elsewhere, said so.
TAKEN_FROM = {"tz": "from your browser or sign-in"}
AREA_FIELD = "area:"  # the name prefix of an area chip's checkbox
# What a value a control sent and the parameter's rule refused means to the person (the raw fields keep the rule's
# own words): the pickers offer only valid values, so this reads only after a tampered or stale page.
CONTROL_ERRORS = {
    "hour": "Choose a whole hour from 00:00 to 23:00.",
    "window": "Choose both ends of your quiet hours, each a whole hour from 00:00 to 23:00.",
    "areas": "Choose at most 5 of your areas.",
}
T = TypeVar("T")


def label_of(*keys: str, source: str) -> str:
    """Where the value of ``keys`` comes from, in words: set by the person, learned, not learned yet, or (for a value oO
    takes rather than learns, like the zone) where it took it from."""
    if source == "inferred" and len(keys) == 1 and keys[0] in TAKEN_FROM:
        return TAKEN_FROM[keys[0]]
    return SOURCE_LABELS.get(source, source)


def plainly(control: str, change: Callable[[Session, User], T]) -> Callable[[Session, User], T]:
    """``change``, its refusal (InvalidInput) said in the words of ``control`` (a key of :data:`CONTROL_ERRORS`)."""

    def run(session: Session, user: User) -> T:
        try:
            return change(session, user)
        except InvalidInput:
            raise InvalidInput(CONTROL_ERRORS[control]) from None

    return run


def shown(value: Any) -> str:
    """A parameter value as the page shows it and as its edit field starts (JSON for lists and mappings)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def parsed(text: str) -> Any:
    """What the person typed: JSON when it is JSON (numbers, lists), else the trimmed text (a zone, a name)."""
    text = text.strip()
    try:
        return json.loads(text)
    except ValueError:
        return text


def whole_hour(text: Any) -> Any:
    """An hour a picker sent ("9" -> 9); anything else as it came, for the parameter's rule to refuse in words."""
    text = str(text).strip()
    return int(text) if text.isdecimal() and len(text) <= 2 else text


def chosen_areas(form: Mapping[str, Any]) -> list[str]:
    """The areas whose chips are ticked, in the page's order."""
    return [name.removeprefix(AREA_FIELD) for name, on in form.items() if name.startswith(AREA_FIELD) and on]


@dataclass(frozen=True)
class ParamRow:
    """One raw parameter (the "advanced" fold), flattened with its scope."""

    scope: str
    scope_heading: str  # the agent and its description on the first row of a scope, else ""
    key: str
    description: str
    value: str
    source: str
    source_label: str
    inferred: str  # what oO learned, shown beside the person's own value
    expects: str
    field_id: str


@dataclass(frozen=True)
class SaidRow:
    """One statement of an agent in plain words with the control that fits it; the agent's title, description and
    on/off switch ride on its first row (``heading`` is "" on the others)."""

    scope: str
    heading: str
    about: str
    enabled: bool
    needs: str  # on the first row: the consents it waits for, in words ("" when it has them all)
    id: str
    text: str
    source: str
    source_label: str
    learned: str  # beside the person's own value: what oO learned
    control: str  # "hour", "window", "areas" or ""
    param_keys: list[str]
    hour: str  # the hour picker's value; the quiet window's start
    end: str  # the quiet window's end
    chosen: list[str]
    choices: list[str]
    dom_id: str


def _needs(agent_id: str, consents: list[ConsentState]) -> str:
    """The consents ``agent_id`` waits for, named as the Consents section names them."""
    missing = [f"“{consent.key}”" for consent in consents if not consent.granted and agent_id in consent.agents]
    if not missing:
        return ""
    return f"oO learns this only with the {listed(missing)} consent{'s' if len(missing) > 1 else ''} (Consents, below)."


def said_rows(scopes: list[ScopePrefs], consents: list[ConsentState] = ()) -> list[SaidRow]:
    """Every agent's statements, the agents in the order a person reads them (their day first); an agent that waits
    for a consent the person has not given says so on its first row."""
    rows: list[SaidRow] = []
    for scope in sorted(scopes, key=lambda scope: reading_order(scope.scope)):
        if scope.scope == GLOBAL_SCOPE:
            continue
        for index, said in enumerate(scope.in_words):
            value = [*said.value, "", ""]
            rows.append(
                SaidRow(
                    scope=scope.scope,
                    heading=agent_title(scope.scope) if index == 0 else "",
                    about=agent_about(scope.scope, scope.description) if index == 0 else "",
                    enabled=scope.enabled,
                    needs=_needs(scope.scope, list(consents)) if index == 0 else "",
                    id=said.id,
                    text=said.text,
                    source=said.source,
                    source_label=label_of(*said.keys, source=said.source),
                    learned=said.learned,
                    control=said.control,
                    param_keys=list(said.keys),
                    hour=value[0] if said.control in ("hour", "window") else "",
                    end=value[1] if said.control == "window" else "",
                    chosen=list(said.value) if said.control == "areas" else [],
                    choices=list(said.choices),
                    dom_id=f"said-{scope.scope}-{said.id}",
                )
            )
    return rows


def param_rows(scopes: list[ScopePrefs]) -> list[ParamRow]:
    rows: list[ParamRow] = []
    for scope in scopes:
        if scope.scope == GLOBAL_SCOPE:
            continue
        for index, param in enumerate(scope.params):
            rows.append(
                ParamRow(
                    scope=scope.scope,
                    scope_heading=f"{scope.scope}: {scope.description}" if index == 0 else "",
                    key=param.key,
                    description=param.description,
                    value=shown(param.value),
                    source=param.source,
                    source_label=label_of(param.key, source=param.source),
                    inferred=shown(param.inferred) if param.source == "user" else "",
                    expects=param.expects,
                    field_id=f"pref-{scope.scope}-{param.key}",
                )
            )
    return rows
