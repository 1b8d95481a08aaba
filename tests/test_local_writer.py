"""The local model writes tips only through strict checks; what fails them never reaches the page."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest
from sqlmodel import Session, select

from oo_app.llm.aliases import COMPOSER_MODEL, LOCAL_TIP_MODEL
from oo_app.llm.router import embed
from oo_app.models import AgentOutput, Tip, User
from oo_app.recommender import recommend
from oo_app.recommender.dedup import NEAR_DUPLICATE, closest_recent
from oo_app.recommender.grounding import is_grounded
from oo_app.recommender.local_writer import (
    STATIC_EXAMPLES,
    fact_lines,
    few_shot_prompt,
    first_seed,
    problems,
    untraced_embed,
    write_with,
)
from tests.conftest import NOW

LINES = {"time-of-day": "It is 14:05 on Wednesday; they get most done around 16:00 (peak hours 15:00, 16:00)."}
FACTS = {"lines": LINES, "recent_tips": ["Block 16:00 for one deep task."], "examples": []}


def scripted(*answers: str) -> Callable[[str, int], str]:
    """A generator that answers ``answers`` in turn, whatever the seed: the checks are under test here, not the
    model."""
    queue = list(answers)
    return lambda _prompt, _seed: queue.pop(0)


def test_the_first_sample_that_passes_every_check_is_the_tip() -> None:
    draft, drawn = write_with(
        scripted("Give the 12 Tax tasks a due date.", "Block 16:00 for one deep task.", "Save 16:00 for the hard one."),
        FACTS,
    )
    assert draft is not None
    assert draft.text == "Save 16:00 for the hard one."
    assert drawn == 3


def test_no_passing_sample_means_no_tip() -> None:
    draft, drawn = write_with(scripted("Ok.", "Call Anna on Friday.", "x" * 200, "Finish 5 tasks."), FACTS)
    assert draft is None
    assert drawn == 4


@pytest.mark.parametrize(
    ("candidate", "reason"),
    [
        ("Ok.", "length"),
        ("Block 16:00 for one deep task.", "repeats a recent tip"),
        (STATIC_EXAMPLES[0][1], "copies an example"),
        ("they get most done around 16:00", "restates a fact verbatim"),
        ("Plan Friday around 09:00.", "ungrounded: 09:00, Friday"),
    ],
)
def test_each_check_names_its_reason(candidate: str, reason: str) -> None:
    from oo_app.recommender.local_writer import examples_from

    found = problems(candidate, list(LINES.values()), FACTS["recent_tips"], examples_from(FACTS))
    assert any(problem.startswith(reason) for problem in found), found


def test_the_persons_own_good_tips_come_first_in_the_few_shot_prompt() -> None:
    from oo_app.recommender.local_writer import examples_from

    own = {"facts": "It is 08:00 on Tuesday.", "tip": "Start before 09:00."}
    prompt = few_shot_prompt(list(LINES.values()), examples_from({**FACTS, "examples": [own]}))
    assert prompt.startswith("Facts: It is 08:00 on Tuesday.\nTip: Start before 09:00.\n\n")
    assert prompt.endswith(f"Facts: {LINES['time-of-day']}\nTip:")


def test_the_real_local_model_writes_only_grounded_tips(session: Session, demo_user: User, configure) -> None:
    configure(OO_TIP_WRITER="local")
    writers = []
    for _ in range(3):
        tip = recommend(session, demo_user, NOW)
        lines = [o.snippet for o in session.exec(select(AgentOutput).where(AgentOutput.user_id == demo_user.id))]
        assert is_grounded(tip.text, lines) or tip.model == COMPOSER_MODEL, tip.text
        writers.append(tip.model)
    assert set(writers) <= {LOCAL_TIP_MODEL, COMPOSER_MODEL}
    assert LOCAL_TIP_MODEL in writers, f"the local model wrote none of the tips: {writers}"


def test_a_sample_that_reads_badly_is_redrawn(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="oo_app.recommender.local_writer"):
        draft, drawn = write_with(
            scripted("If they are not working, pick a task that you can finish today.", "Block 16:00 for the report."),
            FACTS,
            embed=embed,
        )
    assert draft is not None
    assert draft.text == "Block 16:00 for the report."
    assert drawn == 2
    assert "reads badly" in caplog.text
    assert "not working" not in caplog.text, "the overruled draft itself is never logged above DEBUG"


def test_a_generic_line_already_seen_is_redrawn_not_written_again() -> None:
    facts = {**FACTS, "recent_tips": ["Pick a task that you can finish today."]}
    draft, drawn = write_with(
        scripted("Pick one task that you can finish today.", "Block 16:00 for the report."), facts, embed=embed
    )
    assert draft is not None
    assert draft.text == "Block 16:00 for the report."
    assert drawn == 2


def test_a_paraphrase_of_an_example_is_redrawn() -> None:
    copied = "Before 16:00, pick a task that you can finish today."  # the third static example, reworded
    draft, drawn = write_with(scripted(copied, "Block 16:00 for the report."), FACTS, embed=embed)
    assert (draft.text if draft else None, drawn) == ("Block 16:00 for the report.", 2)


def test_each_new_tip_draws_other_seeds_than_the_last() -> None:
    seeds: list[int] = []

    def remember(_prompt: str, seed: int) -> str:
        seeds.append(seed)
        return "Ok."

    write_with(remember, FACTS)
    write_with(remember, {**FACTS, "recent_tips": ["Block 16:00 for the report.", *FACTS["recent_tips"]]})
    assert len(set(seeds)) == 8, seeds
    assert first_seed(["a", "b"]) == first_seed(["a", "b"]), "the same recent tips give the same draws"


def test_the_chosen_leads_line_closes_the_facts() -> None:
    lines = {"focus-area": "Their main areas: Work.", "time-of-day": LINES["time-of-day"], "momentum": "Steady."}
    assert fact_lines({"lines": lines, "choice": {"lead": "focus-area"}})[-1] == "Their main areas: Work."
    assert fact_lines({"lines": lines})[-1] == LINES["time-of-day"]


def test_a_short_session_of_the_real_local_model_never_writes_the_same_line_twice(
    session: Session, demo_user: User, configure
) -> None:
    configure(OO_TIP_WRITER="local")
    tips: list[Tip] = [recommend(session, demo_user, NOW) for _ in range(5)]
    texts = [tip.text for tip in tips]
    assert len(set(texts)) == len(texts), texts
    local = [index for index, tip in enumerate(tips) if index > 0 and tip.model == LOCAL_TIP_MODEL]
    assert local, f"the local model wrote none of the tips after the first: {[tip.model for tip in tips]}"
    for index in local:
        closest = closest_recent(tips[index].text, texts[:index], embed)
        assert closest is not None
        assert closest[1] < NEAR_DUPLICATE, (tips[index].text, closest)


def test_inside_the_provider_samples_are_read_by_the_local_encoder_never_through_the_alias(
    configure: Callable[..., None],
) -> None:
    """A LiteLLM call made inside the provider is traced outside the person's span: the local writer reads its
    samples with the local encoder itself, and with another embedder configured leaves them to the orchestrator."""
    configure(OO_TIP_WRITER="local")
    local = untraced_embed()
    assert local is not None
    texts = ["Finish the smallest task now.", "Rest: it is late."]
    mine, aliased = local(texts), embed(texts)
    assert len(mine) == len(aliased) == 2
    for vector, expected in zip(mine, aliased, strict=True):
        assert vector == pytest.approx(expected, abs=1e-5), "the same vectors as the local embedder alias"

    configure(
        OO_LLM_ALIASES=json.dumps(
            {
                "tip-generator": [{"model": LOCAL_TIP_MODEL}],
                "embedder": [{"model": "openai/text-embedding-3-small"}],
                "judge": [{"model": "oo-rules/checks"}],
            }
        )
    )
    assert untraced_embed() is None
