"""Reading a Lighthouse JSON report of the tip page: scores, metrics, the LCP element, bytes; and printing them.

Pure functions over the report's dictionary (``lighthouse --output=json``), for 12.x and 13.x alike; used by
``benchmarks/lighthouse.py`` and tested on a trimmed real report (``tests/fixtures/lighthouse-12-mobile.json``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
PRESETS = ("desktop", "mobile")
# Performance score >= , LCP ms <= : issue 7 asked desktop 98 / 0.8 s and mobile 90 / 2.5 s; issue 18 asks desktop to
# stay 100 and a mobile first visit to score 95 with LCP <= 2.0 s under real throttling (`--throttling devtools`).
TARGETS = {"desktop": (100, 800), "mobile": (95, 2000)}
TARGET_ACCESSIBILITY = 95


# --- reading a report ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transfer:
    path: str
    resource_type: str
    bytes: int


@dataclass(frozen=True)
class LighthouseResult:
    """What one Lighthouse report says about the page; scores 0-100 (None when a category could not be scored)."""

    version: str
    form_factor: str
    throttling: str
    scores: dict[str, int | None]
    lcp_ms: float
    fcp_ms: float
    observed_lcp_ms: float
    observed_fcp_ms: float
    tbt_ms: float
    cls: float
    total_bytes: int
    requests: int
    lcp_element: str
    lcp_phases: dict[str, float] = field(default_factory=dict)
    transfers: list[Transfer] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def bytes_by_type(self) -> dict[str, int]:
        totals: dict[str, int] = defaultdict(int)
        for transfer in self.transfers:
            totals[transfer.resource_type] += transfer.bytes
        return dict(sorted(totals.items(), key=lambda item: -item[1]))


def _first_node(value: Any) -> dict[str, Any] | None:
    """The first ``{"type": "node", ...}`` inside an audit's details (12.x and 13.x nest it differently)."""
    if isinstance(value, dict):
        if value.get("type") == "node":
            return value
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            found = _first_node(item)
            if found is not None:
                return found
    return None


NO_LCP_NODE = "none reported (its node left the page before the audit ended, e.g. a tip painted ahead and replaced)"


def _lcp_element(audits: dict[str, Any]) -> str:
    for audit_id in ("largest-contentful-paint-element", "lcp-breakdown-insight"):
        node = _first_node(audits.get(audit_id, {}).get("details"))
        if node is not None:
            label = " ".join(str(node.get("nodeLabel", "")).split())
            return f"{node.get('selector', '?')} {label!r}"
    return NO_LCP_NODE


def _lcp_phases(audits: dict[str, Any]) -> dict[str, float]:
    details = audits.get("lcp-breakdown-insight", {}).get("details") or {}
    for table in details.get("items", []):
        if isinstance(table, dict) and table.get("type") == "table":
            return {row["label"]: row["duration"] for row in table.get("items", []) if "duration" in row}
    return {}


def _requests(audits: dict[str, Any]) -> list[dict[str, Any]]:
    return (audits.get("network-requests", {}).get("details") or {}).get("items", [])


def _transfers(audits: dict[str, Any]) -> list[Transfer]:
    transfers = [
        Transfer(urlsplit(item["url"]).path or item["url"], item.get("resourceType", "Other"), item["transferSize"])
        for item in _requests(audits)
        if item.get("transferSize")
    ]
    return sorted(transfers, key=lambda transfer: -transfer.bytes)


def parse_report(report: dict[str, Any]) -> LighthouseResult:
    """The figures of a Lighthouse JSON report (``--output=json``); raises ValueError for a failed run."""
    if report.get("runtimeError"):
        raise ValueError(f"Lighthouse failed: {report['runtimeError'].get('message', report['runtimeError'])}")
    audits = report["audits"]

    def value(audit_id: str) -> float:
        return float(audits[audit_id]["numericValue"])

    # Simulated throttling (Lighthouse's default) estimates the metrics from the requests and the CPU work it saw,
    # blind to waits on the websocket; the observed ones are what the browser showed (not slowed unless devtools).
    observed = audits["metrics"]["details"]["items"][0]

    scores = {}
    for category in CATEGORIES:
        score = report["categories"].get(category, {}).get("score")
        scores[category] = None if score is None else round(score * 100)
    return LighthouseResult(
        version=report.get("lighthouseVersion", "?"),
        form_factor=report.get("configSettings", {}).get("formFactor", "?"),
        throttling=report.get("configSettings", {}).get("throttlingMethod", "?"),
        scores=scores,
        lcp_ms=value("largest-contentful-paint"),
        fcp_ms=value("first-contentful-paint"),
        observed_lcp_ms=float(observed["observedLargestContentfulPaint"]),
        observed_fcp_ms=float(observed["observedFirstContentfulPaint"]),
        tbt_ms=value("total-blocking-time"),
        cls=value("cumulative-layout-shift"),
        total_bytes=int(value("total-byte-weight")),
        requests=len(_requests(audits)),
        lcp_element=_lcp_element(audits),
        lcp_phases=_lcp_phases(audits),
        transfers=_transfers(audits),
        warnings=[str(warning) for warning in report.get("runWarnings", [])],
    )


def median_run(results: list[LighthouseResult]) -> LighthouseResult:
    """The run with the median performance score (the slower LCP among equals), as Lighthouse's docs advise."""
    if not results:
        raise ValueError("no runs")
    ordered = sorted(results, key=lambda result: (result.scores["performance"] or 0, -result.lcp_ms))
    return ordered[(len(ordered) - 1) // 2]


# --- printing ------------------------------------------------------------------------------------------------------


def _score(value: int | None) -> str:
    return "n/a" if value is None else str(value)


def _kib(size: float) -> str:
    return f"{size / 1024:.0f} KiB"


def describe(result: LighthouseResult, runs: list[LighthouseResult]) -> list[str]:
    """The lines printed for one preset and visit: the median run, and the spread of the runs."""
    scores = ", ".join(f"{category} {_score(result.scores[category])}" for category in CATEGORIES)
    performance = [r.scores["performance"] or 0 for r in runs]
    lcps = [r.lcp_ms / 1000 for r in runs]
    lines = [
        f"  scores: {scores}",
        f"  LCP {result.lcp_ms / 1000:.2f} s, FCP {result.fcp_ms / 1000:.2f} s, TBT {result.tbt_ms:.0f} ms, "
        f"CLS {result.cls:.3f}, bytes {_kib(result.total_bytes)} transferred in {result.requests} requests",
        f"  observed{', not throttled' if result.throttling == 'simulate' else ''}: "
        f"LCP {result.observed_lcp_ms / 1000:.2f} s, FCP {result.observed_fcp_ms / 1000:.2f} s",
    ]
    if len(runs) > 1:
        lines.append(
            f"  over {len(runs)} runs: performance {min(performance)}-{max(performance)}, "
            f"LCP {min(lcps):.2f}-{max(lcps):.2f} s"
        )
    lines.append(f"  LCP element: {result.lcp_element}")
    if result.lcp_phases:
        lines.append("  LCP phases: " + ", ".join(f"{name} {ms:.0f} ms" for name, ms in result.lcp_phases.items()))
    by_type = ", ".join(f"{kind} {_kib(size)}" for kind, size in result.bytes_by_type().items())
    lines.append(f"  bytes by type: {by_type or 'none (every request answered from a cache)'}")
    largest = ", ".join(f"{t.path} {_kib(t.bytes)}" for t in result.transfers[:3])
    if largest:
        lines.append(f"  largest transfers: {largest}")
    lines.extend(f"  warning: {warning}" for warning in result.warnings)
    return lines


def verdicts(preset: str, result: LighthouseResult) -> str:
    min_performance, max_lcp_ms = TARGETS[preset]
    checks = [
        ("performance", (result.scores["performance"] or 0) >= min_performance, f">= {min_performance}"),
        ("LCP", result.lcp_ms <= max_lcp_ms, f"<= {max_lcp_ms / 1000:.1f} s"),
        ("accessibility", (result.scores["accessibility"] or 0) >= TARGET_ACCESSIBILITY, f">= {TARGET_ACCESSIBILITY}"),
    ]
    return ", ".join(f"{name} {target} {'met' if ok else 'MISSED'}" for name, ok, target in checks)
