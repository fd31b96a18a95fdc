"""Apply Alembic migrations programmatically (on start and by ``sovra db upgrade``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from sovra.errors import MigrationError

_SCRIPTS = Path(__file__).parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def upgrade(engine: Engine) -> list[str]:
    """Bring the schema to every branch's head; returns the heads now applied."""
    config = _config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")
    except (SQLAlchemyError, OSError, CommandError) as exc:
        raise MigrationError(f"cannot migrate database {engine.url!r}: {exc}") from exc
    return current_heads(engine)


def current_heads(engine: Engine) -> list[str]:
    """The revisions the database is at now (empty before the first upgrade)."""
    try:
        with engine.connect() as connection:
            return sorted(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        raise MigrationError(
            f"cannot read the schema version of database {engine.url!r}: {exc}; check the "
            "data directory (or SOVRA_DATABASE_URL), or create the database with "
            "`sovra db upgrade`") from exc


def pending(engine: Engine) -> list[str]:
    """Heads the code knows that the database has not reached yet."""
    known = set(ScriptDirectory.from_config(_config()).get_heads())
    return sorted(known - set(current_heads(engine)))
