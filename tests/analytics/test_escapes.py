"""Escape attempts: each refused with a clear message and recorded, by both walls.

The first wall is the sqlglot allowlist (the service); the second is the locked DuckDB
connection itself, attacked here directly with the same statements, as if the first
wall had a hole.
"""

from __future__ import annotations

import duckdb
import pytest

from sovra.analytics.locked import locked_connection
from sovra.errors import InvalidInputError
from sovra.instance import Instance
from tests.analytics.conftest import ANALYST
from tests.analytics.ledger import entries

ESCAPES = {
    "read_passwd_read_csv": "SELECT * FROM read_csv('/etc/passwd')",
    "read_passwd_as_table": "SELECT * FROM '/etc/passwd'",
    "read_passwd_in_subquery": ("SELECT name FROM hr.staff WHERE name IN "
                                "(SELECT * FROM read_text('/etc/passwd'))"),
    "install_extension": "INSTALL httpfs",
    "load_extension": "LOAD httpfs",
    "copy_to_file": "COPY (SELECT * FROM hr.staff) TO '/tmp/sovra-stolen.csv'",
    "set_external_access": "SET enable_external_access = true",
    "attach_database": "ATTACH '/tmp/sovra-stolen.db' AS stolen",
    "pragma": "PRAGMA database_list",
    "create_table": "CREATE TABLE hr.copy AS SELECT * FROM hr.staff",
    "insert": "INSERT INTO hr.staff VALUES ('x', 'x', 'x', 1, 'x')",
    "select_into": "SELECT * INTO stolen FROM hr.staff",
    "two_statements": "SELECT 1 FROM hr.staff; DROP TABLE hr.staff",
    "table_function_range": "SELECT * FROM range(10)",
    "settings_function": "SELECT current_setting('enable_external_access')",
    "glob_files": "SELECT * FROM glob('/etc/*')",
    "three_part_name": "SELECT * FROM memory.hr.staff",
}


@pytest.mark.parametrize("name", sorted(ESCAPES))
def test_escape_is_refused_and_recorded(hr: Instance, name: str) -> None:
    before = len(entries(hr, "analytics.query"))
    with pytest.raises(InvalidInputError) as refused:
        hr.analytics.query(ANALYST, ESCAPES[name])
    message = str(refused.value)
    assert any(word in message for word in ("refused", "not allowed", "one statement",
                                            "not a table", "no collection")), message
    recorded = entries(hr, "analytics.query")
    assert len(recorded) == before + 1
    assert recorded[-1]["outcome"] == "denied"
    assert recorded[-1]["details"]["error"] == "InvalidInputError"


LOCKED_ESCAPES = {
    "read_passwd": "SELECT * FROM read_csv('/etc/passwd')",
    "read_text": "SELECT * FROM read_text('/etc/passwd')",
    "install": "INSTALL httpfs",
    "load": "LOAD httpfs",
    "copy_to": "COPY (SELECT 42) TO '/tmp/sovra-locked-copy.csv'",
    "set_external_access": "SET enable_external_access = true",
    "reset_lock": "SET lock_configuration = false",
    "set_allowed_directories": "SET allowed_directories = ['/etc']",
    "attach": "ATTACH '/tmp/sovra-locked.db' AS stolen",
}


@pytest.mark.parametrize("name", sorted(LOCKED_ESCAPES))
def test_locked_connection_refuses_without_the_allowlist(name: str) -> None:
    connection = locked_connection()
    try:
        with pytest.raises(duckdb.Error) as refused:
            connection.execute(LOCKED_ESCAPES[name]).fetchall()
        assert any(word in str(refused.value) for word in (
            "disabled", "locked", "Permission")), str(refused.value)
        settings = dict(connection.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN "
            "('enable_external_access', 'lock_configuration', 'allowed_directories')"
        ).fetchall())
    finally:
        connection.close()
    assert settings == {"enable_external_access": "false", "lock_configuration": "true",
                        "allowed_directories": "[]"}


def test_python_variables_are_not_tables() -> None:
    # DuckDB's Python client would otherwise read a local variable named in FROM.
    secret_rows = [("s3cret",)]  # noqa: F841 - the name is what the query tries to reach
    connection = locked_connection()
    try:
        with pytest.raises(duckdb.CatalogException):
            connection.execute("SELECT * FROM secret_rows").fetchall()
    finally:
        connection.close()
