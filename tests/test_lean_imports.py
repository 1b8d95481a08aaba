"""A web worker imports only what serving needs (issue 19): the app's modules, its start-up and the tips it writes load
neither pandas, plotly, mlflow, marimo, scikit-learn nor the local models' torch and llama.cpp, unless the
configuration uses them (tracing loads mlflow; the embedded models load torch and llama.cpp, in the model process
when there is one). Each probe runs in a fresh interpreter: this test process has loaded everything already."""

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
from tests.fakes.ollama import FakeOllama, Reply

HEAVY = ("pandas", "plotly", "mlflow", "marimo", "sklearn", "scipy", "torch", "sentence_transformers", "llama_cpp")
OLLAMA_TIP = {"text": "Close one open task before you open a new one.", "kind": "todo"}

IMPORT_APP = """
import json, sys
import oo_app.oo_app
print(json.dumps({"heavy": sorted(m for m in HEAVY if m in sys.modules)}))
"""
# What a backend worker does: import the app (pages, API, lifespan tasks), build the Router, write tips and answer
# them; then it prints which heavy modules it holds.
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
for _ in range(2):
    with session_scope() as session:
        person = user_by_email(session, "demo@example.com")
        tip = mark_shown(session, recommend(session, person))
        writers.append(tip.model)
        react(session, person, tip.id, "done")
drain_all(120)
print(json.dumps({"writers": writers, "heavy": sorted(m for m in HEAVY if m in sys.modules)}))
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


def test_importing_the_web_app_loads_nothing_heavy(tmp_path: Path) -> None:
    found = probe(IMPORT_APP, {}, tmp_path)
    assert found["heavy"] == [], f"importing the app loaded {found['heavy']}"


def test_a_worker_serving_tips_from_a_model_server_loads_nothing_heavy(ollama: FakeOllama, tmp_path: Path) -> None:
    """The aliases on Ollama (the stand-in): the hosted embedder's sense classifier is fitted on the first tip, in a
    child process (scikit-learn brings scipy and pandas, about 200 MB)."""
    from benchmarks.load import ollama_aliases

    found = probe(SERVE_TIPS, {"OO_LLM_ALIASES": json.dumps(ollama_aliases(ollama.base_url))}, tmp_path)
    assert found["heavy"] == [], f"serving tips loaded {found['heavy']}"
    assert len(found["writers"]) == 2
    assert ollama.requests_to("/api/chat"), "the tips went to the model server"
