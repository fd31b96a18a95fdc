"""A question in words, SQL proposed by the local model, governed like any other query.

The model is only a proposer. What it writes is shown and recorded, then goes through
exactly the gate typed SQL goes through (``AnalyticsService.query``): the sqlglot
allowlist, Cedar per collection and per column, masks and row filters by clearance, the
locked DuckDB, the ledger entry. A model cannot widen access: it sees only the tables
and column names the caller may query (masked columns flagged as such), never a value,
and SQL that the allowlist refuses is refused with the SQL shown.

Pure parts here (the prompt, pulling the SQL out of an answer); the model call is
``GatewayProposer`` over the AI room's governed chat operation, so the request is
admitted, decided (``models.use``) and recorded by the AI room as every chat is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sovra.analytics.service import TableInfo
from sovra.errors import InvalidInputError

if TYPE_CHECKING:
    from sovra.ai import Gateway
    from sovra.identity import Caller

MAX_QUESTION_CHARS = 2_000
MAX_SQL_CHARS = 4_000
_FENCED = re.compile(r"```(?:sql|SQL)?\s*\n?(.*?)```", re.DOTALL)
# Unfenced: from a line that starts with SELECT or WITH ("help with that" is prose).
_SELECT = re.compile(r"^[ \t]*(?:SELECT|WITH)\b.*", re.IGNORECASE | re.DOTALL | re.MULTILINE)


@dataclass(frozen=True)
class Proposal:
    """What the model proposed for a question, and whether the gate lets it run."""

    question_sha256: str
    sql: str
    model: str
    allowed: bool
    reason: str  # why the allowlist refused it; empty when allowed
    ledger_seq: int


def prompt(question: str, tables: Sequence[TableInfo]) -> str:
    """The model's instructions: the schema the caller may query, then the question."""
    if not question.strip():
        raise InvalidInputError("ask a question in words (it was empty)")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidInputError(f"the question is longer than {MAX_QUESTION_CHARS} "
                                "characters; ask something shorter")
    if not tables:
        raise InvalidInputError("no tables to ask about: name collections with tables "
                                "(CSV, TSV, Parquet, JSON or Excel documents)")
    lines = ["Write one DuckDB SQL SELECT statement that answers the question.",
             "Use only these tables, named exactly as written (collection.table):"]
    for table in tables:
        columns = ", ".join(f"{name} {sql_type}" + (" (masked)" if masked else "")
                            for name, sql_type, _level, masked in table.columns)
        lines.append(f"- {table.collection}.{table.name}({columns})")
    lines += ["Answer with the SQL only, in a ```sql block. No other statements.",
              f"Question: {question.strip()}"]
    return "\n".join(lines)


def extract_sql(answer: str) -> str:
    """The SQL in a model's answer: its first fenced block, else from the first
    line that starts with SELECT or WITH on; without a trailing semicolon. Nothing
    found is a refusal."""
    fenced = _FENCED.search(answer)
    text = fenced.group(1) if fenced else answer
    if not fenced:
        found = _SELECT.search(text)
        text = found.group(0) if found else ""
    sql = text.strip().rstrip(";").strip()
    if not sql:
        raise InvalidInputError("the model proposed no SQL for this question; rephrase it "
                                "or write the SELECT yourself")
    if len(sql) > MAX_SQL_CHARS:
        raise InvalidInputError(f"the model's SQL is longer than {MAX_SQL_CHARS} "
                                "characters and is not run")
    return sql


class GatewayProposer:
    """Asks a model registered in the AI room, through its governed chat operation."""

    def __init__(self, gateway: Gateway, model: str, *, max_tokens: int = 160) -> None:
        self.gateway = gateway
        self.model = model
        self.max_tokens = max_tokens

    async def answer(self, caller: Caller, instructions: str) -> str:
        from sovra.ai import ChatMessage, ChatRequest, GenerationParams

        request = ChatRequest(self.model, (ChatMessage("user", instructions),),
                              GenerationParams(max_tokens=self.max_tokens, temperature=0.0,
                                               seed=0))
        async with self.gateway.chat(caller, None, request) as chat:
            result = await chat.complete()
        return result.text


__all__ = ["MAX_QUESTION_CHARS", "GatewayProposer", "Proposal", "extract_sql", "prompt"]
