"""Load test: simulated persons on the tip page's websocket and ``POST /api/recommend``, against the production shape.

Run on demand after ``source scripts/_env.sh && ensure_bun && export_env``:
``python benchmarks/load.py [--persons 200] [--seconds 60] [--spawn-rate 20] [--llm-delay 0.3] [--backend-only]
[--profile DIR] [--keep DIR]``.

What runs, all on loopback and bounded in count and time: a fresh PostgreSQL database on the local server with
``--persons`` seeded persons (``benchmarks/load_persons.py``: synthetic histories, every consent, agent outputs
computed as the scheduler would have, an open session each); the app as compose's ``app`` service runs it (``reflex
run --env prod --single-port``, Granian with ``--workers`` backend processes, page state in Redis database 12 of the
local server (``OO_LOAD_REDIS_URL``), production settings, the in-process scheduler every 60 s, pages polling for a
newer tip every 5 s); locust, headless, one user per person (``benchmarks/locustfile.py``): the persons arrive at
``--spawn-rate`` a second, each opening the page and asking the API once, then all of them stay ``--seconds``. The
tip writer is the rule-based composer; with ``--llm-delay`` the aliases are ``.env.example``'s Ollama example pointed
at a stand-in (``tests/fakes/ollama.py``) that answers every chat after that delay.

It prints throughput, p50/p95/p99 and failures per request type (from every round trip's exact time), for the whole
run and apart for the two phases: while the persons arrive (every one of them opens the page: 200 at 20 a second is
the crowd after a deploy, when every open tab reconnects) and once all of them are there. Then the server's
memory (RSS and PSS of all its processes) once idle before and right after, its health after, what its log reported,
and checks the database against what the persons saw: every acknowledged reaction stored exactly once, nothing stored
that was not sent. With ``--profile DIR``, py-spy samples the backend workers for the run (``benchmarks/pyspy.py``):
their collapsed stacks land in ``DIR`` (speedscope opens them) and the top functions print with the figures.
:func:`run_load` is what ``tests/test_load.py`` runs, smaller; exit status 1 when a check fails.

Why one long module: it is one script run by hand, read top to bottom (the plan, the run, the figures, the report),
and the test imports it whole.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Run as a script, this file's folder is on the path, where ``calendar.py`` would shadow the standard ``calendar``.
HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [entry for entry in sys.path if entry != HERE]
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from benchmarks.load_persons import (  # noqa: E402
    compute_agent_outputs,
    configure_for,
    fresh_postgres_database,
    reactions_match,
    seed_persons,
    stored_reactions,
    tips_by_writer,
    tips_written_ahead,
)
from benchmarks.pyspy import Profile, print_profile, recording, summarize  # noqa: E402
from oo_app import db  # noqa: E402

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
REDIS_URL = os.environ.get("OO_LOAD_REDIS_URL", "redis://127.0.0.1:6379/12")  # a database of its own on the server
OLLAMA_HOST = "http://ollama:11434"  # as .env.example writes it
OLLAMA_TIP = {"text": "Close one open task before you open a new one.", "kind": "todo"}
MB = 1024 * 1024


@dataclass(frozen=True)
class LoadPlan:
    """How many persons, for how long, how fast they arrive, and what serves them."""

    persons: int = 200
    seconds: int = 60
    spawn_rate: float = 20.0
    workers: int = 2
    wait_s: tuple[float, float] = (2.0, 5.0)  # between a person's actions
    history_days: int = 90
    llm_delay_s: float | None = None  # None: the composer writes every tip; else every tip waits on the stand-in
    backend_only: bool = False  # True: API and websocket only, no page build (tests: several servers, one checkout)
    live_poll_s: float = 5.0  # the app's default: an open page looks for a newer tip this often
    scheduler_interval_s: float = 60.0  # the app's default

    @property
    def arrival_s(self) -> float:
        """How long locust takes to start every person; the run lasts this plus ``seconds``, so that all the persons
        are there for ``seconds``."""
        return self.persons / self.spawn_rate


@dataclass(frozen=True)
class RequestFigures:
    """One request type's figures, from every round trip's exact time (ms) as the simulated persons measured it."""

    name: str
    count: int
    failures: int
    per_s: float
    p50: float
    p95: float
    p99: float
    max: float


@dataclass(frozen=True)
class Phase:
    """The figures of the requests that started in one part of the run."""

    name: str
    seconds: float
    requests: list[RequestFigures]
    total: RequestFigures


@dataclass(frozen=True)
class Memory:
    """RSS and PSS (forked workers share pages: PSS splits them) of every process of the server, in MB."""

    rss_mb: float
    pss_mb: float
    processes: int


@dataclass
class LoadReport:
    plan: LoadPlan
    requests: list[RequestFigures]
    total: RequestFigures
    failures: list[str]
    memory_before: Memory
    memory_after: Memory
    health_after: dict[str, Any]
    workers: list[int]
    persons_with_page_tips: int
    persons_with_api_tips: int
    acknowledged: Counter[str]
    stored: Counter[str]
    interrupted: int  # reactions in flight when the load generator stopped their person (see benchmarks/locustfile.py)
    mismatches: dict[int, dict[str, list[tuple[int, str]]]]  # persons whose stored reactions are not what they sent
    duplicate_reactions: list[int]
    tips_by_writer: Counter[str]
    tips_written_ahead: Counter[str]
    server_warnings: Counter[str]
    load_generator_notes: list[str]
    settled_s: float = 0.0
    server_cpu_s: float = 0.0  # CPU time the server's processes used while the persons ran (less noisy than latency)
    # The rest of the machine's CPU meanwhile, by who used it: the load generator shares the cores with the server.
    neighbours_cpu_s: dict[str, float] = field(default_factory=dict)
    window_s: float = 0.0  # how long the persons ran
    machine: str = ""
    ledger: list[dict[str, Any]] = field(default_factory=list)
    profile: Profile | None = None
    phases: list[Phase] = field(default_factory=list)  # while the persons arrived, then once all of them were there


# --- the server ----------------------------------------------------------------------------------------------------


def memory_of(processes: list[Any]) -> Memory:
    """The summed memory of ``processes`` (psutil), skipping those that ended meanwhile."""
    import psutil

    rss = pss = 0
    alive = 0
    for process in processes:
        try:
            info = process.memory_full_info()
        except psutil.Error:
            continue
        rss, pss, alive = rss + info.rss, pss + info.pss, alive + 1
    return Memory(round(rss / MB, 1), round(pss / MB, 1), alive)


def ollama_aliases(base_url: str) -> dict[str, Any]:
    """The Ollama example of ``OO_LLM_ALIASES`` in ``.env.example``, pointed at ``base_url``."""
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.startswith("# OO_LLM_ALIASES=") and '"ollama_chat/' in line:
            return json.loads(line.removeprefix("# OO_LLM_ALIASES=").replace(OLLAMA_HOST, base_url))
    raise RuntimeError(".env.example documents no OO_LLM_ALIASES for Ollama")


def server_env(plan: LoadPlan, secret_key: str, metrics_dir: Path, ollama_url: str | None) -> dict[str, str]:
    from tests.app_server import production_env

    env = {
        **production_env(REDIS_URL, metrics_dir, workers=plan.workers, secret_key=secret_key),
        "OO_TIP_WRITER": "rules",
        "OO_TRACING_ENABLED": "false",  # production traces to the MLflow server, a separate service
        "OO_LIVE_POLL_S": str(plan.live_poll_s),
        "OO_SCHEDULER_ENABLED": "true",
        "OO_SCHEDULER_INTERVAL_S": str(plan.scheduler_interval_s),
        "OO_LOG_LEVEL": "WARNING",
        # The persons act every 2-5 s, several times what the default limit lets a person have (12 in a row, then 6 a
        # minute): raised above their pace, so that every reaction writes its next tip and the load measures serving,
        # not the limit's resting page (tests/test_limits.py holds the limit).
        "OO_TIP_RATE_PER_MINUTE": "40",
        "OO_TIP_BURST": "40",
    }
    if ollama_url is not None:
        env["OO_LLM_ALIASES"] = json.dumps(ollama_aliases(ollama_url))
    return env


# --- locust --------------------------------------------------------------------------------------------------------


def run_locust(plan: LoadPlan, base: str, persons: list[dict[str, Any]], workdir: Path) -> tuple[dict[str, Any], str]:
    """Locust, headless, one user per person, for the persons' arrival then ``plan.seconds``; the ledger it wrote,
    and its output."""
    persons_file, ledger = workdir / "persons.json", workdir / "ledger.json"
    persons_file.write_text(json.dumps(persons[: plan.persons]))
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OO_LOAD_PERSONS": str(persons_file),
        "OO_LOAD_LEDGER": str(ledger),
        "OO_LOAD_WAIT_S": f"{plan.wait_s[0]},{plan.wait_s[1]}",
    }
    command = [
        sys.executable,
        *("-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary"),
        *("--users", str(plan.persons), "--spawn-rate", str(plan.spawn_rate)),
        *("--run-time", f"{math.ceil(plan.arrival_s + plan.seconds)}s"),
        *("--host", base, "--stop-timeout", "60", "--exit-code-on-error", "0"),
        *("--loglevel", "WARNING"),
    ]
    finished = subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=plan.arrival_s + plan.seconds + 300,
        check=False,
    )
    output = finished.stdout + finished.stderr
    (workdir / "locust.log").write_text(output)
    if finished.returncode != 0 or not ledger.exists():
        raise RuntimeError(f"locust exited with {finished.returncode}:\n{output[-4000:]}")
    return json.loads(ledger.read_text()), output


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, interpolating between closest ranks (numpy's default)."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def figures(samples: list[list[Any]]) -> tuple[list[RequestFigures], RequestFigures, list[str]]:
    """Per request type and overall figures from the exact samples ``[name, started, ms, error]``; each distinct
    failure with its count. Throughput is over the window from the first request's start to the last one's end."""
    window_s = max(started + ms / 1000 for _, started, ms, _ in samples) - min(started for _, started, _, _ in samples)

    def of(name: str, rows: list[list[Any]]) -> RequestFigures:
        times = [ms for _, _, ms, _ in rows]
        return RequestFigures(
            name=name,
            count=len(rows),
            failures=sum(1 for *_, error in rows if error is not None),
            per_s=len(rows) / window_s,
            p50=percentile(times, 50),
            p95=percentile(times, 95),
            p99=percentile(times, 99),
            max=max(times),
        )

    names = sorted({name for name, *_ in samples})
    rows = [of(name, [row for row in samples if row[0] == name]) for name in names]
    failures = Counter(f"{name}: {error}" for name, _, _, error in samples if error is not None)
    return rows, of("all requests", samples), [f"{count} x {failure}" for failure, count in failures.most_common()]


def phases(samples: list[list[Any]], persons: list[dict[str, Any]]) -> list[Phase]:
    """The run in two parts: the requests that started before the last person had arrived (opened the page and asked
    the API once), and those that started after, with every person there. A part with no request is left out."""
    arrived = [entry["arrived"] for entry in persons if entry.get("arrived") is not None]
    last_arrival = max(arrived, default=float("inf"))
    first = min(started for _, started, _, _ in samples)
    end = max(started + ms / 1000 for _, started, ms, _ in samples)
    parts = [
        ("while they arrived", first, min(last_arrival, end), [row for row in samples if row[1] < last_arrival]),
        ("all of them there", last_arrival, end, [row for row in samples if row[1] >= last_arrival]),
    ]
    found = []
    for name, start, stop, rows in parts:
        if rows:
            requests, total, _ = figures(rows)
            found.append(Phase(name, stop - start, requests, total))
    return found


SERVER_LOG_MARKERS = {
    "tracebacks": "Traceback (most recent call last)",
    "state locks expired (LockExpiredError)": "LockExpiredError:",
    "state locks held too long (Reflex's warning, above 1 s)": "was held too long",
    "errors logged by oO": '"level": "ERROR"',
}


def server_warnings(log_path: Path) -> Counter[str]:
    """How often the server's log reports each kind of trouble of :data:`SERVER_LOG_MARKERS`."""
    text = log_path.read_text(errors="replace")
    return Counter({kind: text.count(marker) for kind, marker in SERVER_LOG_MARKERS.items() if marker in text})


# --- the run -------------------------------------------------------------------------------------------------------


def run_load(
    plan: LoadPlan, database_url: str, workdir: Path, secret_key: str, profile_dir: Path | None = None
) -> LoadReport:
    """Seeds ``database_url`` (empty), serves it in production shape and runs the persons; the report. This process's
    settings must already point at ``database_url`` with ``secret_key`` (:func:`configure_for`). With
    ``profile_dir``, py-spy records the backend workers while the persons run (:mod:`benchmarks.pyspy`)."""
    from tests.app_server import granian_workers, run_server, server_processes

    db.migrate(database_url)
    persons = seed_persons(plan.persons, plan.history_days)
    compute_agent_outputs()
    with ExitStack() as stack:
        ollama_url = None
        if plan.llm_delay_s is not None:
            from tests.fakes.ollama import FakeOllama, Reply

            ollama = stack.enter_context(FakeOllama())
            ollama.reset(Reply(content=json.dumps(OLLAMA_TIP), delay_s=plan.llm_delay_s))
            ollama_url = ollama.base_url
        env = server_env(plan, secret_key, workdir / "metrics", ollama_url)
        served = stack.enter_context(run_server(workdir, database_url, env, backend_only=plan.backend_only))
        workers = _wait_for_workers(served, plan.workers, granian_workers)
        # The workers load their models and run a first scheduler round after they answer: measure once that is done.
        settled_s = wait_until_idle(server_processes(served))
        memory_before = memory_of(server_processes(served))
        cpu_before = cpu_seconds(server_processes(served))
        neighbours_before = neighbours_cpu()
        started, clock = datetime.now(UTC), time.monotonic()
        with ExitStack() as spying:
            profiles = spying.enter_context(recording(workers, profile_dir)) if profile_dir is not None else None
            ledger, output = run_locust(plan, served.base, persons, workdir)
        server_cpu_s = cpu_seconds(server_processes(served)) - cpu_before
        neighbours_after, window_s = neighbours_cpu(), time.monotonic() - clock
        memory_after = memory_of(server_processes(served))
        health = httpx.get(f"{served.base}/health", timeout=30).json()
        warnings = server_warnings(served.log_path)
    requests, total, failures = figures(ledger["samples"])
    seen = ledger["persons"]
    person_ids = [entry["person"] for entry in seen]
    stored = stored_reactions(database_url, person_ids, started)

    def pairs(key: str) -> dict[int, list[tuple[int, str]]]:
        return {entry["person"]: [tuple(pair) for pair in entry[key]] for entry in seen}

    acknowledged, interrupted, failed = pairs("acknowledged"), pairs("interrupted"), pairs("failed")
    unconfirmed = {person: interrupted[person] + failed[person] for person in person_ids}
    answered = Counter(tip for reactions in stored.values() for tip, _ in reactions)
    return LoadReport(
        plan=plan,
        requests=requests,
        total=total,
        failures=failures,
        memory_before=memory_before,
        memory_after=memory_after,
        health_after=health,
        workers=workers,
        persons_with_page_tips=sum(1 for entry in seen if entry["page_tips"]),
        persons_with_api_tips=sum(1 for entry in seen if entry["api_tips"]),
        acknowledged=Counter(reaction for reactions in acknowledged.values() for _, reaction in reactions),
        stored=Counter(reaction for reactions in stored.values() for _, reaction in reactions),
        interrupted=sum(len(pairs) for pairs in interrupted.values()),
        mismatches={
            person: {"acknowledged": acknowledged[person], "unconfirmed": unconfirmed[person], "stored": stored[person]}
            for person in person_ids
            if not reactions_match(acknowledged[person], unconfirmed[person], stored[person])
        },
        duplicate_reactions=sorted(tip for tip, count in answered.items() if count > 1),
        tips_by_writer=tips_by_writer(database_url, started),
        tips_written_ahead=tips_written_ahead(database_url, started),
        server_warnings=warnings,
        load_generator_notes=[line for line in output.splitlines() if "CPU usage" in line][:5],
        settled_s=settled_s,
        server_cpu_s=server_cpu_s,
        neighbours_cpu_s={name: neighbours_after[name] - neighbours_before[name] for name in neighbours_after},
        window_s=window_s,
        machine=f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores after the run",
        ledger=seen,
        profile=summarize(profiles) if profiles is not None else None,
        phases=phases(ledger["samples"], seen),
    )


def cpu_seconds(processes: list[Any]) -> float:
    """The CPU time (user + system) ``processes`` have used so far, skipping those that ended meanwhile."""
    import psutil

    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def neighbours_cpu() -> dict[str, float]:
    """CPU seconds used so far by the load generator (this process's finished children: locust, run to its end), the
    local PostgreSQL and Redis servers (every process of theirs), and the whole machine (busy, all cores)."""
    import resource

    import psutil

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    machine = psutil.cpu_times()
    named = {"PostgreSQL": "postgres", "Redis": "redis-server"}
    servers = {
        name: [p for p in psutil.process_iter(["name"]) if p.info["name"] == process] for name, process in named.items()
    }
    return {
        "locust": children.ru_utime + children.ru_stime,
        **{name: cpu_seconds(processes) for name, processes in servers.items()},
        "machine": machine.user + machine.nice + machine.system + machine.irq + machine.softirq + machine.steal,
    }


def wait_until_idle(
    processes: list[Any], below_cores: float = 0.2, quiet_s: int = 3, timeout_s: float = 120.0
) -> float:
    """Waits until ``processes`` together used less than ``below_cores`` of CPU in each of ``quiet_s`` seconds in a
    row (or ``timeout_s`` passed); the seconds waited."""
    started, quiet = time.monotonic(), 0
    while quiet < quiet_s and time.monotonic() - started < timeout_s:
        before = cpu_seconds(processes)
        time.sleep(1.0)
        quiet = quiet + 1 if cpu_seconds(processes) - before < below_cores else 0
    return time.monotonic() - started


def _wait_for_workers(served: Any, count: int, granian_workers: Any) -> list[int]:
    deadline = time.monotonic() + 60
    while True:
        pids = sorted(process.pid for process in granian_workers(served))
        if len(pids) >= count or time.monotonic() > deadline:
            return pids
        time.sleep(0.5)


# --- the figures ---------------------------------------------------------------------------------------------------


def print_report(report: LoadReport) -> None:
    plan = report.plan
    writer = "the rule-based composer" if plan.llm_delay_s is None else f"Ollama stand-in, {plan.llm_delay_s:g} s a tip"
    print(
        f"\n{plan.persons} persons arriving in {plan.arrival_s:g} s (spawn {plan.spawn_rate:g}/s), then all there for "
        f"{plan.seconds} s ({plan.wait_s[0]:g}-"
        f"{plan.wait_s[1]:g} s between actions), {plan.workers} Granian workers {report.workers}, PostgreSQL, "
        f"Redis state manager; tips by {writer}; {report.machine}"
    )
    _print_requests("the whole run", [*report.requests, report.total])
    for phase in report.phases:
        _print_requests(f"{phase.name} ({phase.seconds:.0f} s)", [*phase.requests, phase.total])
    for failure in report.failures:
        print(f"  failure: {failure}")
    before, after = report.memory_before, report.memory_after
    print(
        f"\nserver memory ({after.processes} processes; 'before' once idle, {report.settled_s:.0f} s after it "
        f"answered): RSS {before.rss_mb:.0f} MB before -> {after.rss_mb:.0f} MB "
        f"after; PSS {before.pss_mb:.0f} MB -> {after.pss_mb:.0f} MB"
    )
    checks = ", ".join(f"{name} {check.get('status')}" for name, check in report.health_after.get("checks", {}).items())
    print(
        f"server CPU while the persons ran: {report.server_cpu_s:.1f} s, "
        f"{report.server_cpu_s * 1000 / max(report.total.count, 1):.1f} ms a request"
    )
    if report.window_s:
        cores = os.cpu_count() or 1
        others = ", ".join(
            f"{name} {seconds:.1f} s" for name, seconds in report.neighbours_cpu_s.items() if name != "machine"
        )
        print(
            f"CPU of the {report.window_s:.0f} s run on {cores} cores ({report.window_s * cores:.0f} core-seconds): "
            f"server {report.server_cpu_s:.1f} s, {others}; the whole machine busy "
            f"{report.neighbours_cpu_s.get('machine', 0.0):.1f} s"
        )
    print(f"health after: {report.health_after.get('status')} ({checks})")
    print(
        f"persons with a tip on the page: {report.persons_with_page_tips}/{plan.persons}, from the API: "
        f"{report.persons_with_api_tips}/{plan.persons}\nreactions acknowledged {dict(report.acknowledged)}, stored "
        f"{dict(report.stored)}, cut off by the load generator's stop: {report.interrupted}; persons whose stored "
        f"reactions differ from what they sent: {len(report.mismatches)}; tips answered twice: "
        f"{len(report.duplicate_reactions)}"
    )
    for person, pairs in list(report.mismatches.items())[:5]:
        print(
            f"  person {person}: (tip, reaction) acknowledged {pairs['acknowledged']}, sent without a confirmed "
            f"answer {pairs['unconfirmed']}, stored {pairs['stored']}"
        )
    print(f"tips written during the run, by writer: {dict(report.tips_by_writer)}")
    print(f"tips written during the run, written ahead or not: {dict(report.tips_written_ahead)}")
    for note in report.load_generator_notes:
        print(f"load generator: {note}")
    for kind, count in report.server_warnings.items():
        print(f"server log: {count} {kind}")
    if report.profile is not None:
        print_profile(report.profile)


def _print_requests(title: str, rows: list[RequestFigures]) -> None:
    print(f"\n{title:45} {'count':>7} {'fail':>5} {'req/s':>7} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  (ms)")
    for row in rows:
        print(
            f"{row.name:45} {row.count:7d} {row.failures:5d} {row.per_s:7.1f} {row.p50:7.0f} {row.p95:7.0f} "
            f"{row.p99:7.0f} {row.max:7.0f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--spawn-rate", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--llm-delay", type=float, default=None, help="seconds every tip waits on an Ollama stand-in")
    parser.add_argument("--backend-only", action="store_true", help="serve API and websocket only (no page build)")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="py-spy the backend workers; stacks go to DIR")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep the ledger and the logs of the run in DIR")
    args = parser.parse_args()
    if "REFLEX_BUN_PATH" not in os.environ:
        print("run `source scripts/_env.sh && ensure_bun && export_env && set +eu` in this shell first")
        return 2
    plan = LoadPlan(
        persons=args.persons,
        seconds=args.seconds,
        spawn_rate=args.spawn_rate,
        workers=args.workers,
        llm_delay_s=args.llm_delay,
        backend_only=args.backend_only,
    )
    with tempfile.TemporaryDirectory(prefix="oo-load-") as workdir, fresh_postgres_database() as database_url:
        secret_key = secrets.token_urlsafe(32)
        configure_for(database_url, secret_key)
        report = run_load(plan, database_url, Path(workdir), secret_key, args.profile)
        print_report(report)
        if args.keep is not None:
            shutil.copytree(workdir, args.keep, dirs_exist_ok=True)
    clean = (
        report.total.failures == 0
        and not report.mismatches
        and not report.duplicate_reactions
        and report.health_after.get("database") == "ok"
    )
    return 0 if clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
