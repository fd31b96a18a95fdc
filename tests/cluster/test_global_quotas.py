"""Quotas are global across the processes of a cluster (issue 22, ADR 2203).

Two ``Limits`` exchanging usage through one real PostgreSQL table, then two real
``sovra up`` processes: a principal that spent its requests-per-minute through one
process is refused (429) by the other.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from sovra.ai.limits import Limits, LimitSettings
from sovra.ai.shared_quota import SharedQuotas
from sovra.errors import QuotaExceededError
from sovra.store.engine import make_engine
from sovra.store.local_postgres import LocalPostgres
from sovra.store.migrate import upgrade
from tests.cluster.cluster import sovra_cluster

pytestmark = [pytest.mark.postgres]

SMOL = "SmolLM2-135M-Instruct"


def test_usage_in_one_process_is_charged_in_the_other(postgres_server: LocalPostgres
                                                      ) -> None:
    engine = make_engine(postgres_server.create_database())
    upgrade(engine)
    settings = LimitSettings(requests_per_minute=4, tokens_per_minute=1000,
                             concurrent_per_principal=10)
    a, b = Limits(settings), Limits(settings)
    share_a, share_b = SharedQuotas(engine, a), SharedQuotas(engine, b)
    try:
        share_a.exchange()
        share_b.exchange()  # both started: what follows is charged
        for _ in range(3):
            a.admit("alice")
            a.release("alice", 100)
        b.admit("alice")  # b's own fourth
        b.release("alice", 0)
        b.admit("bob")  # another principal is not charged for alice
        b.release("bob", 0)
        share_a.exchange()
        share_b.exchange()
        share_a.exchange()
        with pytest.raises(QuotaExceededError, match="requests-per-minute"):
            b.admit("alice")
        with pytest.raises(QuotaExceededError, match="requests-per-minute"):
            a.admit("alice")
        b.admit("bob")
    finally:
        engine.dispose()


def test_a_failed_exchange_keeps_the_usage_for_the_next(postgres_server: LocalPostgres
                                                        ) -> None:
    url = postgres_server.create_database()
    engine = make_engine(url)
    upgrade(engine)
    limits = Limits(LimitSettings(requests_per_minute=10))
    share = SharedQuotas(engine, limits)
    try:
        share.exchange()
        limits.admit("carol")
        limits.release("carol", 7)
        broken = SharedQuotas(make_engine(url.rsplit("/", 1)[0] + "/no_such_db"), limits)
        broken.exchange()  # fails, keeps carol's usage
        share.exchange()
        with engine.connect() as conn:
            row = conn.execute(text("SELECT requests, tokens FROM ai_quota_usage "
                                    "WHERE principal_id = 'carol'")).one()
        assert tuple(row) == (1, 7)
    finally:
        engine.dispose()


@pytest.mark.e2e
@pytest.mark.slow
def test_two_processes_share_one_requests_per_minute_quota(
        tmp_path: Path, postgres_server: LocalPostgres) -> None:
    database_url = postgres_server.create_database()
    env = {"SOVRA_AI_REQUESTS_PER_MINUTE": "3"}
    with sovra_cluster(tmp_path / "data", database_url, count=2, extra_env=env) as (a, b):
        body = {"model": SMOL, "max_tokens": 1, "temperature": 0,
                "messages": [{"role": "user", "content": "Hi"}]}
        for _ in range(3):
            answer = httpx.post(a.v1 + "/chat/completions", json=body, headers=a.headers(),
                                timeout=120)
            assert answer.status_code == 200, answer.text
        # Process A has sent its usage once the shared row shows it; B reads it on its
        # next exchange (every 0.5 s), so its *first* chat must be refused: B alone has
        # admitted nothing for this principal and would let it through.
        engine = make_engine(database_url)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    sent = conn.execute(text("SELECT coalesce(sum(requests), 0) FROM "
                                             "ai_quota_usage")).scalar_one()
                if sent >= 3:
                    break
                time.sleep(0.1)
        finally:
            engine.dispose()
        assert sent >= 3
        time.sleep(2.0)
        refused = httpx.post(b.v1 + "/chat/completions", json=body,
                             headers=b.headers(a.admin_key), timeout=120)
        assert refused.status_code == 429, refused.text
        assert "requests-per-minute" in refused.text
