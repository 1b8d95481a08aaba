"""Off-policy estimates on synthetic logs whose truth is known: IPS and SNIPS find a candidate policy's acceptance
from tips another policy chose, and their intervals cover it about as often as they claim."""

from __future__ import annotations

import random
from collections.abc import Mapping

import pytest

from oo_app.recommender.offpolicy import (
    LoggedTip,
    OffPolicyError,
    composer_order,
    estimate,
    ips,
    prefer,
    snips,
    uniform,
)

LEADS: tuple[str | None, ...] = ("time-of-day", "momentum", "focus-area", None)
# The true chance that a tip led by each lead is accepted.
TRUE_ACCEPTANCE: dict[str | None, float] = {"time-of-day": 0.2, "momentum": 0.1, "focus-area": 0.6, None: 0.3}
# The logging policy: softmax-like preferences, so propensities are far from uniform.
LOGGING_WEIGHT: dict[str | None, float] = {"time-of-day": 4.0, "momentum": 2.0, "focus-area": 1.0, None: 1.0}


def _offered(rng: random.Random) -> tuple[str | None, ...]:
    """Two to four distinct candidate leads in a random composer order."""
    return tuple(rng.sample(LEADS, rng.randint(2, len(LEADS))))


def _logging_policy(options: tuple[str | None, ...]) -> dict[str | None, float]:
    total = sum(LOGGING_WEIGHT[lead] for lead in options)
    return {lead: LOGGING_WEIGHT[lead] / total for lead in options}


def _log(size: int, seed: int) -> tuple[list[LoggedTip], list[tuple[str | None, ...]]]:
    """``size`` tips chosen by the logging policy, each with its propensity and a drawn reward."""
    rng = random.Random(seed)
    tips, offered = [], []
    for _ in range(size):
        options = _offered(rng)
        chances = _logging_policy(options)
        lead = rng.choices(list(chances), weights=list(chances.values()))[0]
        reward = 1.0 if rng.random() < TRUE_ACCEPTANCE[lead] else 0.0
        tips.append(LoggedTip(lead=lead, candidates=options, propensity=chances[lead], reward=reward))
        offered.append(options)
    return tips, offered


def _truth(policy_probabilities: list[Mapping[str | None, float]]) -> float:
    """A policy's true acceptance on the logged contexts: the mean over them of its expected reward."""
    values = [sum(p * TRUE_ACCEPTANCE[lead] for lead, p in chances.items()) for chances in policy_probabilities]
    return sum(values) / len(values)


def test_ips_and_snips_recover_a_deterministic_policy_and_the_uniform_one() -> None:
    tips, _ = _log(20_000, seed=1)
    best_first = prefer(["focus-area", None, "time-of-day", "momentum"])
    for name, policy in {"best-first": best_first, "uniform": uniform, "composer": composer_order}.items():
        truth = _truth([policy(tip) for tip in tips])
        for method in (ips, snips):
            found = method(tips, policy)
            assert found.covers(truth), (name, found, truth)
            assert found.value == pytest.approx(truth, abs=0.02), (name, found.method)
            assert found.high - found.low < 0.06, "20,000 tips give a narrow interval"
    # The logging policy favours time-of-day, which is poor; the best-first policy is far better and IPS says so.
    logged_acceptance = sum(tip.reward for tip in tips) / len(tips)
    assert snips(tips, best_first).low > logged_acceptance + 0.15


def test_the_intervals_cover_the_truth_about_95_times_in_100() -> None:
    policy = prefer(["focus-area", "momentum"])
    covered = {"ips": 0, "snips": 0}
    runs = 200
    for seed in range(runs):
        tips, _ = _log(400, seed=seed)
        truth = _truth([policy(tip) for tip in tips])
        for method, found in estimate(tips, {"p": policy})["p"].items():
            covered[method] += found.covers(truth)
    for method, count in covered.items():
        assert 0.88 * runs <= count <= 0.99 * runs, (method, count)


def test_the_logging_policy_estimates_itself_as_the_plain_mean() -> None:
    tips, _ = _log(500, seed=3)

    def logging(tip: LoggedTip) -> dict[str | None, float]:
        return _logging_policy(tip.options)

    mean = sum(tip.reward for tip in tips) / len(tips)
    assert snips(tips, logging).value == pytest.approx(mean)
    assert ips(tips, logging).value == pytest.approx(mean)
    assert ips(tips, logging).effective_tips == pytest.approx(len(tips))


def test_a_policy_the_log_never_followed_gets_zero_weight() -> None:
    tips = [LoggedTip(lead="momentum", candidates=("momentum", "focus-area"), propensity=1.0, reward=1.0)] * 10
    found = snips(tips, prefer(["focus-area"]))
    assert (found.value, found.effective_tips) == (0.0, 0.0)
    assert ips(tips, prefer(["focus-area"])).value == 0.0


def test_options_are_the_distinct_candidates_in_the_composers_order() -> None:
    tip = LoggedTip(lead="a", candidates=("b", "a", "b", None), propensity=0.5, reward=0.0)
    assert tip.options == ("b", "a", None)
    assert composer_order(tip) == {"b": 1.0}
    assert uniform(tip) == pytest.approx({"b": 1 / 3, "a": 1 / 3, None: 1 / 3})
    assert LoggedTip(lead="a", candidates=(), propensity=1.0, reward=0.0).options == ("a",)


def test_an_empty_log_or_a_wrong_propensity_is_refused_with_a_reason() -> None:
    with pytest.raises(OffPolicyError, match="nothing to estimate"):
        ips([], uniform)
    bad = [LoggedTip(lead="a", candidates=("a",), propensity=0.0, reward=1.0)]
    with pytest.raises(OffPolicyError, match="not a probability"):
        snips(bad, uniform)
