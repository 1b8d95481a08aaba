"""Operations: the instruments every layer writes to. ``metrics`` (Prometheus, GET /metrics) and ``logs`` (one logging
setup, JSON in production, with the request id). Nothing here changes a tip, and nothing here imports the layers that
use it; GET /health, which asks all of them, stands above in :mod:`oo_app.health`."""
