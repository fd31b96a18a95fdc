"""Row filters and column masks, written into the query. Pure (sqlglot trees in and out).

Every governed table the caller names is replaced, where it is named, by a subquery
that shows only the rows at or below the caller's clearance and each column either as
stored or masked. The caller's SQL never sees the stored table nor the hidden row-level
column, so no join, subquery or alias can reach around the rules. A masked column is a
salted SHA-256 prefix (``masked:…``; equal values still group and join within one
query, and the salt is new for every query so hashes never link across queries), or
NULL for secret-level kinds (keys, tokens, passwords), where even equality is too much.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

import sqlglot
from sqlglot import exp

from sovra.analytics.locked import quote
from sovra.analytics.sqlcheck import CheckedQuery, TableRef
from sovra.analytics.tables import LEVEL_COLUMN


class Mask(Enum):
    NONE = "none"
    HASH = "hash"
    NULL = "null"


@dataclass(frozen=True)
class ColumnRule:
    name: str
    mask: Mask
    reason: str  # the policy decision's reason, or "allowed"


def column_sql(rule: ColumnRule, salt: str) -> str:
    name = quote(rule.name)
    if rule.mask is Mask.NONE:
        return name
    if rule.mask is Mask.NULL:
        return f"CAST(NULL AS VARCHAR) AS {name}"
    return (f"CASE WHEN {name} IS NULL THEN NULL ELSE 'masked:' || "
            f"substr(sha256('{salt}' || CAST({name} AS VARCHAR)), 1, 16) END AS {name}")


def governed_subquery(ref: TableRef, rules: list[ColumnRule], clearance: int,
                      salt: str) -> exp.Select:
    projection = ", ".join(column_sql(rule, salt) for rule in rules)
    source = f"{quote(ref.collection)}.{quote(ref.table)}"
    # Identifiers are quoted by ``quote``, the level is an int, the salt is hex.
    sql = f"SELECT {projection} FROM {source} WHERE {LEVEL_COLUMN} <= {int(clearance)}"  # noqa: S608
    tree = sqlglot.parse_one(sql, read="duckdb")
    if not isinstance(tree, exp.Select):  # our own text: cannot happen
        raise TypeError("governed subquery did not parse as SELECT")
    return tree


def rewrite(checked: CheckedQuery, rules: Mapping[TableRef, list[ColumnRule]],
            clearance: int, salt: str) -> str:
    """The caller's query with each governed table replaced by its governed subquery."""
    tree = checked.tree.copy()
    # Collected first, then replaced: the subqueries' own tables are never visited.
    targets = [t for t in tree.find_all(exp.Table) if t.db]
    for table in targets:
        ref = TableRef(table.db, table.name)
        subquery = governed_subquery(ref, rules[ref], clearance, salt)
        alias = table.args.get("alias")
        alias_node = alias.copy() if isinstance(alias, exp.TableAlias) else exp.TableAlias(
            this=exp.to_identifier(table.name, quoted=True))
        table.replace(exp.Subquery(this=subquery, alias=alias_node))
    return tree.sql(dialect="duckdb")


__all__ = ["ColumnRule", "Mask", "column_sql", "governed_subquery", "rewrite"]
