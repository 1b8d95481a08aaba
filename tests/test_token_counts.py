"""LiteLLM counts tokens itself only when asked (``OO_LLM_COUNT_TOKENS_LOCALLY``), and its default encoding is loaded
only when something uses it (docs/adr/0016-lean-web-workers.md); a fresh worker's view is in test_lean_imports.py."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import litellm
import litellm.main
import pytest

from oo_app.llm.token_counts import DeferredEncoding, configure_token_counting


@pytest.fixture
def restored_litellm() -> Iterator[None]:
    flag, encoding = litellm.disable_token_counter, vars(litellm.main).get("encoding")
    yield
    litellm.disable_token_counter = flag
    if encoding is None:
        vars(litellm.main).pop("encoding", None)
    else:
        litellm.main.encoding = encoding


def test_the_deferred_encoding_loads_on_first_use_and_counts_as_litellms_default() -> None:
    deferred = DeferredEncoding()
    assert copy.deepcopy([deferred])[0] is deferred  # LiteLLM may copy call arguments: not a use
    assert not deferred.loaded
    from litellm._lazy_imports import get_default_encoding

    text = "Close one open task before you open a new one."
    assert deferred.encode(text) == get_default_encoding().encode(text)
    assert deferred.loaded


@pytest.mark.usefixtures("restored_litellm")
def test_litellm_counts_tokens_only_when_counting_locally() -> None:
    configure_token_counting(count_locally=False)
    assert litellm.token_counter(text="hello world") == 0, "off: the server's counts are the only ones"
    configure_token_counting(count_locally=True)
    assert litellm.token_counter(text="hello world") == 2


@pytest.mark.usefixtures("restored_litellm")
def test_an_encoding_never_loaded_is_deferred_and_a_loaded_one_kept() -> None:
    vars(litellm.main).pop("encoding", None)
    configure_token_counting(count_locally=False)
    assert isinstance(litellm.main.encoding, DeferredEncoding)
    loaded = object()
    litellm.main.encoding = loaded
    configure_token_counting(count_locally=False)
    assert litellm.main.encoding is loaded
