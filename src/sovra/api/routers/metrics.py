"""Prometheus metrics at ``/metrics`` (prometheus-client text format).

What an operator of a cluster graphs and alerts on: requests and their latency per route
template and method, answers per status class, quota refusals (HTTP 429), the ledger's
size (its ``rate()`` is the append rate) and queue depth, the seal state, and database
reachability. Labels are route *templates* (``/v1/sovra/collections/{collection_id}``),
never concrete paths, and nothing reads a request or answer body: no prompt, document
text, principal or key ever becomes a label (docs/cluster.md).

Each app has its own ``CollectorRegistry`` (no process-global state), so two apps in one
test process do not share counts. The endpoint is public like ``/healthz``: bind it to the
scraper's network (docs/cluster.md).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sovra.instance import Instance

router = APIRouter(tags=["health"])

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """The registry and the HTTP instruments of one app."""

    def __init__(self, instance: Instance) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("sovra_http_requests", "HTTP requests answered",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("sovra_http_request_duration_seconds",
                                 "Time to answer, per route template", ["route", "method"],
                                 buckets=_BUCKETS, registry=self.registry)
        self.quota_refusals = Counter("sovra_quota_refusals",
                                      "Requests refused with 429 (quotas, rate limits)",
                                      ["route"], registry=self.registry)
        self.registry.register(_InstanceCollector(instance))

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)
        if status == 429:
            self.quota_refusals.labels(route).inc()


class _InstanceCollector(Collector):
    """Read at scrape time: what the instance knows, without touching the database."""

    def __init__(self, instance: Instance) -> None:
        self._instance = instance

    def collect(self) -> Iterable[Metric]:
        ledger = self._instance.ledger
        yield GaugeMetricFamily("sovra_ledger_entries",
                                "Entries in this process's view of the ledger; rate() of "
                                "it is the append rate", value=ledger.size)
        yield GaugeMetricFamily("sovra_ledger_queue_depth",
                                "Appends waiting for this process's ledger writer",
                                value=ledger.queue_depth)
        yield GaugeMetricFamily("sovra_ledger_refusing",
                                "1 while the ledger refuses appends (integrity problem)",
                                value=0 if ledger.integrity_problem is None else 1)
        status = self._instance.keys.custody.status()
        yield GaugeMetricFamily("sovra_sealed", "1 while the instance is sealed",
                                value=1 if status.sealed else 0)
        changes = self._instance.changes
        yield GaugeMetricFamily("sovra_change_feed_listening",
                                "1 while this process listens for other processes' changes "
                                "(PostgreSQL only)",
                                value=1 if changes is not None and changes.listening else 0)


class MetricsMiddleware:
    """Pure ASGI: counts and times every HTTP answer by its route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception before the answer started is a 500 to the client

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, sending)
        finally:
            self._metrics.observe(_route(scope), scope["method"], status,
                                  time.perf_counter() - started)


# Paths answered before routing (the chat hot path, ADR 0606): fixed, hold no ids.
_UNROUTED = frozenset({"/v1/chat/completions", "/v1/completions", "/v1/embeddings",
                       "/v1/models"})


def _route(scope: Scope) -> str:
    """The matched route's template; never the concrete path (it may hold ids)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    return scope["path"] if scope["path"] in _UNROUTED else "unmatched"


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
