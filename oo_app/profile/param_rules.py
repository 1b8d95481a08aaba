"""What a person may set as an agent parameter: one rule per parameter key, checked before anything is stored.

A rule turns a JSON value into the value to store, or raises ``ValueError`` with what a valid value looks like. A
parameter without a rule of its own (a new agent's) is checked against the shape of its cold-start default, so no
value an agent cannot compute with ever reaches ``user_preferences``. Rules never touch the database.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from agents.eligibility import ENABLED_KEY

MAX_NAME = 64  # a project or area name a person types
MAX_TASTES = 200  # keys of the learner's tastes: leads, kinds, and leads by part of the day and by context
MAX_TASTE_KEY = 100  # "recent-patterns@in:" and a context name of up to 64 characters
MAX_TEXT = 200


@dataclass(frozen=True)
class ParamRule:
    """``expects`` says what a valid value is (shown to the person); ``check`` returns the value to store."""

    expects: str
    check: Callable[[Any], Any]

    def __call__(self, value: Any) -> Any:
        try:
            return self.check(value)
        except (TypeError, ValueError, KeyError):
            raise ValueError(f"expected {self.expects}") from None


def _integer(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError
    return value


def _number(value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError
    if not low <= value <= high:
        raise ValueError
    return float(value)


def _name(value: Any, limit: int = MAX_NAME) -> str:
    """A short single-line name: trimmed, 1..limit characters, no control characters (it may reach a prompt)."""
    if not isinstance(value, str) or any(unicodedata.category(char).startswith("C") for char in value):
        raise ValueError
    name = " ".join(value.split())
    if not 1 <= len(name) <= limit:
        raise ValueError
    return name


def _hour(value: Any) -> int:
    return _integer(value, 0, 23)


def _hours(value: Any) -> list[int]:
    if not isinstance(value, list) or len(value) > 24:
        raise ValueError
    hours = [_hour(item) for item in value]
    if len(set(hours)) != len(hours):
        raise ValueError
    return sorted(hours)


def _weekdays(value: Any) -> list[int]:
    if not isinstance(value, list) or len(value) > 7:
        raise ValueError
    days = [_integer(item, 0, 6) for item in value]
    if len(set(days)) != len(days):
        raise ValueError
    return sorted(days)


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _zone(value: Any) -> str:
    if not isinstance(value, str) or value not in _zones():
        raise ValueError
    return value


def _one_of(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError
        return value

    return check


def _names(limit: int) -> Callable[[Any], list[str]]:
    def check(value: Any) -> list[str]:
        if not isinstance(value, list) or len(value) > limit:
            raise ValueError
        names = [_name(item) for item in value]
        if len({name.casefold() for name in names}) != len(names):
            raise ValueError
        return names

    return check


def _project_shifts(value: Any) -> dict[str, float]:
    if not isinstance(value, dict) or len(value) > 50:
        raise ValueError
    return {_name(project, 128): _number(days, -365, 365) for project, days in value.items()}


def _taste(value: Any) -> float | dict[str, float]:
    """A share of tips taken up (0 to 1), or a Beta posterior ``{"alpha", "beta"}`` (each above 0, at most 10^6)."""
    if isinstance(value, dict):
        if set(value) != {"alpha", "beta"}:
            raise ValueError
        alpha, beta = _number(value["alpha"], 0, 1e6), _number(value["beta"], 0, 1e6)
        if alpha <= 0 or beta <= 0:
            raise ValueError
        return {"alpha": alpha, "beta": beta}
    return _number(value, 0, 1)


def _tastes(value: Any) -> dict[str, float | dict[str, float]]:
    if not isinstance(value, dict) or len(value) > MAX_TASTES:
        raise ValueError
    return {_name(lead, MAX_TASTE_KEY): _taste(taste) for lead, taste in value.items()}


def _record(**fields: Callable[[Any], Any]) -> Callable[[Any], dict[str, Any]]:
    def check(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict) or set(value) != set(fields):
            raise ValueError
        return {key: fields[key](value[key]) for key in fields}

    return check


def _never(value: Any) -> Any:
    raise ValueError


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError
    return value


ENABLED = ParamRule("true or false", _boolean)

RULES: dict[str, ParamRule] = {
    "preferred_hour": ParamRule("an hour of the day, an integer from 0 to 23", _hour),
    "quiet_start": ParamRule("an hour of the day, an integer from 0 to 23", _hour),
    "quiet_end": ParamRule("an hour of the day, an integer from 0 to 23", _hour),
    "peak_hours": ParamRule("a list of distinct hours of the day (integers from 0 to 23)", _hours),
    "tz": ParamRule("an IANA time zone such as 'Europe/Berlin' or 'UTC'", _zone),
    "engagement_trend": ParamRule("one of 'rising', 'steady', 'falling'", _one_of("rising", "steady", "falling")),
    "baseline_completions_per_day": ParamRule(
        "a number of tasks per day from 0 to 100", lambda value: _number(value, 0, 100)
    ),
    "stdev": ParamRule("a number from 0 to 100", lambda value: _number(value, 0, 100)),
    "lateness_tolerance_days": ParamRule("a number of days from -365 to 365", lambda value: _number(value, -365, 365)),
    "project_realness": ParamRule(
        "an object of at most 50 project names (1-128 characters) to days from -365 to 365", _project_shifts
    ),
    "lookback_days": ParamRule("a number of days, an integer from 1 to 90", lambda value: _integer(value, 1, 90)),
    "weekly_cycle": ParamRule(
        "an object {'strength': a number from 0 to 1, 'peak_weekday': an integer from 0 (Monday) to 6}",
        _record(strength=lambda value: _number(value, 0, 1), peak_weekday=lambda value: _integer(value, 0, 6)),
    ),
    "daily_cycle": ParamRule(
        "an object {'strength': a number from 0 to 24, 'peak_hour': an integer from 0 to 23}",
        _record(strength=lambda value: _number(value, 0, 24), peak_hour=_hour),
    ),
    "recent_mood": ParamRule("a number from 1 (low) to 3 (good)", lambda value: _number(value, 1, 3)),
    "low_hours": ParamRule("a list of distinct hours of the day (integers from 0 to 23)", _hours),
    "low_weekdays": ParamRule("a list of distinct weekdays, integers from 0 (Monday) to 6", _weekdays),
    "usual_meetings": ParamRule(
        "a number of meetings a day, an integer from 0 to 100", lambda value: _integer(value, 0, 100)
    ),
    "tastes": ParamRule(
        f"an object of at most {MAX_TASTES} agent names (such as 'momentum', 'generic', 'kind:todo', "
        "'momentum@morning' or 'momentum@in:work') to the share of their tips you take up, from 0 to 1 "
        "(or {'alpha': a number above 0, 'beta': a number above 0})",
        _tastes,
    ),
    "preferred_areas": ParamRule(
        f"a list of at most 5 distinct area names of 1-{MAX_NAME} characters on one line", _names(5)
    ),
}


# What a parameter means to the person, for parameters whose manifest gives no description.
MEANINGS: dict[str, str] = {
    "preferred_hour": "the hour of the day you get the most done",
    "quiet_start": "when your quiet hours begin: no tip reaches you from then",
    "quiet_end": "when your quiet hours end",
    "peak_hours": "your most productive hours of the day",
    "tz": "the time zone your day runs in",
    ENABLED_KEY: "whether this agent may speak for you",
}


def meaning(key: str, description: str = "") -> str:
    """What parameter ``key`` means: its manifest's description, else oO's own wording, else the key."""
    return description or MEANINGS.get(key) or key.replace("_", " ")


def _shaped_like(default: Any) -> ParamRule:
    """A rule from a cold-start default's shape: same JSON type; lists of the same item type; objects with the same
    keys (or, when the default is empty, short names to numbers or short texts)."""
    if isinstance(default, bool):
        return ENABLED
    if isinstance(default, int):
        return ParamRule("an integer", lambda value: _integer(value, -(10**9), 10**9))
    if isinstance(default, float):
        return ParamRule("a number", lambda value: _number(value, -1e9, 1e9))
    if isinstance(default, str):
        return ParamRule(f"a text of 1-{MAX_TEXT} characters on one line", lambda value: _name(value, MAX_TEXT))
    if isinstance(default, list):
        item = _shaped_like(default[0]) if default else _shaped_like("")

        def check_list(value: Any) -> list[Any]:
            if not isinstance(value, list) or len(value) > 50:
                raise ValueError
            return [item(element) for element in value]

        return ParamRule(f"a list of at most 50 items, each {item.expects}", check_list)
    if isinstance(default, dict) and default:
        fields = {key: _shaped_like(inner) for key, inner in default.items()}
        expects = ", ".join(f"{key!r}: {rule.expects}" for key, rule in fields.items())
        return ParamRule(f"an object {{{expects}}}", _record(**fields))
    if isinstance(default, dict):

        def check_mapping(value: Any) -> dict[str, Any]:
            if not isinstance(value, dict) or len(value) > 50:
                raise ValueError
            return {
                _name(key, 128): _number(inner, -1e9, 1e9) if not isinstance(inner, str) else _name(inner, MAX_TEXT)
                for key, inner in value.items()
            }

        return ParamRule("an object of at most 50 names to numbers or short texts", check_mapping)
    return ParamRule("nothing: this parameter cannot be set by hand", _never)


def rule_for(key: str, cold_start_default: Any) -> ParamRule:
    """The rule of parameter ``key``: its own, or one derived from its cold-start default."""
    return RULES.get(key) or _shaped_like(cold_start_default)
