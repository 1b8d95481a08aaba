"""oO is production unless development is asked for: a plain `docker run`, `oo` or `reflex run` gets no dev login, no
known secret and no private push endpoints, and a missing secret stops it with one line saying what to set.

Only ./scripts/dev asks for development; the suite runs as ``test`` (tests/conftest.py).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from oo_app.settings import DEV_SECRET, Settings

ROOT = Path(__file__).resolve().parents[1]
STRONG_SECRET = "a-production-secret-of-at-least-32-characters"


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """No ``OO_*`` variable in this process (the suite's OO_ENV=test included); the same environment for children.

    Settings also read the checkout's ``.env``: a developer's that sets any ``OO_`` variable is no clean start."""
    env_file = ROOT / ".env"
    if env_file.exists() and re.search(r"^\s*OO_", env_file.read_text(), flags=re.M):
        pytest.skip(f"{env_file} sets OO_ variables, which every start outside the tests reads")
    for name in [name for name in os.environ if name.startswith("OO_")]:
        monkeypatch.delenv(name)
    return {name: value for name, value in os.environ.items() if not name.startswith("OO_")}


def test_a_clean_environment_is_production(clean_environment) -> None:
    settings = Settings(_env_file=None, secret_key=STRONG_SECRET)
    assert settings.env == "production"


@pytest.mark.parametrize("secret", [None, DEV_SECRET], ids=["unset", "the development secret"])
def test_a_clean_environment_refuses_a_missing_or_development_secret(clean_environment, secret) -> None:
    with pytest.raises(ValidationError, match="OO_SECRET_KEY"):
        Settings(_env_file=None, **({"secret_key": secret} if secret else {}))


def test_a_clean_environment_has_no_dev_login(clean_environment) -> None:
    assert Settings(_env_file=None, secret_key=STRONG_SECRET).dev_login_enabled is False


def test_a_clean_environment_refuses_private_push_endpoints(clean_environment) -> None:
    assert Settings(_env_file=None, secret_key=STRONG_SECRET).push_private_endpoints_allowed is False


def one_line_refusal(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_oo_without_a_secret_stops_with_one_line(clean_environment, tmp_path: Path) -> None:
    env = {**clean_environment, "OO_DATABASE_URL": f"sqlite:///{tmp_path / 'oo.db'}"}
    oo = Path(sys.executable).with_name("oo")
    result = subprocess.run([str(oo), "migrate"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert re.fullmatch(
        r"Error: oO cannot start with these settings: OO_SECRET_KEY: set OO_SECRET_KEY .+", one_line_refusal(result)
    )
    assert not (tmp_path / "oo.db").exists(), "nothing ran"


def test_the_app_without_a_secret_stops_with_one_line(clean_environment) -> None:
    """`reflex run` reads rxconfig.py first (reflex_base.config._get_config imports it): the same line, no traceback."""
    result = subprocess.run(
        [sys.executable, "-c", "import rxconfig"], env=clean_environment, cwd=ROOT, capture_output=True, text=True
    )
    assert one_line_refusal(result).startswith("oO cannot start with these settings: OO_SECRET_KEY: ")


def test_the_image_asks_for_no_environment() -> None:
    """The Dockerfile leaves OO_ENV unset (production) and bakes in no secret key."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if not line.strip().startswith("#")]
    assert not [line for line in lines if "OO_ENV" in line], "OO_ENV is never set in the image"
    assert not [line for line in lines if line.startswith(("ENV", "ARG")) and "OO_SECRET_KEY" in line]


def test_only_the_development_script_asks_for_development() -> None:
    assert 'export OO_ENV="${OO_ENV:-development}"' in (ROOT / "scripts" / "dev").read_text()
    assert "OO_ENV" not in (ROOT / "scripts" / "_env.sh").read_text(), "scripts/test runs as the suite's test"
