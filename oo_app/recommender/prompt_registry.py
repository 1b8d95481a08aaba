"""The repo's prompt files (``oo_app/recommender/prompts/<family>-v<N>.txt``) as versions in MLflow's prompt registry.

:func:`register_prompts` runs when the app starts with tracing on (idempotent); :func:`prompt_uri` is what the hub
links to. Importing this module imports mlflow (through :mod:`oo_app.tracking`): import it only where tracking happens.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

import mlflow

from oo_app import tracking
from oo_app.recommender.prompts import PROMPTS_DIR
from oo_app.settings import get_settings

if TYPE_CHECKING:
    from mlflow.entities.model_registry import PromptVersion

log = logging.getLogger(__name__)

PROMPT_PREFIX = "oo-"  # prompts/<family>-v<N>.txt is version N of the registry prompt oo-<family>
PROMPT_VERSION_TAG = "oo.prompt_version"


def mlflow_template(text: str) -> str:
    """A repo template (``string.Template``: ``$var``, ``${var}``, ``$$``) in MLflow's ``{{var}}`` syntax."""

    def convert(match: re.Match[str]) -> str:
        if match.group("escaped") is not None:
            return "$"
        name = match.group("named") or match.group("braced")
        if name is None:
            raise ValueError(f"invalid placeholder at character {match.start()} of the prompt template")
        return "{{" + name + "}}"

    return Template.pattern.sub(convert, text)


def _repo_prompts() -> list[Path]:
    """The prompt files in version order (``-v2`` before ``-v10``)."""
    return sorted(
        PROMPTS_DIR.glob("*.txt"),
        key=lambda path: [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.stem)],
    )


def prompt_name(repo_version: str) -> str:
    """The registry name of a repo prompt version: ``orchestrator-v2`` -> ``oo-orchestrator``."""
    family, _, number = repo_version.rpartition("-v")
    if not family or not number.isdigit():
        raise ValueError(f"prompt version {repo_version!r} is not <family>-v<number>")
    return PROMPT_PREFIX + family


def _registered_versions(client: mlflow.MlflowClient, name: str) -> list[PromptVersion]:
    if client.get_prompt(name) is None:
        return []
    versions: list[PromptVersion] = []
    page_token = None
    while True:
        page = client.search_prompt_versions(name, page_token=page_token)
        versions.extend(page)
        page_token = page.token
        if not page_token:
            return versions


def register_prompts() -> dict[str, int]:
    """Register every repo prompt file as a version of its family's prompt (``orchestrator-v2`` -> a version of
    ``oo-orchestrator``, ``judge-v1`` -> of ``oo-judge``); returns {repo version: MLflow version}.

    Idempotent: a repo version whose text is already registered (same tag, same template) is not registered again.
    Each MLflow version carries its repo version in the tag ``oo.prompt_version`` and its commit message.
    """
    tracking.configure()
    client = mlflow.MlflowClient()
    registered: dict[str, list[PromptVersion]] = {}
    versions: dict[str, int] = {}
    for path in _repo_prompts():
        repo_version, template = path.stem, mlflow_template(path.read_text(encoding="utf-8"))
        name = prompt_name(repo_version)
        if name not in registered:
            registered[name] = _registered_versions(client, name)
        same = [
            v for v in registered[name] if v.tags.get(PROMPT_VERSION_TAG) == repo_version and v.template == template
        ]
        if same:
            versions[repo_version] = max(v.version for v in same)
            continue
        created = client.register_prompt(
            name,
            template,
            commit_message=f"{repo_version} (oo_app/recommender/prompts/{path.name})",
            tags={PROMPT_VERSION_TAG: repo_version},
        )
        log.info("registered prompt %s as %s version %s", repo_version, name, created.version)
        versions[repo_version] = int(created.version)
    return versions


def prompt_uri(repo_version: str) -> str | None:
    """The MLflow UI page of the newest registered version of ``repo_version``; None when it is not registered."""
    tracking.configure()
    name = prompt_name(repo_version)
    registered = _registered_versions(mlflow.MlflowClient(), name)
    tagged = [v for v in registered if v.tags.get(PROMPT_VERSION_TAG) == repo_version]
    if not tagged:
        return None
    version = max(v.version for v in tagged)
    return f"{get_settings().mlflow_ui_url.rstrip('/')}/#/prompts/{name}?promptVersion={version}"
