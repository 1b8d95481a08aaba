"""The local model writes tips only through strict checks; what fails them never reaches the page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlmodel import Session, select

from oo_app.llm.aliases import COMPOSER_MODEL, LOCAL_TIP_MODEL
from oo_app.models import AgentOutput, User
from oo_app.recommender import recommend
from oo_app.recommender.grounding import is_grounded
from oo_app.recommender.local_writer import STATIC_EXAMPLES, few_shot_prompt, problems, write_with
from tests.conftest import NOW

LINES = {"time-of-day": "It is 14:05 on Wednesday; they get most done around 16:00 (peak hours 15:00, 16:00)."}
FACTS = {"lines": LINES, "recent_tips": ["Block 16:00 for one deep task."], "examples": []}


def scripted(*answers: str) -> Callable[[str, int], str]:
    """A generator that answers ``answers[seed]``: the checks are what is under test here, not the model."""
    return lambda _prompt, seed: answers[seed]


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
