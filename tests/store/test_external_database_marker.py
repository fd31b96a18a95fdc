"""A data directory whose database is PostgreSQL is never opened as an empty SQLite one.

Found by the import-boundary work (issue 14): ``sovra --data-dir`` pointed at a cluster
instance's directory without ``SOVRA_DATABASE_URL`` opened a fresh SQLite file there and
answered "invalid API key", as if the instance were new.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from sovra.config import EXTERNAL_DATABASE_MARKER, load_settings
from sovra.errors import ConfigError
from sovra.instance import open_instance
from sovra.store.local_postgres import LocalPostgres
from tests.e2e.server import sovra_command

pytestmark = pytest.mark.postgres


def test_a_postgresql_instances_data_directory_refuses_to_open_without_the_url(
        tmp_path: Path, postgres_server: LocalPostgres) -> None:
    data_dir = tmp_path / "data"
    url = postgres_server.create_database()
    opened = open_instance(load_settings(data_dir=data_dir, database_url=url,
                                         checkpoint_interval_s=0.0))
    opened.close()
    marker = data_dir / EXTERNAL_DATABASE_MARKER
    recorded = marker.read_text(encoding="utf-8")
    assert recorded.startswith("postgresql")
    password = url.split("://", 1)[1].split("@", 1)[0].partition(":")[2]
    assert not password or password not in recorded  # never the password

    with pytest.raises(ConfigError, match="SOVRA_DATABASE_URL is not set") as refused:
        load_settings(data_dir=data_dir).effective_database_url
    assert recorded.strip() in str(refused.value)
    assert not (data_dir / "sovra.db").exists()  # nothing was created on the way

    # The CLI says the same, and still creates nothing.
    env = {k: v for k, v in os.environ.items() if k != "SOVRA_DATABASE_URL"}
    shown = subprocess.run([*sovra_command(), "--data-dir", str(data_dir), "ledger", "tail"],
                           env=env, capture_output=True, text=True, timeout=120,
                           check=False)
    assert shown.returncode != 0
    assert "SOVRA_DATABASE_URL is not set" in shown.stdout + shown.stderr
    assert not (data_dir / "sovra.db").exists()

    # With the URL, the same directory opens as before.
    again = open_instance(load_settings(data_dir=data_dir, database_url=url,
                                        checkpoint_interval_s=0.0))
    try:
        assert again.ledger.size > 0
    finally:
        again.close()
