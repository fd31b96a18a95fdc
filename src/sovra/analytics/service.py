"""Governed SQL: check, decide, load, rewrite, run on a locked DuckDB, record.

One query, one operation (``AnalyticsService.query``):

1. the sqlglot allowlist (``sqlcheck``): anything but one SELECT over
   ``collection.table`` names is refused, and the refusal recorded;
2. Cedar per table: ``analytics.query`` on each collection named (decision recorded);
3. the collections' tabular documents are decrypted in memory and typed/classified;
4. Cedar per column: ``analytics.column`` on each column with its detected level; a
   denied column is masked, rows above the caller's clearance are filtered out;
5. the rewritten query runs on a fresh, locked, in-memory DuckDB connection;
6. the ledger entry (query hash, tables, columns, masks, row count, result hash, the
   result's classification) is appended before the answer leaves: no record, no answer.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sovra.analytics.governance import ColumnRule, Mask, rewrite
from sovra.analytics.locked import load_tables, locked_connection, run_query
from sovra.analytics.source import plaintext, tabular_documents
from sovra.analytics.sqlcheck import CheckedQuery, TableRef, check_sql
from sovra.analytics.tables import Table, build_tables
from sovra.data import DataService
from sovra.data.classify import SECRET_KINDS, LevelMapping
from sovra.errors import InvalidInputError, NotFoundError, ParseError, PermissionDeniedError
from sovra.identity import Caller
from sovra.ledger import Ledger
from sovra.policy import Classification, PolicyService, Resource

if TYPE_CHECKING:
    from sovra.analytics.nl import Proposal

DEFAULT_MAX_ROWS = 10_000
_SECRET_KIND_NAMES = frozenset(k.value for k in SECRET_KINDS)


@dataclass(frozen=True)
class QueryResult:
    """A governed result: what was asked, what it touched, and how it was governed."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    truncated: bool
    classification: Classification
    tables: tuple[str, ...]
    columns_touched: tuple[str, ...]
    masked: tuple[str, ...]
    query_sha256: str
    result_sha256: str
    ledger_seq: int


@dataclass(frozen=True)
class TableInfo:
    collection: str
    name: str
    document_id: str
    rows: int
    columns: tuple[tuple[str, str, str, bool], ...]  # (name, type, level, masked for caller)


class AnalyticsService:
    """``instance.analytics``: governed SQL over the tabular documents of collections."""

    def __init__(self, data: DataService, policy: PolicyService, ledger: Ledger,
                 mapping: LevelMapping | None = None) -> None:
        self.data = data
        self.policy = policy
        self.ledger = ledger
        self.mapping = mapping or LevelMapping()

    # -- the one use case -----------------------------------------------------------

    def query(self, caller: Caller, sql: str, *, max_rows: int = DEFAULT_MAX_ROWS
              ) -> QueryResult:
        """Run ``sql`` governed for ``caller``; every refusal is recorded, then raised."""
        if not 1 <= max_rows <= 100_000:
            raise InvalidInputError("max_rows must be 1..100000")
        query_hash = hashlib.sha256(sql.encode("utf-8", "surrogatepass")).hexdigest()
        try:
            checked = check_sql(sql)
            tables = self._load(caller, checked.tables)
        except (InvalidInputError, PermissionDeniedError, NotFoundError, ParseError) as exc:
            self._refused(caller, query_hash, exc)
            raise
        clearance = int(Classification.parse(caller.clearance))
        rules = {ref: self._rules(caller, tables[ref]) for ref in checked.tables}
        governed = rewrite(checked, rules, clearance, secrets.token_hex(16))
        connection = locked_connection()
        try:
            load_tables(connection, tables.values())
            names, rows, truncated = run_query(connection, governed, max_rows)
        except InvalidInputError as exc:
            self._refused(caller, query_hash, exc)
            raise
        finally:
            connection.close()
        return self._answer(caller, checked, tables, rules, clearance=clearance,
                            query_hash=query_hash, result=(names, rows, truncated))

    def tables(self, caller: Caller, collection_id: str) -> list[TableInfo]:
        """The tables of a collection, with each column's level and whether it is masked."""
        loaded = self._load(caller, [TableRef(collection_id, "*")])
        out = []
        for table in loaded.values():
            masked = {r.name for r in self._rules(caller, table) if r.mask is not Mask.NONE}
            out.append(TableInfo(table.collection, table.name, table.document_id,
                                 table.row_count, tuple(
                                     (c.name, c.sql_type, c.level.label, c.name in masked)
                                     for c in table.columns)))
        return out

    # -- a question in words (``nl.py``) ------------------------------------------------

    def question_prompt(self, caller: Caller, question: str,
                        collections: Sequence[str]) -> str:
        """The model's instructions for ``question``: only the tables and column names
        ``caller`` may query (Cedar decides per collection, as for a query)."""
        from sovra.analytics.nl import prompt

        tables = [t for c in dict.fromkeys(collections) for t in self.tables(caller, c)]
        return prompt(question, tables)

    def propose(self, caller: Caller, question: str, model: str, answer: str) -> Proposal:
        """Record what the model proposed and whether the allowlist lets it run.

        The entry holds the question's hash (never its words), the generated SQL itself
        (what the caller is shown) and the model; outcome ``denied`` when refused."""
        from sovra.analytics.nl import Proposal, extract_sql

        question_hash = hashlib.sha256(question.encode("utf-8", "surrogatepass")).hexdigest()
        sql, reason = "", ""
        try:
            sql = extract_sql(answer)
            check_sql(sql)
        except (InvalidInputError, ParseError) as exc:
            reason = str(exc)
        details: dict[str, object] = {"question_sha256": question_hash, "model": model,
                                      "sql": sql, "allowed": not reason}
        if reason:
            details["reason"] = reason[:500]
        receipt = self.ledger.append(caller.principal_id, "analytics.nl.propose",
                                     "analytics/sql", "denied" if reason else "success",
                                     details)
        return Proposal(question_hash, sql, model, not reason, reason, receipt.seq)

    def run_proposal(self, caller: Caller, proposal: Proposal, *,
                     max_rows: int = DEFAULT_MAX_ROWS) -> QueryResult:
        """Run a proposal through the same gate as typed SQL; a refused one raises with
        the SQL shown, so the caller sees what the model wrote."""
        if not proposal.allowed:
            raise InvalidInputError(f"the model's SQL is not allowed ({proposal.reason}); "
                                    f"it proposed: {proposal.sql or '(nothing)'}")
        return self.query(caller, proposal.sql, max_rows=max_rows)

    # -- steps ------------------------------------------------------------------------

    def _load(self, caller: Caller, refs: Sequence[TableRef]) -> dict[TableRef, Table]:
        """Decide per collection, then read each named table (``*``: all of them)."""
        out: dict[TableRef, Table] = {}
        for collection_id in dict.fromkeys(ref.collection for ref in refs):
            collection = self.data.get_collection(collection_id)
            self.policy.require(caller, "analytics.query", Resource(
                "Collection", collection.id, {"jurisdiction": collection.spec.jurisdiction,
                                              "legal_hold": collection.legal_hold}))
            wanted = {ref.table.lower() for ref in refs if ref.collection == collection_id}
            found = self._collection_tables(collection_id)
            for name in sorted(wanted - {"*"} - set(found)):
                raise NotFoundError(
                    f"no table {collection_id}.{name}: a table is a CSV, TSV, Parquet or "
                    f"JSON document or an Excel sheet of the collection; known: "
                    f"{', '.join(sorted(found)) or 'none'}")
            for name, table in found.items():
                if "*" in wanted or name in wanted:
                    out[TableRef(collection_id, name)] = table
        return self._keyed_as_asked(out, refs)

    def _collection_tables(self, collection_id: str) -> dict[str, Table]:
        tables: dict[str, Table] = {}
        for doc in tabular_documents(self.data, collection_id):
            name, text = plaintext(self.data, doc.id)
            for table in build_tables(collection_id, doc.id, name, doc.kind, text,
                                      declared=doc.declared, mapping=self.mapping):
                tables.setdefault(table.name, table)
        return tables

    @staticmethod
    def _keyed_as_asked(found: dict[TableRef, Table], refs: Sequence[TableRef]
                        ) -> dict[TableRef, Table]:
        # The query may spell a name in another case; rules are looked up as written.
        out = dict(found)
        for ref in refs:
            lowered = TableRef(ref.collection, ref.table.lower())
            if ref not in out and lowered in found:
                out[ref] = found[lowered]
        return out

    def _rules(self, caller: Caller, table: Table) -> list[ColumnRule]:
        rules = []
        for column in table.columns:
            decision = self.policy.decide(caller, "analytics.column", Resource(
                "Column", f"{table.collection}/{table.name}/{column.name}",
                {"classification": int(column.level)}))
            if decision.allowed:
                rules.append(ColumnRule(column.name, Mask.NONE, "allowed"))
                continue
            secret = bool(_SECRET_KIND_NAMES.intersection(column.kinds))
            rules.append(ColumnRule(column.name, Mask.NULL if secret else Mask.HASH,
                                    "; ".join(decision.reasons) or "denied"))
        return rules

    def _answer(self, caller: Caller, checked: CheckedQuery, tables: dict[TableRef, Table],
                rules: dict[TableRef, list[ColumnRule]], *, clearance: int, query_hash: str,
                result: tuple[list[str], list[tuple[Any, ...]], bool]) -> QueryResult:
        names, rows, truncated = result
        plain = [tuple(_plain(v) for v in row) for row in rows]
        touched, masked, level = [], [], Classification.PUBLIC
        for ref in checked.tables:
            table = tables[ref]
            visible = [lvl for lvl in set(table.row_levels) if lvl <= clearance]
            level = max(level, Classification(max(visible, default=0)))
            for rule in rules[ref]:
                if not (checked.star or rule.name in checked.columns):
                    continue
                touched.append(f"{ref.qualified}.{rule.name}")
                if rule.mask is not Mask.NONE:
                    masked.append(f"{ref.qualified}.{rule.name}")
                else:
                    column = table.column(rule.name)
                    level = max(level, column.level if column else level)
        result_hash = hashlib.sha256(json.dumps(
            {"columns": names, "rows": plain}, sort_keys=True, default=str).encode()
        ).hexdigest()
        receipt = self.ledger.append(caller.principal_id, "analytics.query", "analytics/sql",
                                     "success", {
            "query_sha256": query_hash, "tables": [r.qualified for r in checked.tables],
            "documents": sorted({tables[r].document_id for r in checked.tables}),
            "columns": touched, "masked": masked, "row_count": len(plain),
            "truncated": truncated, "result_sha256": result_hash,
            "classification": level.label})
        return QueryResult(tuple(names), tuple(plain), truncated, level,
                           tuple(r.qualified for r in checked.tables), tuple(touched),
                           tuple(masked), query_hash, result_hash, receipt.seq)

    def _refused(self, caller: Caller, query_hash: str, exc: Exception) -> None:
        self.ledger.append(caller.principal_id, "analytics.query", "analytics/sql", "denied", {
            "query_sha256": query_hash, "error": type(exc).__name__,
            "reason": str(exc)[:500]})


def _plain(value: Any) -> Any:
    """A JSON value: decimals as floats, dates as ISO text, bytes as hex."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return value


def open_analytics(data: DataService, policy: PolicyService, ledger: Ledger,
                   mapping: LevelMapping | None = None) -> AnalyticsService:
    return AnalyticsService(data, policy, ledger, mapping)


__all__ = ["DEFAULT_MAX_ROWS", "AnalyticsService", "QueryResult", "TableInfo",
           "open_analytics"]
