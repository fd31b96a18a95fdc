"""The FastAPI app factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

import sovra
from sovra.ai import AdmissionMiddleware
from sovra.api.auth import DecisionMemo
from sovra.api.deps import RefuseHostileInput
from sovra.api.errors import install_error_handlers
from sovra.api.request_log import RequestIdMiddleware
from sovra.api.routers import analytics as analytics_routes
from sovra.api.routers import assessment as assessment_routes
from sovra.api.routers import compliance as compliance_routes
from sovra.api.routers import continuity as continuity_routes
from sovra.api.routers import data as data_routes
from sovra.api.routers import health, home, ledger, metrics
from sovra.api.routers import identity as identity_routes
from sovra.api.routers import keys as keys_routes
from sovra.api.routers import lockbox as lockbox_routes
from sovra.api.routers import openai as openai_routes
from sovra.api.routers import placement as placement_routes
from sovra.api.routers import policy as policy_routes
from sovra.api.routers import threat as threat_routes
from sovra.api.routers import transfer as transfer_routes
from sovra.api.routers.openai_hot import ChatHotPath
from sovra.console import CONSOLE_PATH, console_app
from sovra.continuity import BackupSchedule
from sovra.instance import Instance


def create_app(instance: Instance, *, close_instance_on_shutdown: bool = False) -> FastAPI:
    """Build the app around an already opened instance."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Incremental threat hunts on a schedule while the server runs (sovra.threat).
        instance.threat.schedule(instance.settings.threat_hunt_interval_s)
        # Backups on a schedule while the server runs (sovra.continuity; 0 = off).
        backups = BackupSchedule.start(instance)
        yield
        await asyncio.to_thread(backups.stop)  # a backup in progress finishes first
        await instance.ai.aclose()
        if close_instance_on_shutdown:
            instance.close()

    app = FastAPI(
        title="Sovra",
        version=sovra.__version__,
        description="Sovereign AI cloud: governed local AI, keys you hold, a verifiable ledger.",
        lifespan=lifespan,
        # FastAPI's pages load their scripts from a CDN: blank when offline. home.install
        # serves the same pages with assets from this server (issue 15).
        docs_url=None,
        redoc_url=None,
        # Sovra exports no OpenTelemetry (the ledger is its record; air-gapped sites have
        # no collector); left on, FastAPI looks up the global providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # Before every route's own dependencies (authorization included): hostile values
        # (NUL, lone surrogates, integers beyond 64 bits) never reach storage (issue 13).
        dependencies=[Depends(RefuseHostileInput())],
    )
    app.state.instance = instance
    # The routes' decision memo, owned by this app rather than by module-level routes.
    app.state.decisions = DecisionMemo()
    install_error_handlers(app)
    # The chat hot path (ADR 0606) inside admission: added first, so it is the inner one.
    app.add_middleware(ChatHotPath)
    # The instance's one in-flight limit: the gateway's door (ADR 0609).
    app.add_middleware(AdmissionMiddleware, door=instance.ai.door)
    # Outermost: counts every answer, refusals by admission included (GET /metrics).
    app.state.metrics = metrics.Metrics(instance)
    app.add_middleware(metrics.MetricsMiddleware, metrics=app.state.metrics)
    # Outside the metrics: every answer, refusals included, carries its X-Request-ID,
    # and every log line written while it runs names it (sovra.api.request_log).
    app.add_middleware(RequestIdMiddleware)
    # First: /v1 is the hot path, and routes are matched in order.
    app.include_router(openai_routes.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(ledger.router)
    app.include_router(identity_routes.router)
    app.include_router(keys_routes.router)
    app.include_router(policy_routes.router)
    app.include_router(transfer_routes.router)
    app.include_router(data_routes.router)
    app.include_router(analytics_routes.router)
    app.include_router(continuity_routes.router)
    app.include_router(lockbox_routes.router)
    app.include_router(placement_routes.router)
    app.include_router(assessment_routes.router)
    app.include_router(compliance_routes.router)
    app.include_router(threat_routes.router)
    home.install(app)
    # The console (issue 23): pages over the same services and authorization.
    app.mount(CONSOLE_PATH, console_app(instance))
    return app
