"""The operator hub: one query module per notebook of ``admin_notebooks/`` (``overview``, ``agent_health``, ``tips``,
``events``, ``experiments``, ``people``, with ``shared`` and ``mlflow_store`` beside them), ``actions`` for what it
writes (with audit), ``navigation`` between the notebooks and ``server``, the server of ``oo hub`` behind ``guard``.
Nothing here is imported by the app's request path or by ``/metrics``.
"""
