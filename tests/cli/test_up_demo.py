"""``sovra up --demo`` (the README's quick start): the server starts with the sample
collection loaded, and a restart with ``--demo`` adds nothing twice."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.server import sovra_up

pytestmark = pytest.mark.e2e


def test_up_demo_serves_the_sample_collection(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with sovra_up(data, args=("--demo",)) as server:
        shown = "".join(server.output)
        assert "demo collection 'demo': 3 sample documents (3 new)" in shown
        listed = httpx.get(f"{server.url}/data/collections", headers=server.headers(),
                           timeout=30)
        assert listed.status_code == 200
        assert "demo" in {c["id"] for c in listed.json()}, listed.text
        documents = httpx.get(f"{server.url}/data/collections/demo/documents",
                              headers=server.headers(), timeout=30)
        assert documents.status_code == 200
        assert [d["collection_id"] for d in documents.json()] == ["demo"] * 3
        admin_key = server.admin_key
    with sovra_up(data, args=("--demo",), admin_key=admin_key) as again:
        assert "demo collection 'demo': 3 sample documents (0 new)" in "".join(again.output)
