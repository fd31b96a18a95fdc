"""The SQL allowlist: one read-only SELECT over ``collection.table`` names. Pure.

sqlglot parses the text (DuckDB dialect) before DuckDB ever sees it, and everything not
explicitly allowed is refused with a message that names what was found: other statement
kinds (INSERT, COPY, ATTACH, INSTALL, LOAD, SET, PRAGMA, ...), ``SELECT INTO``, table
functions and files in ``FROM`` (``read_csv('/etc/passwd')``, ``'/etc/passwd'``,
``range(10)``), three-part names, and any function outside a fixed list of scalar,
aggregate and window functions (``current_setting``, ``getenv``, ``query`` ...). The
locked DuckDB connection (``locked.py``) is the second wall behind this one (ADR 1100).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError as SqlglotParseError
from sqlglot.errors import TokenError

from sovra.errors import InvalidInputError

MAX_SQL_CHARS = 20_000

_ALLOWED_FUNCTION_NAMES = (
    "Count Sum Avg Min Max Stddev StddevPop StddevSamp Variance VariancePop Median "
    "Quantile ApproxDistinct CountIf Round Abs Ceil Floor Sqrt Ln Log Exp Pow Lower Upper "
    "Length Substring Trim Concat ConcatWs Coalesce Nullif If Case Cast TryCast "
    "TimestampTrunc DateTrunc Extract TimeToStr StrToTime StrPosition Left Right Greatest "
    "Least GroupConcat Mod Sign RowNumber Rank DenseRank Lag Lead FirstValue LastValue "
    "Year Month Day Quarter Week DayOfWeek Date CurrentDate DateAdd DateSub DateDiff "
    "PercentileCont Corr CovarSamp Initcap Reverse Repeat StartsWith EndsWith AnyValue "
    "First Last LogicalAnd LogicalOr")
# Classes, not names: sqlglot maps each known function to its own class, so a function
# DuckDB reads files or settings with (ReadCSV, Anonymous current_setting) never matches.
ALLOWED_FUNCTIONS: frozenset[type[exp.Func]] = frozenset(
    getattr(exp, name) for name in _ALLOWED_FUNCTION_NAMES.split() if hasattr(exp, name))


@dataclass(frozen=True)
class TableRef:
    """A governed table named in the query: ``collection.table``."""

    collection: str
    table: str

    @property
    def qualified(self) -> str:
        return f"{self.collection}.{self.table}"


@dataclass(frozen=True)
class CheckedQuery:
    """A query that passed the allowlist: its tree, tables and the column names it uses."""

    tree: exp.Query
    tables: tuple[TableRef, ...]
    columns: frozenset[str]
    star: bool


def check_sql(sql: str) -> CheckedQuery:
    """Parse ``sql`` and check it against the allowlist; raises ``InvalidInputError``."""
    if not sql.strip():
        raise InvalidInputError("the query is empty; write one SELECT over collection.table")
    if len(sql) > MAX_SQL_CHARS:
        raise InvalidInputError(f"the query is longer than {MAX_SQL_CHARS} characters")
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except (SqlglotParseError, TokenError) as exc:
        raise InvalidInputError(f"the query does not parse: {_first_line(exc)}") from exc
    if len(statements) != 1:
        raise InvalidInputError(f"one statement only, found {len(statements)}: run them "
                                "one at a time")
    tree = statements[0]
    if not isinstance(tree, (exp.Select, exp.SetOperation)):
        raise InvalidInputError(
            f"only SELECT is allowed; a {_kind(tree)} statement is refused (governed SQL "
            "never writes, reads files, loads extensions or changes settings)")
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for node in tree.walk():
        _check_node(node)
    tables = tuple(dict.fromkeys(_table_ref(t, ctes) for t in tree.find_all(exp.Table)
                                 if _is_governed(t, ctes)))
    columns = frozenset(c.name.lower() for c in tree.find_all(exp.Column) if c.name)
    # count(*) reads no column; SELECT * and t.* read them all.
    star = any(not isinstance(s.parent, exp.Count) for s in tree.find_all(exp.Star))
    return CheckedQuery(tree, tables, columns, star)


def _check_node(node: exp.Expr) -> None:
    if isinstance(node, exp.Into):
        raise InvalidInputError("SELECT INTO writes a table and is refused")
    if isinstance(node, (exp.Command, exp.DDL, exp.DML, exp.Set, exp.Pragma, exp.Copy)):
        raise InvalidInputError(f"a {_kind(node)} inside the query is refused")
    if isinstance(node, exp.Table):
        _check_table(node)
    elif isinstance(node, exp.Func) and type(node) not in ALLOWED_FUNCTIONS:
        name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
        raise InvalidInputError(
            f"function {name.lower()}() is not allowed in governed SQL (table functions, "
            "files, settings and system functions are refused); use plain columns, "
            "aggregates and scalar functions")


def _check_table(table: exp.Table) -> None:
    if not isinstance(table.this, exp.Identifier):
        raise InvalidInputError(
            f"{table.sql(dialect='duckdb')!s} is not a table: table functions and files in "
            "FROM are refused; name a table as collection.table")
    if table.catalog:
        raise InvalidInputError(f"{table.sql(dialect='duckdb')}: three-part names are "
                                "refused; name a table as collection.table")


def _is_governed(table: exp.Table, ctes: set[str]) -> bool:
    return bool(table.db) or table.name.lower() not in ctes


def _table_ref(table: exp.Table, ctes: set[str]) -> TableRef:
    if not table.db:
        raise InvalidInputError(f"table {table.name!r} has no collection: name it as "
                                "collection.table (sovra sql --tables lists them)")
    return TableRef(table.db, table.name)


def _kind(node: exp.Expr) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    return node.key.upper()


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


__all__ = ["ALLOWED_FUNCTIONS", "MAX_SQL_CHARS", "CheckedQuery", "TableRef", "check_sql"]
