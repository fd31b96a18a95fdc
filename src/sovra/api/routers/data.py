"""Data routes: collections, multipart ingest, search, documents, holds, retention, erasure.

Thin: each route is authorized by ``authorized(...)`` (decision recorded in the ledger),
calls one ``instance.data`` method, and renders the result. Plain ``def`` routes: the
service blocks on durable ledger appends, so FastAPI runs them in its thread pool. Ingest
is the exception: it reads the multipart body itself, after the caller is authorized,
into an encrypted spool in the data directory (ADR 0406), then ingests in a thread.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sovra.api.auth import authorized
from sovra.api.deps import get_instance
from sovra.data import (
    FRAMING_ALLOWANCE,
    Collection,
    CollectionSpec,
    DocumentInfo,
    Hold,
    IngestResult,
    RetentionReport,
    RetrievedChunk,
    receive_upload,
)
from sovra.errors import FileTooLargeError, InvalidInputError
from sovra.identity import Caller
from sovra.instance import Instance
from sovra.policy import Classification

router = APIRouter(prefix="/data", tags=["data"])

InstanceDep = Annotated[Instance, Depends(get_instance)]
Creator = Annotated[Caller, Depends(authorized("collections.create", "Collection"))]
Reader = Annotated[Caller, Depends(authorized("collections.read", "Collection"))]
CollectionReader = Annotated[Caller, Depends(authorized(
    "collections.read", "Collection", resource_id_param="collection_id"))]
Ingester = Annotated[Caller, Depends(authorized(
    "collections.ingest", "Collection", resource_id_param="collection_id"))]
Searcher = Annotated[Caller, Depends(authorized("documents.read", "Collection"))]
DocumentReader = Annotated[Caller, Depends(authorized(
    "documents.read", "Document", resource_id_param="document_id"))]
DocumentEraser = Annotated[Caller, Depends(authorized(
    "collections.erase", "Document", resource_id_param="document_id"))]
Holder = Annotated[Caller, Depends(authorized(
    "collections.hold", "Collection", resource_id_param="collection_id"))]
Eraser = Annotated[Caller, Depends(authorized("collections.erase", "Collection"))]


class CollectionIn(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    owner: str = Field(min_length=1)
    purpose: str = Field(min_length=1)
    subject_categories: list[str] = Field(min_length=1)
    data_categories: list[str] = Field(min_length=1)
    retention_days: int = Field(ge=1, le=36_500)
    jurisdiction: str = Field(min_length=1)
    ceiling: str = "confidential"


class CollectionOut(BaseModel):
    id: str
    owner: str
    purpose: str
    subject_categories: list[str]
    data_categories: list[str]
    retention_days: int
    jurisdiction: str
    ceiling: str
    keyring_id: str
    created_at: float
    created_by: str
    legal_hold: bool

    @classmethod
    def of(cls, c: Collection) -> CollectionOut:
        s = c.spec
        return cls(id=s.id, owner=s.owner, purpose=s.purpose,
                   subject_categories=list(s.subject_categories),
                   data_categories=list(s.data_categories), retention_days=s.retention_days,
                   jurisdiction=s.jurisdiction, ceiling=s.ceiling.label,
                   keyring_id=c.keyring_id, created_at=c.created_at, created_by=c.created_by,
                   legal_hold=c.legal_hold)


class IngestOut(BaseModel):
    name: str
    status: str
    document_id: str | None
    version: int | None
    classification: str | None
    chunks: int
    size_bytes: int
    findings: dict[str, int]
    error: str | None = None
    error_type: str | None = None

    @classmethod
    def of(cls, r: IngestResult) -> IngestOut:
        return cls(name=r.name, status=r.status, document_id=r.document_id, version=r.version,
                   classification=None if r.classification is None else r.classification.label,
                   chunks=r.chunks, size_bytes=r.size_bytes, findings=r.findings,
                   error=r.error, error_type=r.error_type)


class SearchIn(BaseModel):
    query: str = Field(min_length=1, max_length=4000)
    collections: list[str] | None = None
    k: int = Field(default=5, ge=1, le=100)


class ChunkOut(BaseModel):
    document_id: str
    version: int
    chunk_index: int
    start: int
    end: int
    page: int | None
    score: float
    text: str
    classification: str
    collection_id: str

    @classmethod
    def of(cls, c: RetrievedChunk) -> ChunkOut:
        return cls(document_id=c.document_id, version=c.version, chunk_index=c.chunk_index,
                   start=c.start, end=c.end, page=c.page, score=c.score, text=c.text,
                   classification=c.classification.label, collection_id=c.collection_id)


class DocumentOut(BaseModel):
    id: str
    collection_id: str
    version: int
    kind: str
    size_bytes: int
    classification: str
    findings: dict[str, int]
    chunk_count: int
    created_at: float
    name: str | None = None
    text: str | None = None

    @classmethod
    def of(cls, d: DocumentInfo, name: str | None = None, text: str | None = None
           ) -> DocumentOut:
        return cls(id=d.id, collection_id=d.collection_id, version=d.version, kind=d.kind,
                   size_bytes=d.size_bytes, classification=d.classification.label,
                   findings=d.findings, chunk_count=d.chunk_count, created_at=d.created_at,
                   name=name, text=text)


class HoldIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
    document_id: str | None = None


class HoldOut(BaseModel):
    id: int
    collection_id: str
    document_id: str | None
    reason: str
    set_by: str
    set_at: float
    released_at: float | None

    @classmethod
    def of(cls, h: Hold) -> HoldOut:
        return cls(id=h.id, collection_id=h.collection_id, document_id=h.document_id,
                   reason=h.reason, set_by=h.set_by, set_at=h.set_at, released_at=h.released_at)


class EraseIn(BaseModel):
    subject: str = Field(min_length=1, max_length=512)


class RetentionOut(BaseModel):
    deleted: list[str]
    held: list[str]

    @classmethod
    def of(cls, r: RetentionReport) -> RetentionOut:
        return cls(deleted=list(r.deleted), held=list(r.held))


@router.post("/collections", status_code=201)
def create_collection(body: CollectionIn, caller: Creator, inst: InstanceDep) -> CollectionOut:
    spec = CollectionSpec(body.id, body.owner, body.purpose, tuple(body.subject_categories),
                          tuple(body.data_categories), body.retention_days, body.jurisdiction,
                          Classification.parse(body.ceiling))
    return CollectionOut.of(inst.data.create_collection(caller, spec))


@router.get("/collections")
def list_collections(caller: Reader, inst: InstanceDep) -> list[CollectionOut]:
    return [CollectionOut.of(c) for c in inst.data.list_collections(caller)]


@router.get("/collections/{collection_id}/documents")
def list_documents(collection_id: str, caller: CollectionReader,
                   inst: InstanceDep) -> list[DocumentOut]:
    return [DocumentOut.of(d) for d in inst.data.list_documents(caller, collection_id)]


# The body is read by the route (below), so FastAPI cannot describe it; this does.
_UPLOAD_BODY: dict[str, object] = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {
        "type": "object", "required": ["file"], "properties": {
            "file": {"type": "string", "format": "binary"},
            "classification": {"type": "string", "default": "public",
                               "enum": [c.label for c in Classification]}}}}}}}


@router.post("/collections/{collection_id}/documents", status_code=201,
             openapi_extra=_UPLOAD_BODY)
async def ingest(collection_id: str, request: Request, caller: Ingester,
                 inst: InstanceDep) -> IngestOut:
    # Not FastAPI's UploadFile: Starlette would spool the file, in plaintext, to the
    # system temporary directory, and before the caller was even authorized (ADR 0406).
    limit = inst.data.core.config.limits.max_bytes
    _refuse_declared_oversize(request, limit)
    upload = await receive_upload(request.stream(), request.headers.get("content-type"),
                                  inst.data.spool_dir(), max_file_bytes=limit)
    try:
        declared = Classification.parse(upload.fields.get("classification", "public"))
    except BaseException:
        upload.close()
        raise
    return IngestOut.of(await run_in_threadpool(inst.data.ingest_upload, caller,
                                                collection_id, upload, declared))


def _refuse_declared_oversize(request: Request, limit: int) -> None:
    """A body that says it is larger than any acceptable upload is refused unread."""
    declared = request.headers.get("content-length")
    if declared is None:
        return
    try:
        length = int(declared)
    except ValueError as exc:
        raise InvalidInputError("Content-Length is not a number") from exc
    if length > limit + FRAMING_ALLOWANCE:
        raise FileTooLargeError(f"upload of {length} bytes: above the limit of {limit} bytes "
                                "(setting data_max_file_bytes)")


@router.post("/search")
def search(body: SearchIn, caller: Searcher, inst: InstanceDep) -> list[ChunkOut]:
    return [ChunkOut.of(c) for c in inst.data.retrieve(caller, body.query, body.collections,
                                                       body.k)]


@router.get("/documents/{document_id}")
def read_document(document_id: str, caller: DocumentReader, inst: InstanceDep) -> DocumentOut:
    info, name, text = inst.data.read_document(caller, document_id)
    return DocumentOut.of(info, name, text)


@router.delete("/documents/{document_id}", status_code=204)
def delete_document(document_id: str, caller: DocumentEraser, inst: InstanceDep) -> Response:
    inst.data.delete_document(caller, document_id)
    return Response(status_code=204)


@router.post("/collections/{collection_id}/holds", status_code=201)
def set_hold(collection_id: str, body: HoldIn, caller: Holder, inst: InstanceDep) -> HoldOut:
    return HoldOut.of(inst.data.set_hold(caller, collection_id, body.reason, body.document_id))


@router.delete("/collections/{collection_id}/holds/{hold_id}")
def release_hold(collection_id: str, hold_id: int, caller: Holder,
                 inst: InstanceDep) -> HoldOut:
    return HoldOut.of(inst.data.release_hold(caller, hold_id, collection_id))


@router.post("/erasures", status_code=201)
def erase_subject(body: EraseIn, caller: Eraser, inst: InstanceDep) -> dict[str, object]:
    certificate: dict[str, object] = json.loads(inst.data.erase_subject(caller, body.subject))
    return certificate


@router.post("/retention/run")
def run_retention(caller: Eraser, inst: InstanceDep) -> RetentionOut:
    return RetentionOut.of(inst.data.run_retention(caller.principal_id))
