"""Waiting until the traces this process queued for MLflow's asynchronous export are written, and no longer.

MLflow's own flush (``mlflow.flush_trace_async_logging``) stops its export thread, waits for that thread's one-second
poll to notice, and does so once per layer: 1 to 2 s even with nothing queued, which every account deletion paid
before it searched for the person's traces. This reads MLflow's export pipeline instead (private names, pinned in
requirements.lock); where it is not shaped as expected, MLflow's own flush runs. Never raises for MLflow's shape.
"""

from __future__ import annotations

import logging
from queue import Queue

import mlflow

log = logging.getLogger(__name__)

TIMEOUT_S = 30.0  # MLflow's own bound for the spans still in memory


def wait_until_exported(timeout_s: float = TIMEOUT_S) -> None:
    """Return once every span that ended before the call is written to the tracking store: the spans still ending
    in other threads and the batches in memory go into the export queues, then each queue is waited for until its
    tasks are done. Falls back to MLflow's own flush when the pipeline is not as expected or does not drain within
    ``timeout_s``."""
    try:
        queues = _flush_into_export_queues(timeout_s)
    except (ImportError, AttributeError) as error:
        log.debug("MLflow's trace export is not shaped as expected (%s); its own flush runs", error)
        mlflow.flush_trace_async_logging()
        return
    if not all(_drained(queue, timeout_s) for queue in queues):
        log.warning("MLflow's trace export queue did not drain within %.0f s; its own flush runs", timeout_s)
        mlflow.flush_trace_async_logging()


def _flush_into_export_queues(timeout_s: float) -> list[Queue]:
    """Push what MLflow's span processors hold into their exporters' queues (as its flush does); those queues."""
    from mlflow.tracing.processor.base_mlflow import _batch_processor_registry, _batch_processor_registry_lock
    from mlflow.tracing.provider import _get_trace_exporter

    with _batch_processor_registry_lock:
        processors = list(_batch_processor_registry)
    exporters = {id(e): e for e in [*(p.span_exporter for p in processors), _get_trace_exporter()] if e is not None}
    for processor in processors:
        ending = processor._pending_on_end_condition
        with ending:
            ending.wait_for(lambda processor=processor: processor._pending_on_end_count == 0, timeout_s)
        processor.force_flush(int(timeout_s * 1000))
    return [exporter._async_queue._queue for exporter in exporters.values() if exporter._async_queue is not None]


def _drained(queue: Queue, timeout_s: float) -> bool:
    """Whether every task put into ``queue`` is done (a trace counts as done once written), waiting ``timeout_s``."""
    with queue.all_tasks_done:
        return queue.all_tasks_done.wait_for(lambda: queue.unfinished_tasks == 0, timeout_s)
