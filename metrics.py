"""What Shuyuan counts for its operators, in Prometheus's format: requests, holds, sold-out
answers, payments and webhooks. The domain counts; web.observe serves /metrics.

With several uvicorn workers each process writes its samples to PROMETHEUS_MULTIPROC_DIR
(`shuyuan serve` sets it and empties it at start), and a scrape of any worker adds them all
up; one process keeps them in memory.
"""

from __future__ import annotations

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST

REQUEST_SECONDS = Histogram(
    "shuyuan_request_seconds",
    "Time to answer a request, by route (the endpoint's name), method and status class",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HOLDS = Counter(
    "shuyuan_holds",
    "Store holds tried, by outcome (held, sold_out, limit_exceeded, unauthorized) and engine",
    ["outcome", "engine"],
)
SOLD_OUT_ANSWERS = Counter(
    "shuyuan_sold_out_answers",
    "Orders answered sold out, by where the answer came from (memory, database)",
    ["source"],
)
SEAT_HOLDS = Counter(
    "shuyuan_seat_holds", "Enrollment seats held or refused, by outcome", ["outcome"]
)
PAYMENTS = Counter(
    "shuyuan_payments",
    "Payment attempts by outcome (succeeded, requires_action, failed, pending, refused, "
    "unavailable)",
    ["outcome"],
)
WEBHOOKS = Counter(
    "shuyuan_webhooks",
    "Provider webhooks by outcome (applied, duplicate, ignored, unknown_payment, "
    "bad_signature, bad_event)",
    ["outcome"],
)


def exposition() -> bytes:
    """Every metric of this process, or of every worker when they share a directory."""
    registry = CollectorRegistry()
    try:
        # Reads PROMETHEUS_MULTIPROC_DIR itself; without it there is one process to report.
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    except ValueError:
        return generate_latest(REGISTRY)
    return generate_latest(registry)


JOB_SECONDS = Histogram(
    "shuyuan_job_seconds",
    "Time a background job's run took, by job and outcome",
    ["job", "outcome"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0),
)
JOBS = Gauge(
    "shuyuan_jobs",
    "Jobs in the queue by status (todo, doing, failed...), as of the scrape",
    ["status"],
    multiprocess_mode="mostrecent",
)
JOB_OVERDUE = Gauge(
    "shuyuan_job_overdue",
    "1 when a periodic job's last success is more than three periods old (or it never ran)",
    ["job"],
    multiprocess_mode="mostrecent",
)
JOB_SINCE_SUCCESS = Gauge(
    "shuyuan_job_seconds_since_success",
    "Seconds since a periodic job last succeeded, as of the scrape (absent: never)",
    ["job"],
    multiprocess_mode="mostrecent",
)
