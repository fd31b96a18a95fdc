"""Liveness, readiness and /metrics on a real instance (SQLite and PostgreSQL).

Readiness must tell the two reasons a load balancer drops a process apart: sealed keys
and an unreachable database; liveness stays 200 for both (a restart helps neither).
/metrics carries route templates and counts, never request text.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from sovra.api import create_app
from sovra.config import Settings
from sovra.identity import ensure_first_admin
from sovra.instance import Instance, open_instance
from sovra.keys.devmode import start_for_up
from sovra.store.local_postgres import LocalPostgres

SECRET_TEXT = "zebra-unique-prompt-text-4711"


@pytest.fixture
def unsealed(instance: Instance) -> Instance:
    start_for_up(instance.keys)  # development mode: the instance unseals itself
    return instance


def test_ready_when_unsealed_with_a_database(unsealed: Instance) -> None:
    client = TestClient(create_app(unsealed))
    assert client.get("/livez").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"seal": "unsealed", "database": "ok", "ledger": "ok"}


def test_sealed_is_alive_but_not_ready(unsealed: Instance) -> None:
    unsealed.keys.seal(actor="operator")
    client = TestClient(create_app(unsealed))
    assert client.get("/livez").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["seal"] == "sealed"
    assert ready.json()["checks"]["database"] == "ok"


@pytest.mark.postgres
def test_unreachable_database_is_alive_but_not_ready(
        postgres_server: LocalPostgres, settings: Settings) -> None:
    url = postgres_server.create_database()
    opened = open_instance(settings.model_copy(update={"database_url": url}))
    try:
        start_for_up(opened.keys)
        client = TestClient(create_app(opened))
        assert client.get("/readyz").status_code == 200
        name = url.rsplit("/", 1)[1]
        admin = create_engine(postgres_server.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
        assert client.get("/livez").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert checks["database"].startswith("unreachable")
        assert checks["seal"] == "unsealed"
    finally:
        opened.close()


@pytest.fixture
def admin_client(unsealed: Instance) -> Iterator[TestClient]:
    key = ensure_first_admin(unsealed)
    assert key is not None
    with TestClient(create_app(unsealed), headers={"Authorization": f"Bearer {key}"}) as c:
        yield c


def test_metrics_count_routes_by_template_and_carry_no_text(admin_client: TestClient
                                                            ) -> None:
    made = admin_client.post("/identity/principals",
                             json={"principal_id": "p-metrics", "clearance": "internal",
                                   "display_name": SECRET_TEXT})
    assert made.status_code in {201, 422}, made.text
    assert admin_client.get("/identity/principals/p-metrics").status_code in {200, 404}
    body = admin_client.get("/metrics").text
    assert 'sovra_http_requests_total{method="POST",route="/identity/principals"' in body
    assert 'route="/identity/principals/{principal_id}"' in body
    assert "p-metrics" not in body and SECRET_TEXT not in body
    for family in ("sovra_http_request_duration_seconds_bucket", "sovra_ledger_entries",
                   "sovra_ledger_queue_depth", "sovra_sealed 0.0",
                   "sovra_change_feed_listening"):
        assert family in body, family
