"""docker-compose.yml and .env.example agree with the code: no Docker engine runs here, so the files are checked."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from oo_app.cli import main
from oo_app.llm import EMBEDDER, JUDGE, TIP_GENERATOR
from oo_app.settings import Settings, embedded_alias_table, get_settings

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


# --- profile ai: Ollama behind the LiteLLM proxy ----------------------------------------------------------------------

PROXY_CONFIG_PATH = ROOT / "deploy" / "litellm" / "config.yaml"
PROXY_CONFIG = yaml.safe_load(PROXY_CONFIG_PATH.read_text())
PROXY_MODEL_NAMES = {entry["model_name"] for entry in PROXY_CONFIG["model_list"]}


def _env_names(node: object) -> set[str]:
    """Every NAME of an ``os.environ/NAME`` value anywhere in a parsed YAML document."""
    if isinstance(node, str):
        return {node.removeprefix("os.environ/")} if node.startswith("os.environ/") else set()
    if isinstance(node, dict):
        return set().union(*(_env_names(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_env_names(value) for value in node))
    return set()


def _documented_aliases(text: str, model_prefix: str) -> dict:
    """The ``OO_LLM_ALIASES=...`` example of a file whose ``tip-generator`` model starts with ``model_prefix``."""
    for value in re.findall(r"^#\s*OO_LLM_ALIASES=(.+)$", text, flags=re.M):
        aliases = json.loads(value)
        if aliases["tip-generator"][0]["model"].startswith(model_prefix):
            return aliases
    raise AssertionError(f"no OO_LLM_ALIASES example with a {model_prefix} tip-generator")


def test_ai_profile_runs_ollama_behind_the_litellm_proxy() -> None:
    ai = {name for name, service in SERVICES.items() if "ai" in service.get("profiles", [])}
    assert ai == {"ollama", "ollama-pull", "litellm"}
    assert SERVICES["ollama"]["image"].startswith("ollama/ollama")
    assert SERVICES["litellm"]["image"].startswith("ghcr.io/berriai/litellm:")
    assert "healthcheck" in SERVICES["ollama"]
    assert "/health/liveliness" in " ".join(SERVICES["litellm"]["healthcheck"]["test"])
    assert SERVICES["ollama-pull"]["depends_on"]["ollama"]["condition"] == "service_healthy"
    assert SERVICES["litellm"]["depends_on"]["ollama-pull"]["condition"] == "service_completed_successfully"
    assert any(volume.endswith(":/root/.ollama") for volume in SERVICES["ollama"]["volumes"]), "models persist"


def test_the_proxy_serves_every_alias_the_app_uses() -> None:
    used = {TIP_GENERATOR, EMBEDDER, JUDGE} | {
        alias for alias in embedded_alias_table("rules") if not alias.endswith("-fallback")
    }
    assert used <= PROXY_MODEL_NAMES, f"aliases the proxy does not serve: {used - PROXY_MODEL_NAMES}"
    assert PROXY_CONFIG["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"


def test_every_environment_name_of_the_proxy_config_is_provided_by_compose() -> None:
    names = _env_names(PROXY_CONFIG)
    assert "LITELLM_MASTER_KEY" in names
    provided = set(SERVICES["litellm"]["environment"])
    assert names <= provided, f"not set on the litellm service: {names - provided}"


def test_the_mounted_proxy_config_is_the_repo_file() -> None:
    mounts = [volume.split(":") for volume in SERVICES["litellm"]["volumes"]]
    binds = {target: ROOT / source for source, target, *_ in mounts if source.startswith("./")}
    assert binds["/app/config.yaml"] == PROXY_CONFIG_PATH
    assert all(path.is_file() for path in binds.values())
    assert "--config /app/config.yaml" in _command(SERVICES["litellm"])


def test_ollama_pull_pulls_every_model_the_proxy_names() -> None:
    pulled = set(SERVICES["ollama-pull"]["environment"]["MODELS"].split())
    named = set()
    for entry in PROXY_CONFIG["model_list"]:
        provider, _, model = entry["litellm_params"]["model"].partition("/")
        assert provider in {"ollama", "ollama_chat"}, entry
        assert entry["litellm_params"]["api_base"] == "http://ollama:11434"
        named.add(model)
    assert named == pulled
    assert "$${MODELS}" in _command(SERVICES["ollama-pull"])


def test_the_documented_proxy_aliases_reach_the_litellm_service() -> None:
    compose_example = _documented_aliases((ROOT / "docker-compose.yml").read_text(), "litellm_proxy/")
    assert compose_example == _documented_aliases((ROOT / ".env.example").read_text(), "litellm_proxy/")
    port = re.search(r"--port (\d+)", _command(SERVICES["litellm"])).group(1)
    for alias, deployments in compose_example.items():
        for deployment in deployments:
            if alias.endswith("-fallback"):
                assert deployment["model"].startswith("oo-rules/"), "fallbacks stay in the app, offline"
                continue
            assert deployment["model"] == f"litellm_proxy/{alias}"
            assert alias in PROXY_MODEL_NAMES
            assert deployment["api_base"] == f"http://litellm:{port}"
            assert deployment["api_key"] == "os.environ/LITELLM_MASTER_KEY"
    assert compose_example["tip-generator-fallback"] == [{"model": "oo-rules/composer"}]
    assert "LITELLM_MASTER_KEY" in COMPOSE["x-oo-env"], "the app's Router reads the key from its environment"
    assert Settings(llm_aliases=compose_example).alias_table == compose_example


def test_unset_compose_defaults_are_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = {
        name: match.group(1)
        for name, value in COMPOSE["x-oo-env"].items()
        if name.startswith("OO_") and (match := re.fullmatch(r"\$\{" + name + r":-(.*)\}", str(value)))
    }
    assert defaults.get("OO_LLM_ALIASES") == "null"
    for name, value in defaults.items():
        monkeypatch.setenv(name, value)
    assert Settings().llm_aliases is None, "no OO_LLM_ALIASES in .env: the embedded aliases"
