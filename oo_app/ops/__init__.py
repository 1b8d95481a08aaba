"""Operations: what an operator reads of a running oO. ``health`` (GET /health), ``metrics`` (Prometheus, GET
/metrics) and ``logs`` (one logging setup, JSON in production, with the request id). Nothing here changes a tip."""
