"""What oO learned about a person, said as they would say it: one :class:`Statement` per thing it knows (or assumes).

Contract: :func:`statements` turns one agent's parameters (value, source, what oO learned) into sentences, in the
manifest's order, and names the control that fits each (an hour, the quiet window, area chips, or none: the raw value
stays under "advanced"). A value oO has not learned yet is said as an assumption ("oO is still learning ..."), never as
something learned. Pure: no database, no Reflex; an unknown parameter (a new agent's) falls back to its meaning.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from oo_app.profile.param_rules import meaning
from oo_app.profile.sayings import SAYINGS, Sayings, dips, hour, things

Source = Literal["user", "inferred", "default"]
Control = Literal["hour", "window", "areas", ""]

QUIET_WINDOW = "quiet_window"  # the statement of quiet_start and quiet_end together
USUAL_DAY = "usual_day"  # the statement of baseline_completions_per_day and stdev together
ENERGY_DIPS = "energy_dips"  # the statement of low_hours and low_weekdays together


class Param(Protocol):
    """What a statement reads of a parameter (:class:`oo_app.profile.prefs.ParamState` has it)."""

    key: str
    value: Any
    source: Source
    inferred: Any
    learned: bool


@dataclass(frozen=True)
class Statement:
    """One thing oO knows or assumes about the person.

    ``text`` says the value that applies; ``source`` where it comes from (``user``: the person set it; ``inferred``:
    oO learned it; ``default``: oO assumes it until it has enough history). ``learned`` says, beside the person's own
    value, what oO would use without it ("" otherwise). ``control`` is the control that fits; ``value`` its current
    value (hours as "0".."23", or area names) and ``choices`` the areas it offers.
    """

    id: str
    keys: list[str]
    text: str
    source: Source
    learned: str = ""
    control: Control = ""
    value: list[str] = field(default_factory=list)
    choices: list[str] = field(default_factory=list)


CONTROLS: dict[str, Control] = {"preferred_hour": "hour", "preferred_areas": "areas"}
# What a value of the wrong shape (stored by an older oO, or typed under "advanced") raises in a saying.
SHAPE_ERRORS = (TypeError, ValueError, KeyError, IndexError, AttributeError)


def _raw(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _fallback(key: str) -> Sayings:
    label = meaning(key)
    label = label[0].upper() + label[1:]
    return (
        lambda v: f"{label}: {_raw(v)}.",
        lambda v: f"{label}: oO is still learning it and assumes {_raw(v)}.",
        _raw,
    )


def _sentence(sayings: Sayings, value: Any, known: bool) -> str:
    """The saying of ``value``; a value of the wrong shape (stored by an older oO) is said as it is, never raised."""
    try:
        return sayings[0](value) if known else sayings[1](value)
    except SHAPE_ERRORS:
        return f"{'' if known else 'oO assumes '}{_raw(value)}."


def _beside(words: str, *params: Param) -> str:
    """Beside the person's own value: what oO learned, or what it would assume while it has not learned it."""
    learned = all(param.learned for param in params)
    return f"oO learned: {words}" if learned else f"oO has not learned it yet; it would assume {words}"


def _learned_beside(sayings: Sayings, param: Param) -> str:
    try:
        words = sayings[2](param.inferred)
    except SHAPE_ERRORS:
        words = _raw(param.inferred)
    return _beside(words, param)


def _value(control: Control, value: Any) -> list[str]:
    if control == "hour":
        return [str(int(value))]
    if control == "areas":
        return [str(name) for name in value or []]
    return []


def _one(param: Param, areas: Sequence[str]) -> Statement:
    sayings = SAYINGS.get(param.key) or _fallback(param.key)
    known = param.source != "default"
    control = CONTROLS.get(param.key, "")
    value = _value(control, param.value) if _fits(control, param.value) else []
    choices = list(dict.fromkeys([*value, *areas])) if control == "areas" else []
    return Statement(
        id=param.key,
        keys=[param.key],
        text=_sentence(sayings, param.value, known),
        source=param.source,
        learned=_learned_beside(sayings, param) if param.source == "user" else "",
        control=control if value or control == "areas" else "",
        value=value,
        choices=choices,
    )


def _fits(control: Control, value: Any) -> bool:
    if control == "hour":
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 23
    if control == "areas":
        return isinstance(value, list) and all(isinstance(name, str) for name in value)
    return True


def _joint_source(params: Sequence[Param]) -> Source:
    sources = {param.source for param in params}
    return "user" if "user" in sources else "default" if "default" in sources else "inferred"


def _quiet(start: Param, end: Param) -> Statement:
    source = _joint_source([start, end])
    try:
        first, last = hour(start.value), hour(end.value)
        if source == "default":
            text = f"oO is still learning when you rest; until then it keeps {first} to {last} quiet."
        elif first == last:
            text = "No quiet hours: a tip may reach you at any hour."
        else:
            text = f"Quiet from {first} to {last}: no tip reaches you then."
        value = [str(int(start.value)), str(int(end.value))]
    except SHAPE_ERRORS:
        text, value = f"Quiet hours: {_raw(start.value)} to {_raw(end.value)}.", []
    learned = ""
    if source == "user":
        try:
            window = f"{hour(start.inferred)} to {hour(end.inferred)}"
        except SHAPE_ERRORS:
            window = f"{_raw(start.inferred)} to {_raw(end.inferred)}"
        learned = _beside(window, start, end)
    return Statement(QUIET_WINDOW, [start.key, end.key], text, source, learned, "window" if value else "", value)


def _usual_day(baseline: Param, stdev: Param) -> Statement:
    source = _joint_source([baseline, stdev])

    def say(mean: Any, spread: Any) -> str:
        give = round(float(spread))
        return things(float(mean)) + " done" + (f", give or take {give}" if give >= 1 else "")

    try:
        if source == "default":
            text = "oO is still learning how much you usually get done in a day."
        else:
            text = f"On a usual day you get {say(baseline.value, stdev.value)}."
        learned = _beside(say(baseline.inferred, stdev.inferred), baseline, stdev) if source == "user" else ""
    except SHAPE_ERRORS:
        text, learned = f"A usual day: {_raw(baseline.value)} done, give or take {_raw(stdev.value)}.", ""
    return Statement(USUAL_DAY, [baseline.key, stdev.key], text, source, learned)


def _energy_dips(hours: Param, weekdays: Param) -> Statement:
    source = _joint_source([hours, weekdays])
    keys = [hours.key, weekdays.key]
    try:
        text = (
            "oO is still learning when your energy dips." if source == "default" else dips(hours.value, weekdays.value)
        )
        learned = _beside(dips(hours.inferred, weekdays.inferred), hours, weekdays) if source == "user" else ""
    except SHAPE_ERRORS:
        text, learned = f"Your energy dips: {_raw(hours.value)}, {_raw(weekdays.value)}.", ""
    return Statement(ENERGY_DIPS, keys, text, source, learned)


# Parameters said together, by the first key of the pair: the second key, and how the pair is said.
PAIRS: dict[str, tuple[str, Callable[[Param, Param], Statement]]] = {
    "quiet_start": ("quiet_end", _quiet),
    "baseline_completions_per_day": ("stdev", _usual_day),
    "low_hours": ("low_weekdays", _energy_dips),
}


def statements(params: Sequence[Param], areas: Sequence[str] = ()) -> list[Statement]:
    """One agent's parameters in plain words, in their order; pairs (the quiet window, a usual day) as one statement.

    ``areas`` are the person's projects the area chips offer besides the areas chosen now (most done first).
    """
    by_key = {param.key: param for param in params}
    paired = {second for first, (second, _) in PAIRS.items() if first in by_key and second in by_key}
    said: list[Statement] = []
    for param in params:
        if param.key in paired:
            continue
        pair = PAIRS.get(param.key)
        if pair is not None and pair[0] in by_key:
            said.append(pair[1](param, by_key[pair[0]]))
        else:
            said.append(_one(param, areas))
    return said
