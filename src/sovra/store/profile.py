"""Which database a data directory belongs to, written where the data directory is.

An instance of the cluster profile keeps its database elsewhere (``SOVRA_DATABASE_URL``)
and only its secrets and notes in the data directory. A command run later against that
directory without the URL would otherwise open, and migrate, an empty SQLite file there
and answer as if the instance were new ("invalid API key"). The marker written here makes
``Settings.effective_database_url`` refuse instead, naming the database to point at.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from sovra.config import EXTERNAL_DATABASE_MARKER


def mark_external_database(data_dir: Path, database_url: str) -> None:
    """Record (once, atomically) that ``data_dir``'s database is ``database_url``; the
    password is never written."""
    marker = data_dir / EXTERNAL_DATABASE_MARKER
    if marker.exists():
        return
    shown = make_url(database_url).render_as_string(hide_password=True)
    partial = marker.with_name(marker.name + ".partial")
    partial.write_text(f"{shown}\n", encoding="utf-8")
    partial.replace(marker)  # a reader sees the whole line or no file


__all__ = ["mark_external_database"]
