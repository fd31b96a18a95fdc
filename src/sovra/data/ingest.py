"""Collections and ingest: parse, classify, chunk, embed, encrypt, then one transaction.

Order of work for one file, so that nothing is left half-written:

1. read and parse (ParseError / FileTooLargeError: nothing was created yet);
2. classify, check the collection's ceiling, chunk, embed (pure work, in memory);
3. record ``data.classify`` and ``data.ingest`` in the ledger (fail closed: no record,
   no ingest);
4. create the document's keyring and wrap its document key (``sovra.keys``);
5. one database transaction: document row, chunk rows, FTS entries, vectors.

If step 5 fails, the keyring made in step 4 is destroyed again and the failure is
recorded, so no orphan key, chunk or vector survives.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import SQLAlchemyError

from sovra.data import sealing
from sovra.data._core import (
    INDEX_KEY_OBJECT,
    Core,
    collection_from_row,
    collection_keyring,
    document_keyring,
)
from sovra.data.chunking import Chunk, ChunkingConfig, chunk_text
from sovra.data.classify import ClassificationResult, classify
from sovra.data.embed import Vectors
from sovra.data.index import ChunkBatch
from sovra.data.parsers import parse
from sovra.data.tokens import content_mac, index_terms, source_key
from sovra.data.uploads import Upload
from sovra.data.values import Collection, CollectionSpec, IngestResult, IngestSummary
from sovra.errors import (
    ConflictError,
    DataError,
    FileTooLargeError,
    InvalidInputError,
    ParseError,
    StorageError,
)
from sovra.identity import Caller
from sovra.policy import Classification, Resource
from sovra.store.tables.data import (
    data_chunk_content,
    data_chunks,
    data_collections,
    data_documents,
)

Progress = Callable[[str, int], None]  # (file name, bytes done) after each file


@dataclass(frozen=True)
class _Target:
    """Where a new document version goes."""

    collection_id: str
    document_id: str
    version: int
    source_key: str
    content_mac: str
    index_key: bytes
    ingest_seq: int


@dataclass(frozen=True)
class _Prepared:
    name: str
    data: bytes
    text: str
    kind: str
    metadata: dict[str, str]
    result: ClassificationResult
    chunks: list[Chunk]


class CollectionsAndIngest:
    core: Core
    upload_dir: Path | None

    # -- collections -------------------------------------------------------------------

    def create_collection(self, caller: Caller, spec: CollectionSpec) -> Collection:
        spec.validate()
        core = self.core
        core.require_unsealed()
        with core.engine.connect() as conn:
            if conn.execute(select(data_collections.c.id).where(
                    data_collections.c.id == spec.id)).first() is not None:
                raise ConflictError(f"collection {spec.id!r} exists already")
        record = {"owner": spec.owner, "purpose": spec.purpose,
                  "subject_categories": list(spec.subject_categories),
                  "data_categories": list(spec.data_categories),
                  "retention_days": spec.retention_days, "jurisdiction": spec.jurisdiction,
                  "ceiling": spec.ceiling.label}
        core.record(caller, "data.collection.create", f"collection/{spec.id}", "success", record)
        keyring = collection_keyring(spec.id)
        core.keys.create_keyring(keyring, actor=caller.principal_id)
        wrapped = core.keys.encrypt(keyring, INDEX_KEY_OBJECT, os.urandom(32))
        now = core.clock()
        try:
            with core.engine.begin() as conn:
                conn.execute(insert(data_collections).values(
                    id=spec.id, owner=spec.owner, purpose=spec.purpose,
                    subject_categories=json.dumps(list(spec.subject_categories)),
                    data_categories=json.dumps(list(spec.data_categories)),
                    retention_days=spec.retention_days, jurisdiction=spec.jurisdiction,
                    ceiling=int(spec.ceiling), keyring_id=keyring, wrapped_index_key=wrapped,
                    generation=0, created_at=now, created_by=caller.principal_id))
        except SQLAlchemyError as exc:
            core.keys.destroy_keyring(keyring, actor=caller.principal_id)
            core.record(caller, "data.collection.create", f"collection/{spec.id}", "failure",
                        {"error": type(exc).__name__})
            raise StorageError(f"cannot create collection {spec.id!r}: {exc}") from exc
        return Collection(spec, keyring, now, caller.principal_id)

    def list_collections(self, caller: Caller) -> list[Collection]:
        """The collections the caller may read (``collections.read``)."""
        core = self.core
        with core.engine.connect() as conn:
            rows = conn.execute(select(data_collections).order_by(data_collections.c.id)).all()
            out = [collection_from_row(row, core.held(conn, row.id, None)) for row in rows]
        return [c for c in out if core.decide(caller, "collections.read", collection_resource(c))]

    def get_collection(self, collection_id: str) -> Collection:
        with self.core.engine.connect() as conn:
            row = self.core.collection_row(conn, collection_id)
            return collection_from_row(row, self.core.held(conn, collection_id, None))

    # -- ingest ------------------------------------------------------------------------

    def ingest(self, caller: Caller, collection_id: str, name: str, data: bytes,
               declared: Classification = Classification.PUBLIC) -> IngestResult:
        """Ingest one file's bytes. Raises DataError subclasses for this file's problems."""
        core = self.core
        core.require_unsealed()
        collection = self.get_collection(collection_id)
        if core.screen is not None:  # before parsing: the raw bytes, as they arrived
            core.screen(caller.principal_id, f"collection/{collection_id}", name, data)
        prepared = self._prepare(name, data, declared)
        level = prepared.result.level
        with core.engine.connect() as conn:
            key = core.index_key(conn, collection_id)
            src = source_key(name, key)
            mac = content_mac(data, key)
            latest = conn.execute(
                select(data_documents.c.id, data_documents.c.version,
                       data_documents.c.content_mac)
                .where(data_documents.c.collection_id == collection_id,
                       data_documents.c.source_key == src)
                .order_by(data_documents.c.version.desc()).limit(1)).first()
        resource = f"collection/{collection_id}"
        core.record(caller, "data.classify", resource, "success", {
            "level": level.label, "declared": declared.label,
            "raised_by": [k.value for k in prepared.result.raised_by],
            "findings": prepared.result.counts(), "source": src[:16]})
        self._refuse_above_ceiling(caller, collection, name, level)
        # Whether a document of this name exists, its version and its bytes are facts
        # about documents; only a caller who may read every document the collection can
        # hold learns them. Anyone else gets the same answer either way (a new version,
        # its number withheld), so ingest is neither an existence nor a content oracle.
        sees_all = self.sees_every_document(caller, collection)
        if sees_all and latest is not None and latest.content_mac == mac:
            core.record(caller, "data.ingest", resource, "success", {
                "document_id": latest.id, "version": latest.version, "unchanged": True})
            return IngestResult(name, "unchanged", latest.id, latest.version, level,
                                size_bytes=len(data), findings=prepared.result.counts())
        version = 1 if latest is None else latest.version + 1
        document_id = uuid.uuid4().hex
        vectors = core.embedder.embed([c.text for c in prepared.chunks])
        receipt = core.record(caller, "data.ingest", resource, "success", {
            "document_id": document_id, "version": version, "kind": prepared.kind,
            "size_bytes": len(data), "chunks": len(prepared.chunks), "level": level.label,
            "version_withheld": not sees_all})
        self._store(caller, _Target(collection_id, document_id, version, src, mac, key,
                                    receipt.seq), prepared, vectors)
        return IngestResult(name, "ingested", document_id, version if sees_all else None,
                            level, len(prepared.chunks), len(data), prepared.result.counts())

    def _refuse_above_ceiling(self, caller: Caller, collection: Collection, name: str,
                              level: Classification) -> None:
        ceiling = collection.spec.ceiling
        if level > ceiling:
            self.core.record(caller, "data.ingest", f"collection/{collection.id}", "denied", {
                "reason": "above the collection's classification ceiling",
                "level": level.label, "ceiling": ceiling.label})
            raise InvalidInputError(f"{name}: classified {level.label}, above the ceiling "
                                    f"{ceiling.label} of collection {collection.id!r}")

    def sees_every_document(self, caller: Caller, collection: Collection) -> bool:
        """Whether ``caller`` may read any document ``collection`` can hold.

        ``collections.read`` on the collection and ``documents.read`` at its ceiling
        (the clearance rule compares with the classification). Decided from the caller
        and the collection's record alone, never from the documents stored, so the
        answer itself says nothing about them.
        """
        core = self.core
        any_document = Resource("Document", attributes={
            "classification": int(collection.spec.ceiling)})
        return (core.decide(caller, "collections.read", collection_resource(collection))
                and core.decide(caller, "documents.read", any_document))

    def spool_dir(self) -> Path:
        """Where uploads are spooled, encrypted, while they arrive (ADR 0406)."""
        if self.upload_dir is None:
            raise StorageError("no upload directory: this data service was opened without "
                               "a data directory (open it with sovra.instance.open_instance)")
        return self.upload_dir

    def ingest_upload(self, caller: Caller, collection_id: str, upload: Upload,
                      declared: Classification = Classification.PUBLIC) -> IngestResult:
        """Ingest a file received by ``receive_upload``; its spool is removed either way."""
        data = upload.read()  # closes the spool, which removes it
        return self.ingest(caller, collection_id, upload.filename or "upload.txt", data,
                           declared)

    def _prepare(self, name: str, data: bytes, declared: Classification) -> _Prepared:
        config = self.core.config
        parsed = parse(name, data, config.limits)
        text = parsed.text
        result = classify(text, declared, config.mapping)
        chunks = chunk_text(text, parsed.page_starts(),
                            ChunkingConfig(config.chunk_size, config.chunk_overlap))
        return _Prepared(name, data, text, parsed.kind, dict(parsed.metadata), result, chunks)

    def _store(self, caller: Caller, target: _Target, prepared: _Prepared,
               vectors: Vectors) -> None:
        core = self.core
        collection_id, document_id = target.collection_id, target.document_id
        keyring = document_keyring(document_id)
        core.keys.create_keyring(keyring, actor=caller.principal_id)
        try:
            document_key = sealing.new_document_key()
            wrapped = core.keys.encrypt(keyring, f"data/document/{document_id}", document_key)
            body = sealing.seal(document_key, f"document/{document_id}", json.dumps({
                "name": prepared.name, "text": prepared.text,
                "metadata": prepared.metadata}).encode("utf-8"))
            level = int(prepared.result.level)
            rows = [{
                "document_id": document_id, "collection_id": collection_id,
                "chunk_index": c.index, "start_offset": c.start, "end_offset": c.end,
                "page": c.page, "classification": level} for c in prepared.chunks]
            contents = [{
                "body": sealing.seal(document_key, f"chunk/{document_id}/{c.index}",
                                     c.text.encode("utf-8")),
                "terms": index_terms(c.text, target.index_key)} for c in prepared.chunks]
            with core.engine.begin() as conn:  # one transaction per document
                conn.execute(insert(data_documents).values(
                    id=document_id, collection_id=collection_id, source_key=target.source_key,
                    version=target.version, content_mac=target.content_mac, kind=prepared.kind,
                    size_bytes=len(prepared.data), classification=level,
                    declared=int(prepared.result.declared),
                    findings=json.dumps(prepared.result.counts()), keyring_id=keyring,
                    wrapped_key=wrapped, body=body,
                    body_sha256=hashlib.sha256(body).hexdigest(),
                    chunk_count=len(rows), created_at=core.clock(),
                    created_by=caller.principal_id))
                ids = _insert_chunks(conn, rows, contents)
                core.index.add(conn, ChunkBatch(collection_id, level, ids,
                                                [str(c["terms"]) for c in contents], vectors))
                core.bump_generation(conn, collection_id)
        except BaseException as exc:
            # Undo what sovra.keys made, so the failed document leaves no live key.
            core.keys.destroy_keyring(keyring, actor=caller.principal_id)
            core.record(caller, "data.ingest", f"collection/{collection_id}", "failure", {
                "document_id": document_id, "error": type(exc).__name__,
                "ingest_seq": target.ingest_seq})
            if isinstance(exc, SQLAlchemyError):
                raise StorageError(f"{prepared.name}: could not store: {exc}") from exc
            raise

    def ingest_paths(self, caller: Caller, collection_id: str, paths: Iterable[Path],
                     declared: Classification = Classification.PUBLIC,
                     progress: Progress | None = None) -> IngestSummary:
        """Ingest files and folders (recursively); per-file errors are reported, not raised.

        Errors that concern the whole operation (sealed, ledger unavailable, no such
        collection, storage down) are raised: going on would fail for every file.
        """
        self.get_collection(collection_id)
        results: list[IngestResult] = []
        for path in expand(paths):
            results.append(self._ingest_file(caller, collection_id, path, declared))
            if progress is not None:
                progress(path.name, results[-1].size_bytes)
        return IngestSummary(tuple(results))

    def _ingest_file(self, caller: Caller, collection_id: str, path: Path,
                     declared: Classification) -> IngestResult:
        limit = self.core.config.limits.max_bytes
        try:
            size = path.stat().st_size
            # Checked before reading, so a huge file never reaches memory.
            data = path.read_bytes() if size <= limit else None
        except OSError as exc:
            return IngestResult(path.name, "failed", error=f"cannot read: {exc.strerror}",
                                error_type="OSError")
        if data is None:
            error = FileTooLargeError(f"{path.name}: {size} bytes, above the limit of "
                                      f"{limit} bytes (setting data_max_file_bytes)")
            return IngestResult(path.name, "failed", size_bytes=size, error=str(error),
                                error_type=type(error).__name__)
        try:
            return self.ingest(caller, collection_id, str(path.name), data, declared)
        except (ParseError, FileTooLargeError, InvalidInputError, DataError) as exc:
            return IngestResult(path.name, "failed", error=str(exc), size_bytes=size,
                                error_type=type(exc).__name__)

    def document_count(self, collection_id: str) -> int:
        with self.core.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(data_documents).where(
                data_documents.c.collection_id == collection_id)).scalar_one())


def _insert_chunks(conn: Connection, rows: list[dict[str, Any]],
                   contents: list[dict[str, Any]]) -> list[int]:
    """Insert the chunks and their contents in statement batches; the ids, in order."""
    if not rows:
        return []
    result = conn.execute(insert(data_chunks).returning(data_chunks.c.id,
                                                        sort_by_parameter_order=True), rows)
    ids = [int(row[0]) for row in result]
    conn.execute(insert(data_chunk_content),
                 [{"id": i, **content} for i, content in zip(ids, contents, strict=True)])
    return ids


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files named, and files inside folders named (sorted, hidden files skipped)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file()
                              and not any(part.startswith(".") for part in
                                          p.relative_to(path).parts)))
        else:
            out.append(path)
    return out


def collection_resource(collection: Collection) -> Resource:
    # No classification attribute: the ceiling bounds what the collection may hold, not
    # what each reader sees; documents are filtered by their own level in the query.
    return Resource("Collection", collection.id, {
        "jurisdiction": collection.spec.jurisdiction, "legal_hold": collection.legal_hold})


__all__ = ["CollectionsAndIngest", "Progress", "collection_resource", "expand"]
