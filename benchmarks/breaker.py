"""Benchmark: ``POST /api/recommend`` while the model server refuses connections, the alias layer's breaker off
(``OO_LLM_COOLDOWN_S=0``, the baseline: every tip tries the dead server, retries it, then falls back) and on (the
first tip opens the breaker; the next ones go straight to the composer), in one run.

Run on demand: ``python benchmarks/breaker.py [--tips 10] [--rounds 3]``. The app's own API route in this process
(FastAPI's test client, the demo person signed in, a seeded SQLite database in a temporary folder), the aliases
``.env.example`` documents for Ollama pointed at a loopback port nothing listens on, the production timeout and
retries (``OO_LLM_TIMEOUT_S`` 10, ``OO_LLM_RETRIES`` 1). Each round serves ``--tips`` tips breaker off, then breaker
on (a new Router each time: its breaker starts closed, so the tip that opens it is timed too, apart); the rounds
alternate so that both see the same load. A third mode, the embedded composer-only table (no model server), is the
floor. Prints p50 / p95 / max of each and their ratios. Nothing here is a test.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this file's folder is on the path, where ``calendar.py`` would shadow the standard ``calendar``.
HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [entry for entry in sys.path if entry != HERE]
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OO_ENV", "test")
os.environ.setdefault("OO_TRACING_ENABLED", "false")  # the model path alone: no MLflow store written per tip

import json  # noqa: E402

from fastapi.testclient import TestClient  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from oo_app import db, settings  # noqa: E402
from oo_app.api import api  # noqa: E402
from oo_app.bootstrap import bootstrap  # noqa: E402
from oo_app.llm.aliases import COMPOSER_MODEL  # noqa: E402
from oo_app.llm.router import get_router  # noqa: E402
from oo_app.models import User  # noqa: E402
from oo_app.settings import embedded_alias_table  # noqa: E402
from tests.app_server import seeded_database  # noqa: E402
from tests.auth_helpers import sign_in  # noqa: E402
from tests.test_llm_production import COMPOSE_OLLAMA, documented_aliases  # noqa: E402

MODES = ("off", "on", "rules")  # the baseline (OO_LLM_COOLDOWN_S=0), the default (30 s), no model server at all


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tips", type=int, default=10, help="tips per mode and round, after the first")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of breaker off, then on")
    args = parser.parse_args(argv)
    if args.tips < 2 or args.rounds < 1:
        parser.error("--tips must be at least 2 and --rounds at least 1")
    return args


def refused_base() -> str:
    """A loopback address nothing listens on: the model server is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def configure(env: dict[str, str]) -> None:
    os.environ.update(env)
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()
    get_router.cache_clear()


def mode_env(mode: str, refused: dict) -> dict[str, str]:
    """The alias table and cooldown of ``mode``: the refused server with the breaker off or on, or the embedded
    composer-only table (the floor: what a tip costs when no model is configured at all)."""
    if mode == "rules":
        return {"OO_LLM_ALIASES": json.dumps(embedded_alias_table("rules")), "OO_LLM_COOLDOWN_S": "30"}
    return {"OO_LLM_ALIASES": json.dumps(refused), "OO_LLM_COOLDOWN_S": "0" if mode == "off" else "30"}


def timed_tip(client: TestClient) -> float:
    started = time.perf_counter()
    response = client.post("/api/recommend")
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    model = response.json()["tip"]["model"]
    if model != COMPOSER_MODEL:
        raise SystemExit(f"a tip came from {model}, not the composer: is something listening on the refused port?")
    return elapsed


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    bootstrap()
    with tempfile.TemporaryDirectory(prefix="oo-breaker-") as workdir:
        database_url = seeded_database(Path(workdir))
        refused = documented_aliases("ollama_chat/", COMPOSE_OLLAMA, refused_base())
        configure(
            {
                "OO_DATABASE_URL": database_url,
                "OO_LLM_ALIASES": json.dumps(refused),
                "OO_LLM_TIMEOUT_S": "10",
                "OO_LLM_RETRIES": "1",
                "OO_REDIS_URL": "",  # the breaker of this process: the benchmark times the Router, not Redis
                "OO_TIP_REPEAT_WINDOW_S": "0",
                "OO_TIP_RATE_PER_MINUTE": "6000",
                "OO_TIP_BURST": "10000",
                "OO_PREPARE_NEXT_TIP": "false",
            }
        )
        first: dict[str, list[float]] = {mode: [] for mode in MODES}
        rest: dict[str, list[float]] = {mode: [] for mode in MODES}
        client = TestClient(api)
        with Session(db.get_engine()) as session:
            sign_in(client, session, session.exec(select(User)).one())
        client.post("/api/recommend").raise_for_status()  # untimed: imports, agents' outputs, LiteLLM's clients
        for round_number in range(1, args.rounds + 1):
            for mode in MODES:
                configure(mode_env(mode, refused))
                first[mode].append(timed_tip(client))
                rest[mode].extend(timed_tip(client) for _ in range(args.tips))
                print(
                    f"round {round_number} breaker {mode}: first {first[mode][-1] * 1000:.0f} ms, then p50 "
                    f"{statistics.median(rest[mode][-args.tips :]) * 1000:.0f} ms",
                    flush=True,
                )
    print_figures(first, rest)


def print_figures(first: dict[str, list[float]], rest: dict[str, list[float]]) -> None:
    figures = {
        mode: (
            statistics.median(first[mode]),
            statistics.median(rest[mode]),
            percentile(rest[mode], 0.95),
            max(rest[mode]),
        )
        for mode in MODES
    }
    print("\nPOST /api/recommend, model server refusing connections (ms):")
    print(f"{'breaker':<8} {'first tip':>10} {'p50':>8} {'p95':>8} {'max':>8}   tips after the first")
    for mode, (first_s, p50, p95, top) in figures.items():
        ms = [f"{value * 1000:.0f}" for value in (first_s, p50, p95, top)]
        print(f"{mode:<8} {ms[0]:>10} {ms[1]:>8} {ms[2]:>8} {ms[3]:>8}   {len(rest[mode])}")
    off, on, rules = figures["off"], figures["on"], figures["rules"]
    print(f"ratio off/on: p50 {off[1] / on[1]:.0f}x, p95 {off[2] / on[2]:.0f}x (first tip {off[0] / on[0]:.1f}x)")
    print(f"ratio on/rules: p50 {on[1] / rules[1]:.2f}, p95 {on[2] / rules[2]:.2f} (1.00: the breaker costs nothing)")


if __name__ == "__main__":
    main()
