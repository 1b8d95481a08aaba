"""Memory of the backend workers (issue 19): what one worker holds at start and after N requests with its aliases on
a model server, and what the embedded local models cost two workers, loaded in each or once per host.

Run on demand after ``source scripts/_env.sh && ensure_bun && export_env && set +eu``:
``python -m benchmarks.worker_memory [--requests 1000] [--baseline DIR ...] [--only served,embedded-1,...]``.
``--baseline DIR`` is an earlier checkout (``git archive <commit> | tar -x -C DIR``), and may be given once per step
of a change: their scenarios run in the same call, one after the other with this checkout's, so each figure is
printed beside its baselines and as a ratio to each.

What runs, on loopback: a fresh PostgreSQL database with a few seeded persons (``benchmarks/load_persons.py``), the
backend as compose's ``app`` service runs it (``reflex run --env prod --backend-only``, Granian workers, page state
in Redis, production settings, tracing off as in ``benchmarks/load.py``: production traces to the MLflow server, a
separate service), then N requests from one client, round robin over the persons: ``POST /api/recommend`` and a
``done`` reaction to the tip, in turn (limits raised so that every one writes a tip). Scenarios:

- ``served``: one worker, the aliases on the Ollama stand-in (``tests/fakes/ollama.py``): memory at start (once
  idle) and after N requests.
- ``embedded-1``, ``embedded-2``: the embedded default (Gemma 3 270M and the sentence encoder in each worker).
- ``shared-2``: two workers whose local models live in one ``oo models serve`` process (``OO_MODEL_SERVER_URL``);
  that process is counted with them.
  The embedded scenarios are measured after a few requests (``--warm``), once the models are loaded.

Memory: RSS, and PSS from ``/proc/PID/smaps_rollup`` (psutil's ``memory_full_info``). PSS splits every shared page
between the processes that map it, so a sum of PSS is what the processes cost the host together; a sum of RSS counts
a page shared by two workers twice. Per worker figures are the Granian worker processes; totals add the supervisor.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from benchmarks.load import memory_of, ollama_aliases, wait_until_idle  # noqa: E402
from benchmarks.load_persons import (  # noqa: E402
    compute_agent_outputs,
    configure_for,
    fresh_postgres_database,
    seed_persons,
)
from oo_app import db  # noqa: E402
from oo_app.auth.sessions import CSRF_COOKIE  # noqa: E402

REDIS_URL = os.environ.get("OO_MEMORY_REDIS_URL", "redis://127.0.0.1:6379/11")  # a database of its own
MB = 1024 * 1024
PERSONS = 5
OLLAMA_TIP = {"text": "Close one open task before you open a new one.", "kind": "todo"}
SCENARIOS = ("served", "embedded-1", "embedded-2", "shared-2")


@dataclass(frozen=True)
class Scenario:
    name: str
    workers: int
    aliases: str  # "ollama" or "embedded"
    model_server: bool = False


PLANS = {
    "served": Scenario("served", 1, "ollama"),
    "embedded-1": Scenario("embedded-1", 1, "embedded"),
    "embedded-2": Scenario("embedded-2", 2, "embedded"),
    "shared-2": Scenario("shared-2", 2, "embedded", model_server=True),
}


@dataclass(frozen=True)
class Figures:
    """One scenario's memory in MB: per worker (RSS, PSS) at start and after the requests, and every process of the
    deployment together (the backend and, when it runs, the model server) after them."""

    checkout: str
    scenario: str
    workers_start_rss: list[float]
    workers_start_pss: list[float]
    workers_after_rss: list[float]
    workers_after_pss: list[float]
    total_rss: float
    total_pss: float
    requests: int
    failures: int
    seconds: float


def process_memory(processes: list[Any]) -> tuple[list[float], list[float]]:
    rss, pss = [], []
    for process in processes:
        info = process.memory_full_info()
        rss.append(round(info.rss / MB, 1))
        pss.append(round(info.pss / MB, 1))
    return rss, pss


@contextmanager
def model_server(checkout: Path, workdir: Path) -> Iterator[Any]:
    """``oo models serve`` of ``checkout`` on a free loopback port."""
    from tests.app_server import free_port, serve_command

    port = free_port()
    command = [str(Path(sys.executable).with_name("oo")), "models", "serve", "--port", str(port)]
    env = {**os.environ, "PYTHONPATH": str(checkout), "OO_ENV": "production"}
    with serve_command(
        command,
        port,
        workdir / "models.log",
        env,
        lambda base: httpx.get(f"{base}/health").status_code == 200,
        cwd=checkout,
    ) as served:
        yield served


@contextmanager
def backend(checkout: Path, workdir: Path, database_url: str, env: dict[str, str]) -> Iterator[Any]:
    """``reflex run --env prod --backend-only`` of ``checkout`` on a free loopback port (tests/app_server.py's way,
    from another checkout too)."""
    from tests.app_server import free_port, serve_command

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server_env = {
        **os.environ,
        "PYTHONPATH": str(checkout),
        "OO_DATABASE_URL": database_url,
        "OO_APP_URL": base,
        "REFLEX_FRONTEND_PORT": "0",
        **env,
    }
    command = [str(Path(sys.executable).with_name("reflex")), "run", "--env", "prod", "--backend-only"]
    with serve_command(
        [*command, "--backend-port", str(port)],
        port,
        workdir / "reflex.log",
        server_env,
        lambda base: httpx.get(f"{base}/health").status_code == 200,
        what=f"the backend of {checkout}",
        cwd=checkout,
    ) as served:
        yield served


def server_env(
    plan: Scenario, secret_key: str, workdir: Path, ollama_url: str | None, models_url: str | None
) -> dict[str, str]:
    from tests.app_server import production_env

    env = {
        **production_env(REDIS_URL, workdir / "metrics", workers=plan.workers, secret_key=secret_key),
        "OO_TRACING_ENABLED": "false",
        "OO_SCHEDULER_ENABLED": "false",  # the agents' outputs are computed before; a round would add noise
        "OO_LOG_LEVEL": "WARNING",
        "OO_TIP_RATE_PER_MINUTE": "6000",
        "OO_TIP_BURST": "10000",
        "OO_TIP_REPEAT_WINDOW_S": "0",
        "OO_TIP_WRITER": "local",
    }
    env.pop("OO_MODEL_SERVER_URL", None)
    if ollama_url is not None:
        env["OO_LLM_ALIASES"] = json.dumps(ollama_aliases(ollama_url))
    if models_url is not None:
        env["OO_MODEL_SERVER_URL"] = models_url
    return env


def drive(base: str, persons: list[dict[str, Any]], requests: int) -> tuple[int, int]:
    """``requests`` requests, round robin over ``persons``: a tip, then a ``done`` on it. (sent, failed)."""
    failed = 0
    clients = []
    for person in persons:
        cookies = person["cookies"]
        headers = {"X-CSRF-Token": cookies[CSRF_COOKIE]}
        clients.append(httpx.Client(base_url=base, cookies=cookies, headers=headers, timeout=600))
    try:
        for pair in range((requests + 1) // 2):
            client = clients[pair % len(clients)]
            answer = client.post("/api/recommend")
            if answer.status_code != 200:
                failed += 1
                continue
            if 2 * pair + 1 < requests:
                tip_id = answer.json()["tip"]["id"]
                answer = client.post(f"/api/tips/{tip_id}/reaction", json={"reaction": "done"})
                failed += answer.status_code != 200
    finally:
        for client in clients:
            client.close()
    return requests, failed


def run_scenario(
    plan: Scenario, checkout: Path, database_url: str, persons: list[dict[str, Any]], secret_key: str, args: Any
) -> Figures:
    from tests.app_server import granian_workers, server_processes

    requests = args.requests if plan.aliases == "ollama" else args.warm
    with tempfile.TemporaryDirectory(prefix="oo-memory-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        ollama_url = models_url = None
        extra: list[Any] = []
        if plan.aliases == "ollama":
            from tests.fakes.ollama import FakeOllama, Reply

            ollama = stack.enter_context(FakeOllama())
            ollama.reset(Reply(content=json.dumps(OLLAMA_TIP)))
            ollama_url = ollama.base_url
        if plan.model_server:
            import psutil

            models = stack.enter_context(model_server(checkout, workdir))
            models_url = models.base
            extra = [psutil.Process(models.process.pid)]
        env = server_env(plan, secret_key, workdir, ollama_url, models_url)
        served = stack.enter_context(backend(checkout, workdir, database_url, env))
        workers = _wait_for_workers(served, plan.workers, granian_workers)
        wait_until_idle(server_processes(served) + extra)
        start_rss, start_pss = process_memory(workers)
        started = time.monotonic()
        sent, failed = drive(served.base, persons, requests)
        seconds = time.monotonic() - started
        wait_until_idle(server_processes(served) + extra)  # written-ahead tips finish in the background
        after_rss, after_pss = process_memory(workers)
        total = memory_of(server_processes(served) + extra)
    return Figures(
        checkout=checkout.name,
        scenario=plan.name,
        workers_start_rss=start_rss,
        workers_start_pss=start_pss,
        workers_after_rss=after_rss,
        workers_after_pss=after_pss,
        total_rss=total.rss_mb,
        total_pss=total.pss_mb,
        requests=sent,
        failures=failed,
        seconds=seconds,
    )


def _wait_for_workers(served: Any, count: int, granian_workers: Any) -> list[Any]:
    deadline = time.monotonic() + 60
    while True:
        workers = sorted(granian_workers(served), key=lambda process: process.pid)
        if len(workers) >= count or time.monotonic() > deadline:
            return workers
        time.sleep(0.5)


HEADER = f"{'scenario':11} {'checkout':14} {'req':>5} {'fail':>4} {'s':>5}  per worker MB: RSS start -> after (PSS)"


def row_line(row: Figures) -> str:
    per_worker = ", ".join(
        f"{a:.0f} -> {b:.0f} ({c:.0f} -> {d:.0f})"
        for a, b, c, d in zip(
            row.workers_start_rss, row.workers_after_rss, row.workers_start_pss, row.workers_after_pss, strict=True
        )
    )
    return (
        f"{row.scenario:11} {row.checkout:14} {row.requests:5d} {row.failures:4d} {row.seconds:5.0f}  {per_worker}; "
        f"all processes RSS {row.total_rss:.0f}, PSS {row.total_pss:.0f} MB"
    )


def ratio(what: str, a: float, b: float) -> str:
    return f"{what}: {a:.0f} / {b:.0f} MB = {a / b:.2f}"


def print_ratios(results: list[Figures], baselines: list[str]) -> None:
    here = {row.scenario: row for row in results if row.checkout not in baselines}
    print()
    for baseline in baselines:
        base = {row.scenario: row for row in results if row.checkout == baseline}
        for name, row in here.items():
            if name in base:
                then = base[name]
                worst, worst_then = max(row.workers_after_rss), max(then.workers_after_rss)
                print(ratio(f"{name}, this checkout / {baseline}, a worker's RSS after them", worst, worst_then))
                print(ratio(f"{name}, this checkout / {baseline}, all processes' PSS", row.total_pss, then.total_pss))
    every = [{row.scenario: row for row in results if row.checkout == name} for name in baselines] + [here]
    for rows in every:
        if "embedded-1" in rows and "embedded-2" in rows:
            one, two = rows["embedded-1"], rows["embedded-2"]
            print(ratio(f"{two.checkout}: two embedded workers / one, PSS", two.total_pss, one.total_pss))
    if "shared-2" in here:
        shared = here["shared-2"]
        for rows in every:
            for name in ("embedded-2", "embedded-1"):
                if name in rows:
                    other = rows[name]
                    print(ratio(f"shared-2 / {name} of {other.checkout}, PSS", shared.total_pss, other.total_pss))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests in the served scenario")
    parser.add_argument("--warm", type=int, default=10, help="requests in the embedded scenarios (models loaded)")
    parser.add_argument(
        "--baseline", type=Path, action="append", default=[], help="an earlier checkout to measure beside this one"
    )
    parser.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated, of {', '.join(SCENARIOS)}")
    args = parser.parse_args()
    if "REFLEX_BUN_PATH" not in os.environ:
        print("run `source scripts/_env.sh && ensure_bun && export_env && set +eu` in this shell first")
        return 2
    wanted = [name for name in args.only.split(",") if name]
    unknown = sorted(set(wanted) - set(SCENARIOS))
    if unknown:
        print(f"unknown scenarios {unknown}; choose among {', '.join(SCENARIOS)}")
        return 2
    checkouts = [path.resolve() for path in args.baseline] + [ROOT]
    for baseline in checkouts[:-1]:
        models = baseline / "data" / "models"
        if not models.exists() and (ROOT / "data" / "models").exists():
            models.parent.mkdir(parents=True, exist_ok=True)
            models.symlink_to(ROOT / "data" / "models")  # the assembled GGUF, not a second copy
    results: list[Figures] = []
    print(HEADER, flush=True)
    with fresh_postgres_database() as database_url:
        secret_key = secrets.token_urlsafe(32)
        configure_for(database_url, secret_key)
        db.migrate(database_url)
        persons = seed_persons(PERSONS, days=30)
        compute_agent_outputs()
        for name in wanted:
            for checkout in checkouts:
                if PLANS[name].model_server and not _serves_models(checkout):
                    print(f"{name}: {checkout} has no `oo models serve`; skipped")
                    continue
                print(f"{name} on {checkout} ...", file=sys.stderr)
                results.append(run_scenario(PLANS[name], checkout, database_url, persons, secret_key, args))
                print(row_line(results[-1]), flush=True)
    print(f"\n{os.cpu_count()} cores; PostgreSQL, Redis page state, tracing off; load average {os.getloadavg()[0]:.1f}")
    print(HEADER)
    for row in results:
        print(row_line(row))
    print_ratios(results, [checkout.name for checkout in checkouts[:-1]])
    return 0


def _serves_models(checkout: Path) -> bool:
    oo = shutil.which("oo", path=str(Path(sys.executable).parent))
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    probe = subprocess.run([oo or "oo", "models", "--help"], cwd=checkout, env=env, capture_output=True, check=False)
    return probe.returncode == 0


if __name__ == "__main__":
    sys.exit(main())
