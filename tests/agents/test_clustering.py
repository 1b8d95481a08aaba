"""Semantic clustering of open tasks through the real ``embedder`` alias (all-MiniLM-L6-v2, loaded offline)."""

from __future__ import annotations

import dataclasses

from agents.base import OpenTask
from agents.clustering import themes
from oo_app.llm.aliases import LOCAL_EMBEDDING_MODEL
from oo_app.llm.router import embed, get_router

TASKS = [
    OpenTask("Buy milk", "Errands"),
    OpenTask("Get groceries for the weekend", "Errands"),
    OpenTask("Pick up bread and eggs", "Errands"),
    OpenTask("Write the quarterly report", "Work"),
    OpenTask("Draft Q3 budget summary", "Work"),
    OpenTask("Reply to the client email", "Work"),
]


def test_the_embedder_alias_answers_offline_with_unit_vectors() -> None:
    vectors = embed(["Buy milk", "Get groceries"])
    assert len(vectors) == 2
    assert len(vectors[0]) == 384
    assert abs(sum(x * x for x in vectors[0]) - 1) < 1e-4
    response = get_router().embedding(model="embedder", input=["Buy milk"])
    assert response.model == LOCAL_EMBEDDING_MODEL


def test_related_chores_form_one_theme_and_no_title_leaves_the_module() -> None:
    found = themes(TASKS, embed)
    assert found[0].size == 3
    assert found[0].main_project == "Errands"
    assert sum(theme.size for theme in found) == len(TASKS)
    fields = {name for theme in found for name in (f.name for f in dataclasses.fields(theme))}
    assert "title" not in fields


def test_no_open_tasks_means_no_themes() -> None:
    assert themes([], embed) == []


def test_focus_area_adds_themes_of_open_tasks_but_never_a_title() -> None:
    from datetime import UTC, datetime

    from agents.base import UserHistory
    from agents.registry import get_agent

    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    base = UserHistory.build([], [(now, None, "Errands")] * 6, "UTC", now)
    history = UserHistory(base.events, base.task_completions, base.tz, base.now, open_tasks=tuple(TASKS))
    snippet = get_agent("focus-area").compute(history, {"preferred_areas": ["Errands"]})
    assert snippet.data["themes"][0] == {"size": 3, "main_project": "Errands"}
    assert "largest (3 tasks) is mostly Errands" in snippet.text
    assert not any(task.title.lower() in snippet.text.lower() for task in TASKS)
