"""What the page benchmarks share: the tip page served in production to a signed-in person, and the figures' maths.

:func:`signed_in_app` serves this checkout like the browser tests do (``tests/app_server.py``: ``reflex run --env prod
--single-port`` on loopback, one origin for the page, the API and the websocket) on a fresh seeded SQLite database,
and yields the demo person's session cookies with it. :func:`writer_mode` and :func:`writers_since` say which tip
writer was configured and which one actually wrote the tips shown. Benchmarks only: it never touches ``data/oo.db``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page
from sqlmodel import Session, select

from oo_app.db import make_engine
from oo_app.models import Tip, User
from oo_app.recommender.reasons import model_label
from oo_app.settings import Settings, embedded_alias_table
from tests.app_server import seeded_database, serve_app
from tests.auth_helpers import session_cookies

DEMO_EMAIL = "demo@example.com"
ENVIRONMENT_HINT = "run `source scripts/_env.sh && ensure_bun && export_env && set +eu` in this shell first"
LIVE_TIP = "#tip-text"  # the tip rendered from the server's state
SIGN_IN = "#sign-in"


# --- the served app ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedInApp:
    """The app at ``base`` (``http://127.0.0.1:<port>``), and the cookies of the demo person's open session."""

    base: str
    database_url: str
    cookies: dict[str, str]


def require_environment() -> None:
    """Exits with what to do when the shell lacks the offline Reflex setup that serving the app needs."""
    bun = os.environ.get("REFLEX_BUN_PATH", "")
    if not bun or not Path(bun).is_file():
        raise SystemExit(f"REFLEX_BUN_PATH is not set to bun: {ENVIRONMENT_HINT}")


def rules_env(rules: bool) -> dict[str, str]:
    """The server environment of ``--rules``: the embedded alias table whose ``tip-generator`` is the composer."""
    return {"OO_TIP_WRITER": "rules"} if rules else {}


def server_env(workdir: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """What the benchmarks change in the served app's environment, on top of :func:`tests.app_server.serve_app`'s:
    Reflex builds into ``workdir`` (another server started from this checkout meanwhile, e.g. a browser test, would
    rebuild the shared ``.web/`` and delete the assets this one serves), the production poll interval of the live
    watch (the tests speed it up), the person's tip limit lifted (a benchmark answers tips far faster than anyone:
    past the default burst of 12 every reaction would wait for the bucket's refill, 10 s at 6 a minute, and that wait
    is the limit working, not the page's latency), MLflow traces into ``workdir`` (tracing stays as configured, so its
    cost is measured, but never lands in the developer's store), then ``extra``."""
    env = {
        "REFLEX_WEB_WORKDIR": str(workdir / "web"),
        "OO_LIVE_POLL_S": str(Settings.model_fields["live_poll_s"].default),
        "OO_TIP_RATE_PER_MINUTE": "6000",
        "OO_TIP_BURST": "10000",
    }
    if "OO_MLFLOW_TRACKING_URI" not in os.environ:
        env["OO_MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir / 'mlflow.db'}"
    return {**env, **extra}


@contextmanager
def signed_in_app(extra_env: Mapping[str, str] | None = None) -> Iterator[SignedInApp]:
    """The production app on a fresh database with the demo person (90 days of history) signed in, until the block
    ends; then the server is stopped and its temporary directory removed."""
    require_environment()
    workdir = Path(tempfile.mkdtemp(prefix="oo-bench-"))
    try:
        database_url = seeded_database(workdir)
        engine = make_engine(database_url)
        with Session(engine) as session:
            cookies = session_cookies(session, session.exec(select(User).where(User.email == DEMO_EMAIL)).one())
        engine.dispose()
        with serve_app(workdir, database_url, server_env(workdir, extra_env or {})) as base:
            yield SignedInApp(base=base, database_url=database_url, cookies=cookies)
    finally:
        _remove(workdir)


def _remove(workdir: Path, attempts: int = 20) -> None:
    """Removes ``workdir``, retrying while the stopped server's last processes still write into it (its MLflow
    store, its log): ``serve_app`` waits for the server's top process only."""
    for _ in range(attempts):
        shutil.rmtree(workdir, ignore_errors=True)
        if not workdir.exists():
            return
        time.sleep(0.5)
    print(f"could not remove {workdir}: something still writes into it", file=sys.stderr)


@contextmanager
def failures_as_exit() -> Iterator[None]:
    """The helpers borrowed from ``tests/`` stop with ``pytest.fail``; a benchmark exits with that message instead."""
    try:
        yield
    except pytest.fail.Exception as failure:
        raise SystemExit(f"benchmark stopped: {failure}") from None


# --- in the page ---------------------------------------------------------------------------------------------------

# A tip is text with a letter or digit (not an empty box, an ellipsis or a spinner) on an element that does not say
# it holds no tip (`data-tip-id="0"`: the page's error message).
IS_TIP_JS = """
(node) => {
  if (!node) return false;
  const id = node.getAttribute("data-tip-id");
  return (id === null || Number(id) > 0) && /[\\p{L}\\p{N}]/u.test(node.textContent || "");
}
"""


def wait_for_live_tip(page: Page, timeout_ms: float) -> None:
    """Waits until ``#tip-text`` holds a tip; exits saying why when it does not (signed out, or no tip in time)."""
    try:
        page.wait_for_function(f"() => ({IS_TIP_JS})(document.querySelector({LIVE_TIP!r}))", timeout=timeout_ms)
    except PlaywrightError:
        raise SystemExit(no_tip_message(page, timeout_ms)) from None


def no_tip_message(page: Page, timeout_ms: float) -> str:
    """Why a wait for the live tip ended without one: the sign-in view, or what ``#tip-text`` holds."""
    if page.query_selector(SIGN_IN):
        return "the page shows the sign-in view: the session cookie was not accepted"
    shown = page.evaluate(f"() => document.querySelector({LIVE_TIP!r})?.outerHTML ?? 'no such element'")
    return f"no tip in {LIVE_TIP} within {timeout_ms / 1000:.0f} s at {page.url}; it holds: {shown[:300]}"


def wait_for_service_worker(page: Page, timeout_ms: float) -> bool:
    """After a first visit: waits until the page's service worker is active (its install stored the shell), so the
    next visit is a returning person's. False when the page registers none within 3 s of loading."""
    return page.evaluate(
        """async (timeoutMs) => {
            if (!("serviceWorker" in navigator)) return false;
            const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
            if (document.readyState !== "complete") {
                await new Promise((resolve) => addEventListener("load", resolve, { once: true }));
            }
            let registration = null;
            for (let waited = 0; !registration && waited < 3000; waited += 100) {
                registration = await navigator.serviceWorker.getRegistration();
                if (!registration) await sleep(100);
            }
            if (!registration) return false;
            await Promise.race([navigator.serviceWorker.ready, sleep(timeoutMs)]);
            return !!registration.active;
        }""",
        timeout_ms,
    )


# --- who wrote the tips --------------------------------------------------------------------------------------------


def writer_mode(extra_env: Mapping[str, str] | None = None) -> str:
    """The configured ``tip-generator`` (and its fallback) of a server started with ``extra_env`` over this
    process's environment: where the alias table comes from and the models it names."""
    env = {**os.environ, **(extra_env or {})}
    raw = env.get("OO_LLM_ALIASES", "").strip()
    if raw and raw != "null":
        table, source = json.loads(raw), "OO_LLM_ALIASES"
    else:
        writer = env.get("OO_TIP_WRITER", Settings.model_fields["tip_writer"].default)
        table, source = embedded_alias_table(writer), f"embedded table OO_TIP_WRITER={writer}"

    def models(alias: str) -> str:
        return ", ".join(deployment.get("model", "?") for deployment in table.get(alias, [])) or "none"

    return f"{source}: tip-generator = {models('tip-generator')}; fallback = {models('tip-generator-fallback')}"


@dataclass(frozen=True)
class Writers:
    """The tips shown since some moment: (model that wrote it, its generation latency in ms) per tip."""

    written: list[tuple[str, float]]

    def describe(self) -> list[str]:
        """One line per writer, most tips first: how many it wrote and how long the server took to write them."""
        if not self.written:
            return ["no tip was written"]
        counts = Counter(model for model, _ in self.written)
        return [
            f"{count} by {model_label(model)}, written in "
            + summarize([latency for writer, latency in self.written if writer == model]).format()
            for model, count in counts.most_common()
        ]


def writers_since(database_url: str, since: datetime) -> Writers:
    """Which writer wrote the demo person's tips shown at or after ``since``, whenever they were written (a tip
    may be written ahead of its showing); shadow tips are never shown."""
    engine = make_engine(database_url)
    with Session(engine) as session:
        tips = session.exec(
            select(Tip)
            .join(User, User.id == Tip.user_id)
            .where(User.email == DEMO_EMAIL, Tip.shown_at >= since, Tip.shadow == False)  # noqa: E712
            .order_by(Tip.id)
        ).all()
    engine.dispose()
    return Writers([(tip.model, tip.latency_ms) for tip in tips])


def now() -> datetime:
    return datetime.now(UTC)


def wait_until_quiet(busy_percent: float = 25.0, quiet_s: int = 3, timeout_s: float = 120.0) -> float:
    """Waits until the machine's CPU stays under ``busy_percent`` for ``quiet_s`` seconds in a row (the server's work
    after its first tip: the agents, the tips it writes ahead), at most ``timeout_s``; the seconds it waited."""
    import psutil

    started, quiet = time.monotonic(), 0
    while quiet < quiet_s and time.monotonic() - started < timeout_s:
        quiet = quiet + 1 if psutil.cpu_percent(interval=1.0) < busy_percent else 0
    return time.monotonic() - started


def machine_load() -> str:
    """The 1-minute load average against the cores: figures taken on a busy machine are slower than the page."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


# --- figures -------------------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0-100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    n: int
    p50: float
    p95: float
    max: float

    def format(self, unit: str = "ms") -> str:
        return f"p50 {self.p50:.0f} {unit}, p95 {self.p95:.0f} {unit}, max {self.max:.0f} {unit} (n={self.n})"


def summarize(values: Sequence[float]) -> Summary:
    """p50, p95 and max of a non-empty series."""
    return Summary(len(values), percentile(values, 50), percentile(values, 95), max(values))
