"""Liveness and readiness. Public by design: they reveal that the process answers, whether
it is sealed (as ``/sys/seal-status`` does) and whether its database answers, nothing more.

* ``/healthz`` and ``/livez``: liveness. The process answers; a sealed instance or an
  unreachable database is still alive (restarting it would not help, and a restarted
  process would have to be unsealed again), so an orchestrator must not kill it for that.
* ``/readyz``: readiness, for a load balancer (deploy/haproxy/sovra.cfg) or a Kubernetes
  readiness probe. 200 only when the keys are unsealed, the database answers and the
  ledger accepts appends; otherwise 503 naming each failing check separately, so an
  operator tells "sealed" from "database down" at a glance.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

import sovra
from sovra.errors import StorageError
from sovra.instance import Instance

router = APIRouter(tags=["health"])

_DATABASE_TIMEOUT_S = 2.0  # a probe that hangs is a failed probe


@dataclass(frozen=True)
class Readiness:
    """Each check's state, and whether all of them allow serving."""

    seal: str  # "unsealed" | "sealed"
    database: str  # "ok" | "unreachable: <error type>"
    ledger: str  # "ok" | "refusing appends: <reason>"

    @property
    def ready(self) -> bool:
        return self.seal == "unsealed" and self.database == "ok" and self.ledger == "ok"


def _database(instance: Instance) -> str:
    try:
        with instance.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, StorageError) as exc:
        # The engine turns a lost server into StorageUnavailableError (ADR 2200); name
        # the driver's error under it, as before.
        return f"unreachable: {type(exc.__cause__ or exc).__name__}"
    return "ok"


async def readiness(instance: Instance) -> Readiness:
    """Check seal, database and ledger without blocking the event loop."""
    try:
        database = await asyncio.wait_for(asyncio.to_thread(_database, instance),
                                          _DATABASE_TIMEOUT_S)
    except TimeoutError:
        database = f"unreachable: no answer within {_DATABASE_TIMEOUT_S:g} s"
    # In a thread too: an instance not initialized yet looks for its ceremony in the DB.
    sealed = await asyncio.to_thread(lambda: instance.keys.custody.status().sealed)
    problem = instance.ledger.integrity_problem
    return Readiness(seal="sealed" if sealed else "unsealed", database=database,
                     ledger="ok" if problem is None else f"refusing appends: {problem}")


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok", "version": sovra.__version__}


@router.get("/livez")
def livez() -> dict[str, str]:
    """Liveness: the process answers (sealed or not, database or not)."""
    return {"status": "alive", "version": sovra.__version__}


@router.get("/readyz", responses={503: {"description": "not ready; each check says why"}})
async def readyz(request: Request) -> JSONResponse:
    """Readiness: 200 when unsealed, the database answers and the ledger appends."""
    state = await readiness(request.app.state.instance)
    body = {"status": "ready" if state.ready else "not ready",
            "checks": {"seal": state.seal, "database": state.database,
                       "ledger": state.ledger}}
    return JSONResponse(body, status_code=200 if state.ready else 503)
