"""Prometheus metrics: one registry for the whole process, served at /metrics.

Every counter and histogram is declared here, so the names stay consistent and each piece of
the server only imports what it records. With several uvicorn workers, set
PROMETHEUS_MULTIPROC_DIR to a shared empty folder so /metrics adds up every worker's figures.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "emploi_store_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram(
    "emploi_store_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
GRAPHQL_ERRORS = Counter(
    "emploi_store_graphql_errors_total", "GraphQL errors returned, by extensions.code", ["code"]
)
CACHE = Counter(
    "emploi_store_cache_total", "Response cache and persisted-query lookups", ["cache", "outcome"]
)
RATE_LIMITED = Counter(
    "emploi_store_rate_limited_total", "Requests refused for being over their budget", ["client"]
)
QUERY_COST = Histogram(
    "emploi_store_graphql_query_cost",
    "Computed cost of executed GraphQL operations",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
)
PLANNED = Counter(
    "emploi_store_graphql_planned_total",
    "Query operations offered to planned execution: planned, unplannable (run normally) or abandoned "
    "(an error or null the plan leaves to normal execution)",
    ["outcome"],
)
