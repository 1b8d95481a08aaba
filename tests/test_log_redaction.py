"""Logs never carry personal data or forged lines: the formatters redact messages, tracebacks and stacks in both
formats, a text record is one line plus marked continuation lines, SQL errors carry no parameters, and a model's
rejected draft never reaches a log above DEBUG. Real handlers, a real database, LiteLLM's own mock deployments.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from oo_app.llm.aliases import COMPOSER_MODEL, LOCAL_EMBEDDING_MODEL
from oo_app.models import User
from oo_app.ops.logs import CONTINUATION, REDACTED, log_handler
from oo_app.recommender import recommend
from oo_app.recommender.local_writer import write_with
from oo_app.settings import Settings
from tests.conftest import NOW

EMAIL = "ada.lovelace@example.com"
TOKEN = "eyJhbGciOi.secret-token-value"
FORMATS = ["json", "text"]


@pytest.fixture
def emit() -> Iterator[Callable[..., str]]:
    """``emit(log_format, callback)``: what our handler writes while ``callback(logger)`` logs."""
    logger = logging.getLogger("tests.log_redaction")
    logger.propagate, logger.level = False, logging.DEBUG
    attached: list[logging.Handler] = []

    def run(log_format: str, callback: Callable[[logging.Logger], None]) -> str:
        stream = io.StringIO()
        handler = log_handler(Settings(log_format=log_format), stream)
        logger.addHandler(handler)
        attached.append(handler)
        try:
            callback(logger)
        finally:
            logger.removeHandler(handler)
        return stream.getvalue()

    yield run
    for handler in attached:
        logger.removeHandler(handler)


def _failing_with_personal_data(logger: logging.Logger) -> None:
    try:
        raise RuntimeError(f"sync failed for {EMAIL} with Authorization: Bearer {TOKEN} (access_token={TOKEN})")
    except RuntimeError:
        logger.exception("sync of %s failed with Bearer %s", EMAIL, TOKEN)


@pytest.mark.parametrize("log_format", FORMATS)
def test_emails_and_tokens_are_redacted_in_the_message_and_the_traceback(emit: Callable, log_format: str) -> None:
    written = emit(log_format, _failing_with_personal_data)

    assert EMAIL not in written, written
    assert TOKEN not in written, written
    assert "secret-token-value" not in written, written
    assert "RuntimeError: sync failed for [redacted]" in written.replace("\\n", "\n"), "the traceback stays readable"


@pytest.mark.parametrize("log_format", FORMATS)
def test_a_stack_is_redacted_too(emit: Callable, log_format: str) -> None:
    def log_with_stack(logger: logging.Logger) -> None:
        logger.warning("reached", stack_info=True, extra={"who": "ada.lovelace@example.com"})  # the stack quotes it

    written = emit(log_format, log_with_stack)

    assert "log_with_stack" in written, "the stack is logged"
    assert EMAIL not in written, written


@pytest.mark.parametrize("log_format", FORMATS)
def test_a_message_with_a_line_break_cannot_forge_a_log_line(emit: Callable, log_format: str) -> None:
    written = emit(log_format, lambda logger: logger.warning("tip text: %s", "Rest now.\nFAKE 200\r\u2028OK"))

    assert len(written.splitlines()) == 1, written
    assert "FAKE 200" in written, "the text is escaped, not dropped"


def test_a_traceback_in_text_logs_continues_on_marked_lines(emit: Callable) -> None:
    def failing(logger: logging.Logger) -> None:
        try:
            raise ValueError("bad header\n2026-01-01 00:00:00 INFO oo_app.api: FAKE 200")
        except ValueError:
            logger.exception("request failed")

    first, *rest = emit("text", failing).splitlines()

    assert first.endswith("request failed")
    assert rest, "the traceback follows"
    assert all(line.startswith(CONTINUATION) for line in rest), rest


def test_json_extras_and_dict_messages_are_redacted(emit: Callable) -> None:
    written = emit(
        "json",
        lambda logger: logger.info({"event": "signed in", "person": {"email": EMAIL}, "note": f"by {EMAIL}"}),
    )

    record = json.loads(written)
    assert record["person"] == {"email": REDACTED}
    assert record["note"] == f"by {REDACTED}"


def test_a_password_in_a_url_is_redacted(emit: Callable) -> None:
    written = emit("text", lambda logger: logger.error("cannot reach postgresql://oo:hunter2@db:5432/oo"))

    assert "hunter2" not in written
    assert f"postgresql://oo:{REDACTED}@db:5432/oo" in written


def test_counts_of_tokens_are_not_mistaken_for_secrets(emit: Callable) -> None:
    written = emit("text", lambda logger: logger.info("usage prompt_tokens: 42, completion_tokens: 7"))

    assert "prompt_tokens: 42, completion_tokens: 7" in written


def test_a_failing_sql_statement_logs_no_parameters(any_database: Session, emit: Callable) -> None:
    tip_text = "Finish the divorce papers before Friday"

    def failing(logger: logging.Logger) -> None:
        try:
            any_database.execute(sa.text("INSERT INTO no_such_table (text) VALUES (:text)"), {"text": tip_text})
        except sa.exc.DBAPIError:
            logger.exception("storing the tip failed")
        finally:
            any_database.rollback()

    for log_format in FORMATS:
        written = emit(log_format, failing)
        assert "no_such_table" in written, "the error is logged"
        assert tip_text not in written, written


# --- a model's drafts ---------------------------------------------------------------------------------------------


def _tip_generator_answers(configure: Callable[..., None], answer: str) -> None:
    deployment = {"model": "openai/oo-writer", "mock_response": answer, "api_key": "test"}
    aliases = {"tip-generator": [deployment], "embedder": [{"model": LOCAL_EMBEDDING_MODEL}]}
    configure(OO_LLM_ALIASES=json.dumps(aliases), OO_LLM_RETRIES="0", OO_LLM_TIMEOUT_S="3")


@pytest.mark.parametrize(
    "draft",
    [
        "Call Beatrix about the Zanzibar invoice today.",  # ungrounded: the grounding check names its terms
        "Call Beatrix about the Zanzibar invoice today. " * 5,  # too long: pydantic quotes its input
    ],
    ids=["ungrounded", "too-long"],
)
def test_a_rejected_draft_is_not_logged_at_info(
    session: Session, demo_user: User, configure: Callable[..., None], caplog: pytest.LogCaptureFixture, draft: str
) -> None:
    _tip_generator_answers(configure, json.dumps({"text": draft}))

    with caplog.at_level(logging.INFO):
        tip = recommend(session, demo_user, NOW)

    assert tip.model == COMPOSER_MODEL, "the draft was rejected"
    assert "answer rejected" in caplog.text, "the rejection itself is logged"
    assert "Beatrix" not in caplog.text, caplog.text
    assert "Zanzibar" not in caplog.text, caplog.text


def test_the_local_writer_logs_no_draft_at_info(caplog: pytest.LogCaptureFixture) -> None:
    facts = {"lines": {"time-of-day": "It is 14:05 on Wednesday; they get most done around 16:00."}}
    with caplog.at_level(logging.INFO):
        draft, drawn = write_with(lambda _prompt, _seed: "Call Beatrix about the Zanzibar invoice.", facts)

    assert (draft, drawn) == (None, 4)
    assert "Beatrix" not in caplog.text


def test_a_rejected_judge_answer_is_not_logged_at_info(
    configure: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    from oo_app.recommender.judge import judge

    answer = json.dumps({"score": 2, "reason": "Beatrix and Zanzibar are invented. " * 20})  # over 500 characters
    deployment = {"model": "openai/judge", "mock_response": answer, "api_key": "test"}
    configure(OO_LLM_ALIASES=json.dumps({"judge": [deployment]}))

    with caplog.at_level(logging.INFO):
        verdict = judge("Call Beatrix about the Zanzibar invoice.", ["It is 14:05 on Wednesday."])

    assert verdict is None
    assert "judge answer rejected" in caplog.text
    assert "Beatrix" not in caplog.text, caplog.text
