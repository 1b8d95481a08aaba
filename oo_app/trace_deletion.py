"""Deleting MLflow traces, in every experiment of the store (MLflow's Default and deleted ones included): a person's
(account deletion, :mod:`oo_app.profile.deletion`) and the old ones (retention, :mod:`oo_app.retention`).

Unlike tip tracing, these raise (``MlflowException``, ``OSError``, ...) when the store cannot be used: the caller
decides what that means. Imports mlflow (seconds): import it only where traces are deleted, never at app import.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from oo_app import tracking
from oo_app.settings import get_settings

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # read when mlflow is imported, so set before
import mlflow

log = logging.getLogger(__name__)

TRACE_PAGE = 100  # traces per search page and per deletion request


def _experiment_ids(client: mlflow.MlflowClient) -> list[str]:
    """Every experiment of the store, deleted ones included (their traces stay until MLflow's garbage collection)."""
    ids: list[str] = []
    page_token = None
    while True:
        page = client.search_experiments(
            view_type=mlflow.entities.ViewType.ALL, max_results=1000, page_token=page_token
        )
        ids.extend(experiment.experiment_id for experiment in page)
        page_token = page.token
        if not page_token:
            return ids


def _traces(client: mlflow.MlflowClient, experiment_id: str, filter_string: str, spans: bool) -> Iterator[Any]:
    page_token = None
    while True:
        page = client.search_traces(
            locations=[experiment_id],
            filter_string=filter_string,
            max_results=TRACE_PAGE,
            page_token=page_token,
            include_spans=spans,
        )
        yield from page
        page_token = page.token
        if not page_token:
            return


def _open_existing_store() -> mlflow.MlflowClient | None:
    """The client of the configured store, flushed; None when it is a SQLite file that does not exist (no trace)."""
    database = tracking.sqlite_store_file(get_settings().mlflow_tracking_uri)
    if database is not None and not database.exists():
        return None
    tracking.configure()
    tracking.flush()  # a trace still queued for export would escape the search
    return mlflow.MlflowClient()


def delete_user_traces(user_id: int) -> int:
    """Delete every trace of person ``user_id`` from every experiment of the store (MLflow's Default included, and
    deleted experiments); how many went.

    A trace is theirs when its tag ``oo.user_id``, its trace user or a span attribute ``oo.user_id`` is that id. A
    SQLite store that does not exist holds no trace: 0, and nothing is created. Unlike tip tracing this raises
    (``MlflowException``, ``OSError``, ...) when the store cannot be used: the caller decides what that means.
    """
    client = _open_existing_store()
    if client is None:
        return 0
    value = str(int(user_id))

    def theirs(experiment_id: str) -> list[str]:
        found: set[str] = set()
        # The trace user is the metadata `update_current_trace(user=...)` writes beside the tags.
        for filter_string in ("tag.`oo.user_id` = '{0}'", "metadata.`mlflow.trace.user` = '{0}'"):
            found.update(
                t.info.trace_id for t in _traces(client, experiment_id, filter_string.format(value), spans=False)
            )
        # A trace whose tagging failed still carries the id on its root span: LIKE narrows, the attribute decides.
        try:
            for trace in _traces(client, experiment_id, f"span.attributes.`oo.user_id` LIKE '%{value}%'", spans=True):
                if any(str(span.attributes.get("oo.user_id")) == value for span in trace.data.spans):
                    found.add(trace.info.trace_id)
        except mlflow.exceptions.MlflowException as error:
            log.warning("this trace store cannot search span attributes (%s); deleting by tag only", error)
        return sorted(found)

    deleted = 0
    for experiment_id in _experiment_ids(client):
        ids = theirs(experiment_id)
        for start in range(0, len(ids), TRACE_PAGE):
            deleted += client.delete_traces(experiment_id, trace_ids=ids[start : start + TRACE_PAGE])
    log.info("deleted %d MLflow traces of user %s", deleted, user_id)
    return deleted


def delete_traces_before(before: datetime, batch: int, *, dry_run: bool = False) -> int:
    """Delete every trace started before ``before`` in every experiment of the store, at most ``batch`` per request;
    how many went (a dry run counts them and deletes nothing). A SQLite store that does not exist holds none. Raises
    like :func:`delete_user_traces` when the store cannot be used."""
    client = _open_existing_store()
    if client is None:
        return 0
    cutoff_ms = int(before.timestamp() * 1000)
    total = 0
    for experiment_id in _experiment_ids(client):
        if dry_run:
            total += sum(1 for _ in _traces(client, experiment_id, f"trace.timestamp_ms < {cutoff_ms}", spans=False))
            continue
        while deleted := client.delete_traces(experiment_id, max_timestamp_millis=cutoff_ms, max_traces=batch):
            total += deleted
    return total
