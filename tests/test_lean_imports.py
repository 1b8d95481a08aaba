"""A web worker imports only what serving needs (issue 19): the app's modules, its start-up and the tips it writes load
neither pandas, plotly, mlflow, marimo, scikit-learn nor the local models' torch and llama.cpp, unless the
configuration uses them (tracing loads mlflow; the embedded models load torch and llama.cpp, in the model process
when there is one), and serving tips from a model server loads no tiktoken encoding. Each probe runs in a fresh
interpreter: this test process has loaded everything already."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oo_app.settings import ROOT
from tests.fakes.ollama import FakeOllama, Reply, count_tokens, prompt_eval_count

HEAVY = ("pandas", "plotly", "mlflow", "marimo", "sklearn", "scipy", "torch", "sentence_transformers", "llama_cpp")
OLLAMA_TIP = {"text": "Close one open task before you open a new one.", "kind": "todo"}

IMPORT_APP = """
import json, sys
import oo_app.oo_app
print(json.dumps({"heavy": sorted(m for m in HEAVY if m in sys.modules)}))
"""
# What a backend worker does: import the app (pages, API, lifespan tasks), build the Router, write tips and answer
# them (``ROUNDS`` tips shown and answered, each followed by the one written ahead); then it prints which heavy modules
# it holds.
SERVE_TIPS = """
import json, sys
import oo_app.oo_app
from oo_app.llm.router import get_router
from oo_app.auth.users import user_by_email
from oo_app.db import migrate, session_scope
from oo_app.demo import seed_demo
from oo_app.recommender import mark_shown, react, recommend
from oo_app.recommender.background import drain_all
from oo_app.settings import get_settings

get_router()
migrate(get_settings().database_url)
with session_scope() as session:
    seed_demo(session, "demo@example.com")
writers = []
for _ in range(ROUNDS):
    with session_scope() as session:
        person = user_by_email(session, "demo@example.com")
        tip = mark_shown(session, recommend(session, person))
        writers.append(tip.model)
        react(session, person, tip.id, "done")
drain_all(120)
from sqlmodel import select
from oo_app.models import Tip
with session_scope() as session:
    counts = [[t.model, t.prompt_tokens, t.completion_tokens] for t in session.exec(select(Tip))]
registry = sys.modules.get("tiktoken.registry")
print(json.dumps({
    "writers": writers,
    "heavy": sorted(m for m in HEAVY if m in sys.modules),
    "encodings": sorted(getattr(registry, "ENCODINGS", {})),
    "counts": counts,
}))
"""


@pytest.fixture(scope="module")
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama() as fake:
        fake.reset(Reply(content=json.dumps(OLLAMA_TIP)))
        yield fake


def probe(code: str, env: dict[str, str], workdir: Path) -> dict[str, Any]:
    """Runs ``code`` (after ``HEAVY`` is defined) in a fresh interpreter with ``env`` added, over a database in
    ``workdir``, the local models in-process unless ``env`` names a model server; the JSON of its last line."""
    full_env = {
        **{name: value for name, value in os.environ.items() if name != "OO_MODEL_SERVER_URL"},
        "OO_DATABASE_URL": f"sqlite:///{workdir / 'oo.db'}",
        "OO_TRACING_ENABLED": "false",
        "OO_SCHEDULER_ENABLED": "false",
        "OO_TIP_REPEAT_WINDOW_S": "0",
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{code}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=full_env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def serve_tips(rounds: int) -> str:
    """:data:`SERVE_TIPS` showing and answering ``rounds`` tips."""
    return f"ROUNDS = {rounds}\n{SERVE_TIPS}"


def test_importing_the_web_app_loads_nothing_heavy(tmp_path: Path) -> None:
    found = probe(IMPORT_APP, {}, tmp_path)
    assert found["heavy"] == [], f"importing the app loaded {found['heavy']}"


@pytest.fixture(scope="module")
def served_from_ollama(ollama: FakeOllama, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What a worker with its aliases on Ollama (the stand-in) held after serving tips."""
    from benchmarks.load import ollama_aliases

    workdir = tmp_path_factory.mktemp("served")
    return probe(serve_tips(2), {"OO_LLM_ALIASES": json.dumps(ollama_aliases(ollama.base_url))}, workdir)


def test_a_worker_serving_tips_from_a_model_server_loads_nothing_heavy(
    ollama: FakeOllama, served_from_ollama: dict[str, Any]
) -> None:
    """The hosted embedder's sense classifier is fitted on the first tip, in a child process (scikit-learn brings
    scipy and pandas, about 200 MB)."""
    found = served_from_ollama
    assert found["heavy"] == [], f"serving tips loaded {found['heavy']}"
    assert len(found["writers"]) == 2
    assert ollama.requests_to("/api/chat"), "the tips went to the model server"


def test_a_worker_serving_tips_from_ollama_loads_no_tokenizer_and_records_ollamas_counts(
    ollama: FakeOllama, served_from_ollama: dict[str, Any]
) -> None:
    """Ollama reports each call's tokens; LiteLLM's ``ollama_chat/`` counted them again with tiktoken's cl100k_base
    (25 MB per worker) unless ``OO_LLM_COUNT_TOKENS_LOCALLY`` is off, its default (docs/adr/0016-lean-web-workers.md).
    The stand-in counts words, not tiktoken tokens, so a tip's counts equal to the stand-in's came from the server."""
    found = served_from_ollama
    assert found["encodings"] == [], f"serving tips loaded the tiktoken encodings {found['encodings']}"
    reported = {prompt_eval_count(seen.body["messages"]) for seen in ollama.requests_to("/api/chat")}
    by_ollama = [(prompt, completion) for model, prompt, completion in found["counts"] if model.startswith("ollama")]
    assert by_ollama, f"no tip was written by Ollama: {found['counts']}"
    for prompt, completion in by_ollama:
        assert prompt in reported, f"a tip recorded {prompt} prompt tokens; Ollama reported one of {sorted(reported)}"
        assert completion == count_tokens(json.dumps(OLLAMA_TIP)), "the completion's tokens are Ollama's eval_count"
