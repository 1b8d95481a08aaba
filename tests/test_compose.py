"""docker-compose.yml and .env.example agree with the code: no Docker engine runs here, so the files are checked."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from oo_app.cli import main
from oo_app.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
SETTING_VARS = {f"OO_{name.upper()}" for name in Settings.model_fields}


def _command(service: dict) -> str:
    command = service.get("command", "")
    return command if isinstance(command, str) else " ".join(command)


def test_core_profile_runs_the_app_on_postgresql_and_redis() -> None:
    core = {name for name, service in SERVICES.items() if "core" in service.get("profiles", [])}
    assert core == {"app", "postgres", "redis"}


def test_the_app_waits_for_healthy_databases() -> None:
    depends = SERVICES["app"]["depends_on"]
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"
    assert "healthcheck" in SERVICES["postgres"]
    assert "healthcheck" in SERVICES["redis"]


@pytest.mark.parametrize("name", ["app"])
def test_commands_use_oo_subcommands_that_exist(name: str) -> None:
    words = shlex.split(_command(SERVICES[name]))
    used = {words[i + 1] for i, word in enumerate(words[:-1]) if word == "oo"}
    assert used, "the app migrates with the oo CLI before it serves"
    assert used <= set(main.commands), f"unknown oo subcommands: {used - set(main.commands)}"
    assert "reflex run" in _command(SERVICES[name])


def test_every_oo_variable_in_compose_is_a_setting() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\b(OO_[A-Z_]+)\s*:", text))
    assert used, "compose configures the app through OO_ variables"
    assert used <= SETTING_VARS, f"not settings: {used - SETTING_VARS}"


def test_the_app_port_is_the_served_port() -> None:
    published = {int(mapping.split(":")[-1]) for mapping in SERVICES["app"]["ports"]}
    assert published == {get_settings().frontend_port}
    assert f"--frontend-port {get_settings().frontend_port}" in _command(SERVICES["app"])


def test_the_postgres_url_matches_the_postgres_service() -> None:
    url = COMPOSE["x-oo-env"]["OO_DATABASE_URL"]
    env = SERVICES["postgres"]["environment"]
    assert url.startswith("postgresql+psycopg://")
    assert f"{env['POSTGRES_USER']}:" in url
    assert url.endswith(f"@postgres:5432/{env['POSTGRES_DB']}")


def test_env_example_documents_every_setting() -> None:
    documented = set(re.findall(r"^#?\s*(OO_[A-Z_]+)=", (ROOT / ".env.example").read_text(), flags=re.M))
    assert documented == SETTING_VARS
