"""Governed SQL and the outbound diode over HTTP. Thin: parse, one service call, render.

The door of each route is ``authorized(...)`` on the room's action in general; the
services then decide per collection and column (``analytics.query``/``.column``) and
per export with its level and requester (``export.*``), and record every outcome.
Plain ``def`` routes: the services block on durable ledger appends.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sovra.analytics import MEDIA_TYPE as ARROW_MEDIA_TYPE
from sovra.analytics import ExportInfo, GatewayProposer, QueryResult, TableInfo, result_arrow
from sovra.api.auth import authorized
from sovra.api.deps import get_instance
from sovra.identity import Caller
from sovra.instance import Instance

router = APIRouter(prefix="/analytics", tags=["analytics"])

InstanceDep = Annotated[Instance, Depends(get_instance)]
Querier = Annotated[Caller, Depends(authorized("analytics.query", "Collection"))]
Requester = Annotated[Caller, Depends(authorized("export.create", "Export"))]
Reader = Annotated[Caller, Depends(authorized("export.read", "Export"))]


class QueryIn(BaseModel):
    sql: str = Field(min_length=1, max_length=20_000)
    max_rows: int = Field(default=10_000, ge=1, le=100_000)
    format: Literal["json", "csv", "arrow"] = "json"


class QueryOut(BaseModel):
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool
    classification: str
    tables: list[str]
    columns_touched: list[str]
    masked: list[str]
    query_sha256: str
    result_sha256: str
    ledger_seq: int

    @classmethod
    def of(cls, r: QueryResult) -> QueryOut:
        return cls(columns=list(r.columns), rows=[list(row) for row in r.rows],
                   truncated=r.truncated, classification=r.classification.label,
                   tables=list(r.tables), columns_touched=list(r.columns_touched),
                   masked=list(r.masked), query_sha256=r.query_sha256,
                   result_sha256=r.result_sha256, ledger_seq=r.ledger_seq)


class ColumnOut(BaseModel):
    name: str
    type: str
    classification: str
    masked: bool


class TableOut(BaseModel):
    collection: str
    name: str
    rows: int
    columns: list[ColumnOut]

    @classmethod
    def of(cls, t: TableInfo) -> TableOut:
        return cls(collection=t.collection, name=t.name, rows=t.rows, columns=[
            ColumnOut(name=n, type=ty, classification=lvl, masked=m)
            for n, ty, lvl, m in t.columns])


class ExportIn(BaseModel):
    kind: Literal["support", "usage", "portability", "compliance", "threat"]
    collection: str = Field(default="", max_length=64)
    # compliance: the period, SINCE..UNTIL (empty: the last year); threat: an alert status.
    subject: str = Field(default="", max_length=200)


class ExportOut(BaseModel):
    id: str
    kind: str
    subject: str
    requester: str
    state: str
    classification: str
    files: list[dict[str, Any]]
    approvers: list[str]
    created_at: float
    released_at: float | None
    bundle_sha256: str | None

    @classmethod
    def of(cls, e: ExportInfo) -> ExportOut:
        return cls(id=e.id, kind=e.kind, subject=e.subject, requester=e.requester,
                   state=e.state, classification=e.classification.label, files=e.listing,
                   approvers=list(e.approvers), created_at=e.created_at,
                   released_at=e.released_at, bundle_sha256=e.bundle_sha256)


class ReviewOut(BaseModel):
    export: ExportOut
    diff: str


def result_csv(result: QueryResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(result.columns)
    writer.writerows(result.rows)
    return out.getvalue()


@router.post("/query", response_model=None)
def query(body: QueryIn, caller: Querier, inst: InstanceDep) -> QueryOut | Response:
    result = inst.analytics.query(caller, body.sql, max_rows=body.max_rows)
    headers = {"X-Sovra-Classification": result.classification.label,
               "X-Sovra-Result-Sha256": result.result_sha256}
    if body.format == "csv":
        return PlainTextResponse(result_csv(result), media_type="text/csv", headers=headers)
    if body.format == "arrow":
        return Response(result_arrow(result), media_type=ARROW_MEDIA_TYPE, headers=headers)
    return QueryOut.of(result)


class AskIn(BaseModel):
    question: str = Field(min_length=1, max_length=2_000)
    collections: list[str] = Field(min_length=1, max_length=16)
    model: str = Field(default="SmolLM2-135M-Instruct", min_length=1, max_length=200)
    # False: only propose (the SQL is shown, and recorded); run it with POST /query.
    run: bool = True
    max_rows: int = Field(default=10_000, ge=1, le=100_000)


class AskOut(BaseModel):
    sql: str
    model: str
    allowed: bool
    reason: str
    proposal_ledger_seq: int
    result: QueryOut | None


@router.post("/ask")
async def ask(body: AskIn, caller: Querier, inst: InstanceDep) -> AskOut:
    """A question in words: the local model proposes SQL over the tables the caller may
    query; the SQL is recorded and shown, and runs through the same gate as typed SQL
    (a refused one is a 400 that shows it)."""
    instructions = await run_in_threadpool(inst.analytics.question_prompt, caller,
                                           body.question, body.collections)
    answer = await GatewayProposer(inst.ai, body.model).answer(caller, instructions)
    proposal = await run_in_threadpool(inst.analytics.propose, caller, body.question,
                                       body.model, answer)
    result = None
    if body.run:
        result = QueryOut.of(await run_in_threadpool(
            lambda: inst.analytics.run_proposal(caller, proposal, max_rows=body.max_rows)))
    return AskOut(sql=proposal.sql, model=proposal.model, allowed=proposal.allowed,
                  reason=proposal.reason, proposal_ledger_seq=proposal.ledger_seq,
                  result=result)


@router.get("/collections/{collection_id}/tables")
def tables(collection_id: str, caller: Querier, inst: InstanceDep) -> list[TableOut]:
    return [TableOut.of(t) for t in inst.analytics.tables(caller, collection_id)]


@router.post("/exports", status_code=201)
def create_export(body: ExportIn, caller: Requester, inst: InstanceDep) -> ExportOut:
    return ExportOut.of(inst.exports.create(caller, body.kind,
                                            body.collection or body.subject))


@router.get("/exports")
def list_exports(caller: Reader, inst: InstanceDep) -> list[ExportOut]:
    return [ExportOut.of(e) for e in inst.exports.list_exports(caller)]


@router.get("/exports/root", response_class=PlainTextResponse)
def export_root(_caller: Reader, inst: InstanceDep) -> PlainTextResponse:
    """The export root receivers pin (public; hand it over once, out of band)."""
    return PlainTextResponse(inst.exports.root().decode(), media_type="application/json")


@router.get("/exports/{export_id}/review")
def review_export(export_id: str, caller: Reader, inst: InstanceDep) -> ReviewOut:
    found = inst.exports.review(caller, export_id)
    return ReviewOut(export=ExportOut.of(found.info), diff=found.diff)


@router.post("/exports/{export_id}/approve")
def approve_export(export_id: str, caller: Reader, inst: InstanceDep) -> ExportOut:
    return ExportOut.of(inst.exports.approve(caller, export_id))


@router.get("/exports/{export_id}/bundle", response_class=FileResponse)
def export_bundle(export_id: str, caller: Reader, inst: InstanceDep) -> FileResponse:
    path = inst.exports.bundle_path(caller, export_id)
    return FileResponse(path, media_type="application/x-tar",
                        filename=f"sovra-export-{export_id}.tar")
