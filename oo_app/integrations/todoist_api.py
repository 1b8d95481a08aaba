"""Todoist's API v1 as oO reads it (httpx): completed tasks by completion date, open tasks, projects, the Sync API.

Every request carries the bearer token and a timeout. Todoist's answers become domain errors a sync can act on:
401 is :class:`TokenRefused` (a refresh may cure it), 403 is :class:`ReauthNeeded` (access revoked or scope missing),
429 is :class:`RateLimited` with Todoist's ``Retry-After``, 5xx, a silence or a body outside the contract is
:class:`ProviderUnavailable`; a sync token Todoist refuses (HTTP 400 to an incremental sync) is
:class:`SyncTokenRejected`. Nothing here reads or writes the database.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

import httpx

from oo_app.integrations.errors import (
    ProviderUnavailable,
    RateLimited,
    ReauthNeeded,
    SyncTokenRejected,
    TokenRefused,
)

# Todoist answers completions of at most three months per request; 89 days fit in any three calendar months.
COMPLETED_WINDOW = timedelta(days=89)
PAGE_LIMIT = 200  # Todoist's maximum page size
MAX_PAGES = 1000  # a guard against a cursor that never ends
FULL_SYNC = "*"
RECONNECT = "reconnect Todoist from the settings page"


def _retry_after(response: httpx.Response) -> float | None:
    """Todoist's ``Retry-After`` in seconds (it sends a number); None when absent or unreadable."""
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


def check_answer(response: httpx.Response, path: str) -> dict[str, Any]:
    """The JSON object of a 200 answer, or the domain error its status means."""
    status = response.status_code
    if status == 401:
        raise TokenRefused(f"Todoist no longer accepts oO's access; {RECONNECT}")
    if status == 403:
        raise ReauthNeeded(f"Todoist refuses oO's access (revoked, or the read permission is missing); {RECONNECT}")
    if status == 429:
        raise RateLimited("Todoist asked oO to slow down; oO tries again later", _retry_after(response))
    if status != 200:
        raise ProviderUnavailable(f"Todoist answered HTTP {status} to {path}; oO tries again later")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ProviderUnavailable(f"Todoist answered {path} with something that is not a JSON object")
    return body


def api_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class TodoistAPI:
    """The read-only part of Todoist's API v1 a sync needs, for one access token; use it as a context manager."""

    def __init__(self, base_url: str, access_token: str, timeout_s: float) -> None:
        self._client = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=httpx.Timeout(timeout_s),
        )
        self._timeout_s = timeout_s

    def __enter__(self) -> TodoistAPI:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._client.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise ProviderUnavailable(
                f"Todoist did not answer ({type(error).__name__}); oO tries again later"
            ) from None

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        return check_answer(self._request("GET", path, params=params), path)

    def _pages(self, path: str, field: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a cursor-paginated list (``{field: [...], "next_cursor": ...}``)."""
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = self._get(path, {**params, "limit": PAGE_LIMIT, **({"cursor": cursor} if cursor else {})})
            items = page.get(field)
            if not isinstance(items, list):
                raise ProviderUnavailable(f"Todoist answered {path} without its list of {field}")
            yield from (item for item in items if isinstance(item, dict))
            cursor = page.get("next_cursor")
            if not cursor:
                return
        raise ProviderUnavailable(f"Todoist kept paginating {path} past {MAX_PAGES} pages")

    def bounded_pages(
        self, path: str, field: str, deadline: float, max_pages: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """The items of at most ``max_pages`` pages of a cursor-paginated list, read before ``deadline`` (a
        :func:`time.monotonic` instant), and whether the list ended there. Each request waits at most until the
        deadline; running out of time raises :class:`ProviderUnavailable`."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(max_pages):
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProviderUnavailable(f"Todoist did not answer {path} within oO's time budget")
            params = {"limit": PAGE_LIMIT, **({"cursor": cursor} if cursor else {})}
            response = self._request("GET", path, params=params, timeout=min(left, self._timeout_s))
            page = check_answer(response, path)
            found = page.get(field)
            if not isinstance(found, list):
                raise ProviderUnavailable(f"Todoist answered {path} without its list of {field}")
            items.extend(item for item in found if isinstance(item, dict))
            cursor = page.get("next_cursor")
            if not cursor:
                return items, True
        return items, False

    def open_tasks(self, deadline: float, max_pages: int) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """The person's open tasks (``GET tasks``, at most ``max_pages`` pages) and the names of their active
        projects, all read before ``deadline`` (see :meth:`bounded_pages`)."""
        tasks, _ = self.bounded_pages("tasks", "results", deadline, max_pages)
        projects, _ = self.bounded_pages("projects", "results", deadline, max_pages)
        names = {str(p["id"]): str(p.get("name") or "") for p in projects if p.get("id") is not None}
        return tasks, names

    def project_names(self) -> dict[str, str]:
        """Project id -> name, over active and archived projects (completed tasks may lie in either)."""
        names: dict[str, str] = {}
        for path in ("projects", "projects/archived"):
            for project in self._pages(path, "results", {}):
                if project.get("id") is not None:
                    names[str(project["id"])] = str(project.get("name") or "")
        return names

    def completed(self, since: datetime, until: datetime) -> Iterator[dict[str, Any]]:
        """Tasks completed between ``since`` and ``until``, read in windows Todoist accepts."""
        start = since
        while start < until:
            end = min(start + COMPLETED_WINDOW, until)
            params = {"since": api_time(start), "until": api_time(end)}
            yield from self._pages("tasks/completed/by_completion_date", "items", params)
            start = end

    def sync(self, sync_token: str, resource_types: list[str]) -> dict[str, Any]:
        """One call of the Sync API: everything (``sync_token="*"``) or what changed since ``sync_token``.

        The answer carries the next ``sync_token``; a refused token raises :class:`SyncTokenRejected`.
        """
        form = {"sync_token": sync_token, "resource_types": json.dumps(resource_types)}
        response = self._request("POST", "sync", data=form)
        if response.status_code == 400 and sync_token != FULL_SYNC:
            raise SyncTokenRejected("Todoist no longer accepts the sync token; the next sync reads everything again")
        body = check_answer(response, "sync")
        if not isinstance(body.get("sync_token"), str) or not body["sync_token"]:
            raise ProviderUnavailable("Todoist answered the sync without a sync token")
        return body
