"""Issue 13 / ADR 0405: one SQLite library per process, and files from before it migrate.

Two SQLite libraries in one process drop each other's POSIX locks (sqlite.org, "How To
Corrupt An SQLite Database File" §2.2.1). The data room used pysqlite3's SQLite beside
CPython's; now every engine on the file must be CPython's ``sqlite3``, and an instance
whose vectors sit in the old sqlite-vec table gets them moved by migration data_0002.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from sovra.instance import Instance
from sovra.store import make_engine, upgrade
from tests.data.conftest import ADMIN, spec


def test_every_engine_on_the_file_uses_cpythons_sqlite3(data: Instance) -> None:
    core = data.data.core
    if core.engine.dialect.name != "sqlite":
        assert core.engine is data.engine  # PostgreSQL: the instance engine as is
        return
    assert core.engine.dialect.dbapi is sqlite3.dbapi2
    assert data.engine.dialect.dbapi is sqlite3.dbapi2
    data.data.create_collection(ADMIN, spec())
    data.data.ingest(ADMIN, "hr", "a.txt", b"Payroll runs on the last working day.")
    # The driver module that actually opened the connections, not only the dialect's.
    with core.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert isinstance(raw, sqlite3.Connection)  # pysqlite3's is a class of its own
        # Vectors are plain BLOBs beside the terms: no extension table at all.
        stored = conn.execute(text("SELECT count(*) FROM data_chunk_content "
                                   "WHERE length(embedding) = 384 * 4")).scalar_one()
        assert stored >= 1
        assert conn.execute(text("SELECT count(*) FROM sqlite_master "
                                 "WHERE name LIKE 'data_chunks_vec%'")).scalar_one() == 0


_LEGACY_WRITER = textwrap.dedent("""
    # Writes vectors as the data room did before ADR 0405, in a process of its own
    # (pysqlite3 + sqlite-vec), so this test never holds two SQLite libraries itself.
    import sys
    import numpy as np
    import pysqlite3.dbapi2 as sqlite
    import sqlite_vec
    conn = sqlite.connect(sys.argv[1])
    conn.enable_load_extension(True)
    sqlite_vec.load(conn)
    conn.execute("CREATE VIRTUAL TABLE data_chunks_vec USING vec0(chunk_id integer "
                 "primary key, embedding float[384] distance_metric=cosine, "
                 "collection_id text partition key, classification integer)")
    vectors = np.load(sys.argv[2])
    conn.executemany("INSERT INTO data_chunks_vec VALUES (?, ?, 'hr', 0)",
                     [(i + 1, v.astype('<f4').tobytes()) for i, v in enumerate(vectors)])
    conn.commit()
    conn.close()
""")


def _legacy_file(path: Path, vectors: np.ndarray) -> None:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO data_collections (id, owner, purpose, subject_categories, "
                 "data_categories, retention_days, jurisdiction, ceiling, keyring_id, "
                 "wrapped_index_key, generation, created_at, created_by) VALUES ('hr', 'o', "
                 "'p', '[]', '[]', 1, 'EU', 3, 'k', x'00', 1, 0, 'b')")
    conn.execute("INSERT INTO data_documents (id, collection_id, source_key, version, "
                 "content_mac, kind, size_bytes, classification, declared, findings, "
                 "keyring_id, wrapped_key, body, body_sha256, chunk_count, created_at, "
                 "created_by) VALUES ('d', 'hr', 's', 1, 'm', 'text', 0, 0, 0, '{}', 'k', "
                 "x'00', x'00', 'h', 0, 0, 'b')")
    for i in range(len(vectors)):
        conn.execute("INSERT INTO data_chunks (id, document_id, collection_id, chunk_index, "
                     "start_offset, end_offset, classification) VALUES "
                     "(?, 'd', 'hr', ?, 0, 0, 0)", (i + 1, i))
        conn.execute("INSERT INTO data_chunk_content (id, body, terms) VALUES (?, x'00', '')",
                     (i + 1,))
    # Back to the revision before the move, as a file from before ADR 0405 is.
    conn.execute("UPDATE alembic_version SET version_num = 'data_0001' "
                 "WHERE version_num = 'data_0002'")
    conn.commit()
    conn.close()


def test_vectors_in_the_old_sqlite_vec_table_move_to_the_content_rows(tmp_path: Path) -> None:
    pytest.importorskip("sqlite_vec", reason="writing the old layout needs sqlite-vec")
    pytest.importorskip("pysqlite3", reason="writing the old layout needs pysqlite3")
    rng = np.random.default_rng(405)
    # More rows than one vec0 chunk (1,024 slots), so the slot arithmetic is exercised.
    vectors = rng.standard_normal((1100, 384)).astype(np.float32)
    path = tmp_path / "sovra.db"
    _legacy_file(path, vectors)
    np.save(tmp_path / "v.npy", vectors)
    subprocess.run([sys.executable, "-c", _LEGACY_WRITER, str(path), str(tmp_path / "v.npy")],
                   check=True, timeout=120)

    engine = make_engine(f"sqlite:///{path}")
    assert "data_0002" in upgrade(engine)
    engine.dispose()
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT id, embedding FROM data_chunk_content ORDER BY id"
                            ).fetchall()
        moved = np.stack([np.frombuffer(blob, dtype="<f4") for _, blob in rows])
        assert [i for i, _ in rows] == list(range(1, len(vectors) + 1))
        assert np.array_equal(moved, vectors)
        shadows = conn.execute("SELECT name FROM sqlite_master WHERE rootpage > 0 "
                               "AND name GLOB 'data_chunks_vec_*'").fetchall()
        assert shadows == []
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
