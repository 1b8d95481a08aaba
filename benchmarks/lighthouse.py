"""Benchmark: Lighthouse on the tip page as a signed-in person sees it, desktop and mobile, first and returning visit.

Run on demand: ``python benchmarks/lighthouse.py [--runs 3] [--rules] [--save]`` after
``source scripts/_env.sh && ensure_bun && export_env``. On first use it installs the npm package ``lighthouse``
(pinned) into ``.tools/`` beside bun. It serves the production build on loopback with the demo person signed in, then
for each run starts Debian's Chromium headless on a fresh profile with a remote debugging port, puts the session
cookie in that profile (and, for a returning visit, opens the page once and waits for its service worker), and lets
Lighthouse audit ``/`` through that port. It prints the median run's category scores, LCP, FCP, TBT, CLS, bytes, the
LCP element and what the bytes are. ``--save`` keeps the JSON reports in ``data/benchmarks/lighthouse/``.

Why a browser of our own: Lighthouse's ``--extra-headers '{"Cookie": ...}'`` does reach every request, the page's
websocket included (checked: the tip page shows the person's tip), but the browser Lighthouse starts itself has a
fresh profile each run, so nothing of an earlier visit (service worker, kept tip, HTTP cache) could be measured.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

# tests.auth_helpers imports the OIDC mock, whose authlib warns about itself on import: not this benchmark's news.
with warnings.catch_warnings(record=True):
    from benchmarks.lighthouse_report import (
        CATEGORIES,
        PRESETS,
        LighthouseResult,
        describe,
        median_run,
        parse_report,
        verdicts,
    )
    from benchmarks.tip_page import (
        SignedInApp,
        failures_as_exit,
        machine_load,
        rules_env,
        signed_in_app,
        wait_for_live_tip,
        wait_for_service_worker,
        wait_until_quiet,
        writer_mode,
    )
    from tests.app_server import CHROMIUM, CHROMIUM_ARGS, free_port
    from tests.auth_helpers import browser_cookies

# The newest Lighthouse whose `engines` accept this machine's Node 20. 13.x asks for Node >= 22.19 (13.5.0 ran here
# all the same and scored the page alike: `--lighthouse-version 13.5.0`).
LIGHTHOUSE_VERSION = "12.8.2"
TOOLS = ROOT / ".tools"
REPORTS = ROOT / "data" / "benchmarks" / "lighthouse"
VISITS = ("cold", "warm")
THROTTLING = ("simulate", "devtools")
VISIT_LABELS = {"cold": "first visit (fresh profile)", "warm": "returning visit (after one earlier visit)"}
TIMEOUT_S = 300


# --- Lighthouse itself ---------------------------------------------------------------------------------------------


def installed_version(tools: Path = TOOLS) -> str | None:
    manifest = tools / "node_modules" / "lighthouse" / "package.json"
    return json.loads(manifest.read_text())["version"] if manifest.is_file() else None


def ensure_lighthouse(version: str, tools: Path = TOOLS) -> Path:
    """The Lighthouse CLI of ``version`` in ``tools`` (git-ignored), installed from the npm registry when missing."""
    if installed_version(tools) != version:
        if not shutil.which("npm"):
            raise SystemExit("Lighthouse comes from the npm registry: install Node.js with npm")
        print(f"installing lighthouse {version} into {tools} from the npm registry", file=sys.stderr)
        tools.mkdir(exist_ok=True)
        npm = ["npm", "install", "--prefix", str(tools), "--no-audit", "--no-fund", "--silent", "--save-exact"]
        if subprocess.run([*npm, f"lighthouse@{version}"]).returncode != 0 or installed_version(tools) != version:
            raise SystemExit(f"npm could not install lighthouse@{version} into {tools} (see its output above)")
    return tools / "node_modules" / ".bin" / "lighthouse"


def launcher_flags(tools: Path = TOOLS) -> list[str]:
    """The Chrome flags Lighthouse's own launcher (chrome-launcher) would add, so a browser started here behaves
    like the one ``lighthouse URL`` starts (no background throttling, extensions, translate and the like)."""
    script = "import('chrome-launcher').then((m) => console.log(JSON.stringify(m.Launcher.defaultFlags())))"
    done = subprocess.run(["node", "-e", script], cwd=tools, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"could not read chrome-launcher's default flags in {tools}:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


def lighthouse_command(
    cli: Path, url: str, port: int, preset: str, visit: str, output: Path, throttling: str = "simulate"
) -> list[str]:
    """Lighthouse on ``url`` in the Chromium at ``port``: the desktop preset or the default (mobile) one; a warm
    visit keeps the profile's storage and caches (``--disable-storage-reset``). ``throttling="devtools"`` slows the
    browser for real instead of simulating it afterwards (then waits on the websocket count too)."""
    if preset not in PRESETS or visit not in VISITS or throttling not in THROTTLING:
        raise ValueError(f"unknown preset {preset!r}, visit {visit!r} or throttling {throttling!r}")
    return [
        str(cli),
        url,
        f"--port={port}",
        "--output=json",
        f"--output-path={output}",
        f"--only-categories={','.join(CATEGORIES)}",
        "--quiet",
        *(["--preset=desktop"] if preset == "desktop" else []),
        *(["--disable-storage-reset"] if visit == "warm" else []),
        *(["--throttling-method=devtools"] if throttling == "devtools" else []),
    ]


# --- a browser for Lighthouse --------------------------------------------------------------------------------------


@contextmanager
def debuggable_chromium(flags: list[str]) -> Iterator[int]:
    """Headless Chromium (the flags of PLATFORM.md plus ``flags``) on a fresh profile, stopped and removed after
    the block; yields its remote debugging port."""
    port = free_port()
    profile = Path(tempfile.mkdtemp(prefix="oo-lighthouse-profile-"))
    own = [f"--remote-debugging-port={port}", f"--user-data-dir={profile}", "about:blank"]
    process = subprocess.Popen(
        [CHROMIUM, *flags, *CHROMIUM_ARGS, *own],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/json/version").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"Chromium ({CHROMIUM}) did not open its debugging port {port}")
            time.sleep(0.2)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(profile, ignore_errors=True)


def prepare_profile(port: int, app: SignedInApp, visit: str, timeout_ms: float) -> None:
    """Signs the demo person in in the browser's own profile (the session cookie); for a warm visit, also opens the
    tip page once, as an earlier visit would have, and waits for the tip and the page's service worker."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.connect_over_cdp(f"http://127.0.0.1:{port}")
        context = browser.contexts[0]
        context.add_cookies(browser_cookies(app.cookies, app.base))
        if visit == "warm":
            page = context.new_page()
            page.goto(app.base + "/", wait_until="commit", timeout=timeout_ms)  # the server's first tip may be slow
            wait_for_live_tip(page, timeout_ms)
            wait_for_service_worker(page, timeout_ms)
            page.close()


def run_lighthouse(
    cli: Path, flags: list[str], app: SignedInApp, preset: str, visit: str, throttling: str
) -> dict[str, Any]:
    """One Lighthouse run in a fresh browser; its JSON report."""
    with debuggable_chromium(flags) as port, tempfile.TemporaryDirectory(prefix="oo-lighthouse-") as tmp:
        prepare_profile(port, app, visit, timeout_ms=120_000)
        output = Path(tmp) / "report.json"
        command = lighthouse_command(cli, app.base + "/", port, preset, visit, output, throttling)
        env = {**os.environ, "CHROME_PATH": CHROMIUM}
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
        if done.returncode != 0 or not output.is_file():
            raise SystemExit(f"lighthouse exited with {done.returncode}:\n{done.stderr[-3000:]}")
        return json.loads(output.read_text())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="Lighthouse runs per preset and visit (median shown)")
    parser.add_argument("--preset", choices=PRESETS, action="append", help="only this preset (repeatable)")
    parser.add_argument("--visit", choices=VISITS, action="append", help="only this visit (repeatable)")
    parser.add_argument(
        "--throttling",
        choices=THROTTLING,
        default="simulate",
        help="Lighthouse's default simulation, or real (devtools) throttling while the page loads",
    )
    parser.add_argument("--rules", action="store_true", help="the composer writes the tips (OO_TIP_WRITER=rules)")
    parser.add_argument("--lighthouse-version", default=LIGHTHOUSE_VERSION, help="npm version to install and run")
    parser.add_argument("--save", action="store_true", help=f"keep the JSON reports in {REPORTS.relative_to(ROOT)}/")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    args.preset = args.preset or list(PRESETS)
    args.visit = args.visit or list(VISITS)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    cli = ensure_lighthouse(args.lighthouse_version)
    flags = launcher_flags()
    env = rules_env(args.rules)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    print(f"tip writer: {writer_mode(env)}")
    results: dict[tuple[str, str], list[LighthouseResult]] = {}
    with failures_as_exit(), signed_in_app(env) as app:
        print(f"app: {app.base} (reflex --env prod --single-port); Lighthouse {args.lighthouse_version}, {CHROMIUM}")
        print(f"throttling: {args.throttling}")
        with debuggable_chromium(flags) as port:
            prepare_profile(port, app, "warm", timeout_ms=120_000)  # untimed: the server writes the first tip
        # The work the first tip started (the agents, tips written ahead) is not a visit's: let it end.
        print(f"server quiet after its first tip: waited {wait_until_quiet():.0f} s")
        print(f"machine: {machine_load()} at the start")
        for preset in args.preset:
            for visit in args.visit:
                runs = []
                for index in range(args.runs):
                    report = run_lighthouse(cli, flags, app, preset, visit, args.throttling)
                    if args.save:
                        REPORTS.mkdir(parents=True, exist_ok=True)
                        (REPORTS / f"{stamp}-{preset}-{visit}-{index + 1}.json").write_text(json.dumps(report))
                    runs.append(parse_report(report))
                results[preset, visit] = runs
        print(f"machine: {machine_load()} at the end")

    for (preset, visit), runs in results.items():
        result = median_run(runs)
        print(f"{preset}, {VISIT_LABELS[visit]}, median of {len(runs)}:")
        print("\n".join(describe(result, runs)))
        print(f"  targets: {verdicts(preset, result)}")
    if args.save:
        print(f"reports: {REPORTS.relative_to(ROOT)}/{stamp}-*.json")


if __name__ == "__main__":
    main()
