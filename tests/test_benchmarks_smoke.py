"""The page benchmarks' pure pieces: their arguments, the percentiles they print, and how a Lighthouse report is read.

No Lighthouse run and no timing here (those are ``python benchmarks/lighthouse.py`` and ``page_latency.py``); the
report is a trimmed copy of a real Lighthouse 12.8 mobile report of the tip page (``tests/fixtures``).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import lighthouse, lighthouse_report, page_latency
from benchmarks.tip_page import Writers, percentile, summarize, writer_mode
from oo_app.llm.aliases import COMPOSER_MODEL, LOCAL_TIP_MODEL

REPORT = Path(__file__).parent / "fixtures" / "lighthouse-12-mobile.json"


@pytest.fixture
def report() -> dict[str, Any]:
    return json.loads(REPORT.read_text())


# --- arguments -----------------------------------------------------------------------------------------------------


def test_page_latency_defaults_to_fifty_dismissals_with_the_configured_writer() -> None:
    args = page_latency.parse_args([])
    assert (args.runs, args.reaction, args.rules, args.read_s) == (50, "dismissed", False, 0.0)
    assert page_latency.parse_args(["--rules", "--reaction", "done", "--runs", "5"]).reaction == "done"


def test_page_latency_refuses_zero_runs_and_negative_reading() -> None:
    with pytest.raises(SystemExit):
        page_latency.parse_args(["--runs", "0"])
    with pytest.raises(SystemExit):
        page_latency.parse_args(["--read-s", "-1"])


def test_lighthouse_runs_both_presets_and_both_visits_unless_told() -> None:
    args = lighthouse.parse_args([])
    assert (args.preset, args.visit, args.runs) == (["desktop", "mobile"], ["cold", "warm"], 3)
    assert args.throttling == "simulate"
    assert args.lighthouse_version == lighthouse.LIGHTHOUSE_VERSION
    only = lighthouse.parse_args(["--preset", "mobile", "--visit", "warm", "--runs", "1"])
    assert (only.preset, only.visit, only.runs) == (["mobile"], ["warm"], 1)


def test_lighthouse_command_keeps_the_profile_only_for_a_returning_visit(tmp_path: Path) -> None:
    cli, output = tmp_path / "lighthouse", tmp_path / "report.json"
    warm_desktop = lighthouse.lighthouse_command(cli, "http://127.0.0.1:9/", 4321, "desktop", "warm", output)
    cold_mobile = lighthouse.lighthouse_command(cli, "http://127.0.0.1:9/", 4321, "mobile", "cold", output)
    assert {"--port=4321", "--preset=desktop", "--disable-storage-reset"} <= set(warm_desktop)
    assert "--port=4321" in cold_mobile
    assert not {"--preset=desktop", "--disable-storage-reset"} & set(cold_mobile), "mobile is Lighthouse's default"
    assert "--only-categories=performance,accessibility,best-practices,seo" in cold_mobile
    assert not any(arg.startswith("--throttling-method") for arg in cold_mobile), "simulated unless told"
    devtools = lighthouse.lighthouse_command(cli, "http://127.0.0.1:9/", 4321, "mobile", "cold", output, "devtools")
    assert "--throttling-method=devtools" in devtools
    with pytest.raises(ValueError, match="unknown preset"):
        lighthouse.lighthouse_command(cli, "http://127.0.0.1:9/", 4321, "tablet", "cold", output)


# --- figures -------------------------------------------------------------------------------------------------------


def test_percentiles_interpolate_between_closest_ranks() -> None:
    values = [10.0, 1.0, 9.0, 2.0, 8.0, 3.0, 7.0, 4.0, 6.0, 5.0]
    assert percentile(values, 50) == pytest.approx(5.5)
    assert percentile(values, 95) == pytest.approx(9.55)
    assert (percentile(values, 0), percentile(values, 100)) == (1.0, 10.0)
    assert percentile([42.0], 95) == 42.0


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="outside"):
        percentile([1.0], 101)


def test_summary_holds_p50_p95_and_max() -> None:
    summary = summarize([float(ms) for ms in range(1, 101)])
    assert (summary.n, summary.p50, summary.max) == (100, pytest.approx(50.5), 100.0)
    assert summary.p95 == pytest.approx(95.05)
    assert summary.format() == "p50 50 ms, p95 95 ms, max 100 ms (n=100)"


def test_the_live_tip_painted_ahead_counts_from_when_it_was_painted() -> None:
    live = page_latency.Shown(id=5, text="Take a walk.", ms=640.0)
    due = page_latency.Shown(id=5, text="Take a walk.", ms=90.0, source="due")
    marks = page_latency.NavigationMarks(live=live, painted=(due,))
    assert marks.live_tip_ms == 90.0
    assert marks.painted_live_tip
    assert marks.others == ()
    assert page_latency.NavigationMarks(live=live, painted=()).live_tip_ms == 640.0


def test_a_different_tip_painted_ahead_never_counts_as_the_live_tip() -> None:
    live = page_latency.Shown(id=5, text="Take a walk.", ms=640.0)
    stale = page_latency.Shown(id=4, text="Drink water.", ms=60.0, source="kept")
    marks = page_latency.NavigationMarks(live=live, painted=(stale,))
    assert marks.live_tip_ms == 640.0, "a stale kept tip is not the live tip"
    assert marks.others == (stale,)
    assert marks.first("kept") == 60.0
    assert marks.first("due") is None


def test_navigations_are_reported_with_and_without_a_target(capsys: pytest.CaptureFixture[str]) -> None:
    live = page_latency.Shown(id=5, text="Take a walk.", ms=640.0)
    marks = [page_latency.NavigationMarks(live=live, painted=(page_latency.Shown(5, "Take a walk.", 90.0, "due"),))]
    page_latency.report_navigation("first visit", marks, target_p95_ms=400)
    page_latency.report_navigation("returning visit", marks)
    printed = capsys.readouterr().out
    assert "p95 90 ms, max 90 ms (n=1) (target p95 <= 400 ms: met)" in printed
    assert "painted before the live state, same id: 1/1 visits" in printed
    assert printed.count("target") == 1, "the returning visit has no target"


def test_writer_mode_names_the_models_of_the_configured_aliases() -> None:
    local = writer_mode({"OO_LLM_ALIASES": "", "OO_TIP_WRITER": "local"})
    assert local == (
        "embedded table OO_TIP_WRITER=local: tip-generator = oo-local/gemma3-270m; fallback = oo-rules/composer"
    )
    aliases = json.dumps({"tip-generator": [{"model": "ollama_chat/qwen2.5:1.5b"}]})
    assert writer_mode({"OO_LLM_ALIASES": aliases}) == (
        "OO_LLM_ALIASES: tip-generator = ollama_chat/qwen2.5:1.5b; fallback = none"
    )


def test_writers_are_counted_with_their_own_latencies() -> None:
    written = [(LOCAL_TIP_MODEL, 900.0), (COMPOSER_MODEL, 20.0), (COMPOSER_MODEL, 40.0)]
    assert Writers(written).describe() == [
        "2 by the rule-based composer, written in p50 30 ms, p95 39 ms, max 40 ms (n=2)",
        "1 by the local model (Gemma 3 270M), written in p50 900 ms, p95 900 ms, max 900 ms (n=1)",
    ]
    assert Writers([]).describe() == ["no tip was written"]


# --- a Lighthouse report -------------------------------------------------------------------------------------------


def test_a_report_gives_scores_metrics_and_bytes(report: dict[str, Any]) -> None:
    result = lighthouse_report.parse_report(report)
    assert (result.version, result.form_factor, result.throttling) == ("12.8.2", "mobile", "simulate")
    assert result.scores == {"performance": 97, "accessibility": 100, "best-practices": 100, "seo": 100}
    assert (round(result.lcp_ms), round(result.fcp_ms), result.tbt_ms, result.cls) == (2258, 2108, 32.0, 0.0)
    assert (round(result.observed_lcp_ms), round(result.observed_fcp_ms)) == (241, 241)
    assert (result.total_bytes, result.requests) == (189006, 5)


def test_a_report_names_the_lcp_element_and_its_phases(report: dict[str, Any]) -> None:
    result = lighthouse_report.parse_report(report)
    assert result.lcp_element == (
        "body > main#tip-page > h1#tip-text 'This is your best hour. Start the task you have been putting off, now.'"
    )
    assert result.lcp_phases == {"Time to first byte": 6.635, "Element render delay": 234.033}


def test_a_report_says_what_the_bytes_are(report: dict[str, Any]) -> None:
    result = lighthouse_report.parse_report(report)
    assert [transfer.path for transfer in result.transfers[:2]] == [
        "/assets/entry.client-DMqNtF3h.js",
        "/assets/components-BkVO-4Gy.js",
    ]
    assert result.bytes_by_type() == {"Script": 65836 + 28829, "Other": 3080 + 8668, "Document": 5501}


def test_a_lighthouse_13_report_names_the_lcp_element_from_the_breakdown(report: dict[str, Any]) -> None:
    del report["audits"]["largest-contentful-paint-element"]  # 13.x dropped it for the insight
    assert lighthouse_report.parse_report(report).lcp_element.startswith("body > main#tip-page > h1#tip-text ")


def test_an_lcp_node_gone_from_the_page_is_reported_as_such(report: dict[str, Any]) -> None:
    report["audits"]["largest-contentful-paint-element"] = {"scoreDisplayMode": "notApplicable"}
    report["audits"]["lcp-breakdown-insight"]["details"]["items"].pop()  # the node entry
    assert lighthouse_report.parse_report(report).lcp_element == lighthouse_report.NO_LCP_NODE


def test_a_failed_run_is_an_error_not_figures(report: dict[str, Any]) -> None:
    report["runtimeError"] = {"code": "NO_FCP", "message": "The page did not paint any content."}
    with pytest.raises(ValueError, match="did not paint"):
        lighthouse_report.parse_report(report)


def test_the_median_run_is_the_one_with_the_median_performance(report: dict[str, Any]) -> None:
    runs = []
    for performance in (0.91, 0.99, 0.95):
        variant = copy.deepcopy(report)
        variant["categories"]["performance"]["score"] = performance
        runs.append(lighthouse_report.parse_report(variant))
    assert lighthouse_report.median_run(runs).scores["performance"] == 95


def test_the_printout_names_the_lcp_element_and_the_bytes(report: dict[str, Any]) -> None:
    result = lighthouse_report.parse_report(report)
    lines = lighthouse_report.describe(result, [result])
    assert lines[0] == "  scores: performance 97, accessibility 100, best-practices 100, seo 100"
    assert "  observed, not throttled: LCP 0.24 s, FCP 0.24 s" in lines
    assert "  bytes by type: Script 92 KiB, Other 11 KiB, Document 5 KiB" in lines
    assert not any(line.startswith("  over ") for line in lines), "no spread for a single run"


def test_targets_are_judged_per_preset(report: dict[str, Any]) -> None:
    result = lighthouse_report.parse_report(report)  # performance 97, LCP 2.26 s, accessibility 100
    mobile, desktop = lighthouse_report.verdicts("mobile", result), lighthouse_report.verdicts("desktop", result)
    assert mobile == "performance >= 95 met, LCP <= 2.0 s MISSED, accessibility >= 95 met"
    assert desktop == "performance >= 100 MISSED, LCP <= 0.8 s MISSED, accessibility >= 95 met"
