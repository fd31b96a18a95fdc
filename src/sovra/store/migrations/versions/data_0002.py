"""Data: move embedded-profile vectors out of sqlite-vec into ``data_chunk_content``.

Before ADR 0405 the data service opened the SQLite file through a second SQLite library
(pysqlite3) to load sqlite-vec and kept vectors in a ``vec0`` table, ``data_chunks_vec``.
Two SQLite libraries in one process corrupt the file (issue 13), and CPython's sqlite3
cannot load the extension, so this migration, running on CPython's sqlite3 without the
extension, reads the vectors from vec0's ordinary shadow tables (sqlite-vec 0.1.x layout:
``<t>_rowids(rowid, id, chunk_id, chunk_offset)`` names the slot of each row in
``<t>_vector_chunks00(rowid, vectors)``, a BLOB of fixed-size float32 slots), writes each
into ``data_chunk_content.embedding`` - where PostgreSQL already keeps it - and drops the
shadow tables. The ``vec0`` declaration itself cannot be dropped without the extension
(DROP TABLE calls the module); it stays as an inert schema row that nothing reads, and
integrity_check skips it (a virtual table has no b-tree).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "data_0002"
down_revision = "data_0001"
branch_labels = None
depends_on = None

_VEC = "data_chunks_vec"
_SLOT = 384 * 4  # MiniLM-L6-v2: 384 float32 per vector


def _tables(conn: sa.Connection) -> set[str]:
    # GLOB, not LIKE: "_" is a wildcard in LIKE. Shadow tables only (the vec0 row has
    # rootpage 0 and is not dropped; see above).
    return {str(r[0]) for r in conn.execute(sa.text(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND rootpage > 0 "
        "AND name GLOB :p"), {"p": f"{_VEC}_*"})}


def upgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    conn = op.get_bind()
    tables = _tables(conn)
    if {f"{_VEC}_rowids", f"{_VEC}_vector_chunks00"} <= tables:
        blobs = {int(r[0]): bytes(r[1]) for r in conn.execute(sa.text(
            "SELECT rowid, vectors FROM data_chunks_vec_vector_chunks00"))}
        moved = []
        for chunk_id, slot_chunk, offset in conn.execute(sa.text(
                "SELECT rowid, chunk_id, chunk_offset FROM data_chunks_vec_rowids")):
            blob = blobs.get(int(slot_chunk), b"")
            vector = blob[int(offset) * _SLOT:(int(offset) + 1) * _SLOT]
            if len(vector) == _SLOT:
                moved.append({"id": int(chunk_id), "v": vector})
        if moved:
            conn.execute(sa.text("UPDATE data_chunk_content SET embedding = :v "
                                 "WHERE id = :id AND embedding IS NULL"), moved)
    for table in sorted(tables):
        op.execute(f'DROP TABLE "{table}"')


def downgrade() -> None:
    return None  # the vectors stay where both profiles now keep them
