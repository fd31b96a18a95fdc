"""Table definitions, one module per room, all on one ``MetaData``.

Migrations are written by hand in ``sovra/store/migrations/versions`` (one Alembic
branch per room, so rooms evolve independently); these objects are what the services
query through SQLAlchemy Core.
"""

from __future__ import annotations

from sqlalchemy import MetaData

# A naming convention keeps constraint names identical on SQLite and PostgreSQL so that
# migrations can refer to them.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

__all__ = ["metadata"]
