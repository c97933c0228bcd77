"""Prometheus metrics at `GET /metrics`, with prometheus-client (docs/operators.md, Metrics).

Off unless METRICS_ENABLED=true. With several workers, prometheus-client's multiprocess mode
keeps each process's values in files of one directory (PROMETHEUS_MULTIPROC_DIR, which `serve`
makes and empties: meet_external/server/serving.py), and a scrape, whichever worker answers it, adds
up the files of all of them.

Every label value comes from a fixed set: operation ids of the API files and a few route
names, as the route table names requests (meet_external/http/routes.py; never a raw path, which
would carry room ids), status codes, denial reasons of the token endpoint, error kinds. So no
secret, token, email or client_id can reach a label.

Per request the cost is two clock reads, one counter and one histogram update on label
children kept in dicts (prometheus-client's `labels()` takes a lock and builds a key each call).
"""

from __future__ import annotations

import threading
import time
from typing import Dict, Tuple

from ..http.base import HttpMiddleware
from ..http.routes import RouteTable

# Seconds; the list answers in a few milliseconds, a token in well under 100 ms.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
OTHER = "other"

_instruments: Instruments | None = None
_lock = threading.Lock()


class Instruments:
    """The process's metrics; prometheus-client's objects, made once per process."""

    def __init__(self, multiprocess_dir: str | None):
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "meet_external_http_requests", "HTTP requests answered, by operation and status.",
            ["operation", "status"], registry=self.registry)
        self.latency = Histogram(
            "meet_external_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by operation.",
            ["operation"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.tokens_issued = Counter(
            "meet_external_tokens_issued", "Access tokens issued.", registry=self.registry)
        self.tokens_denied = Counter(
            "meet_external_tokens_denied", "Token requests refused, by reason (as the audit log).",
            ["reason"], registry=self.registry)
        self.rooms_created = Counter(
            "meet_external_rooms_created", "Rooms created through the API.", registry=self.registry)
        self.database_errors = Counter(
            "meet_external_database_errors",
            "Requests failed by the database: unavailable (answered 503), data (a value it refused, "
            "answered 400) or error (answered 500).",
            ["kind"], registry=self.registry)
        self._requests: Dict[Tuple[str, int], object] = {}
        self._latency: Dict[str, object] = {}

    def observe(self, operation: str, status: int, seconds: float) -> None:
        counter = self._requests.get((operation, status))
        if counter is None:
            counter = self._requests.setdefault(
                (operation, status), self.requests.labels(operation, str(status)))
        counter.inc()
        histogram = self._latency.get(operation)
        if histogram is None:
            histogram = self._latency.setdefault(operation, self.latency.labels(operation))
        histogram.observe(seconds)

    def render(self) -> Tuple[bytes, str]:
        """The exposition text and its media type; with workers, the sum over all of them."""
        from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = self.registry
        if self.multiprocess_dir:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self.multiprocess_dir)
        return generate_latest(registry), CONTENT_TYPE_PLAIN_0_0_4


def enable(multiprocess_dir: str | None) -> Instruments:
    """The process's instruments, made at the first call (prometheus-client allows one set)."""
    global _instruments
    with _lock:
        if _instruments is None:
            _instruments = Instruments(multiprocess_dir)
        return _instruments


def count_event(event: str, reason: str | None = None) -> None:
    """An audit event, counted (meet_external/ops/audit.py calls this for every event it logs)."""
    instruments = _instruments
    if instruments is None:
        return
    if event == "token.issued":
        instruments.tokens_issued.inc()
    elif event == "token.denied":
        instruments.tokens_denied.labels(reason or OTHER).inc()
    elif event == "room.created":
        instruments.rooms_created.inc()


def count_database_error(kind: str) -> None:
    instruments = _instruments
    if instruments is not None:
        instruments.database_errors.labels(kind).inc()


class RequestMetrics(HttpMiddleware):
    """ASGI middleware, outside the error handling: every answer is counted, errors included."""

    def __init__(self, app, instruments: Instruments, routes: RouteTable):
        super().__init__(app)
        self.instruments = instruments
        self.routes = routes

    async def handle(self, scope, receive, send):
        operation = self.routes.name(scope["method"], scope["path"])
        started = time.perf_counter()
        status = 500  # an exception that escapes becomes a 500 further out

        async def send_and_note(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self.instruments.observe(operation, status, time.perf_counter() - started)
