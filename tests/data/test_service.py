"""The data service on both profiles: collections, ingest, versions, retrieval, access."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text

from sovra.data.values import CollectionSpec
from sovra.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from sovra.instance import Instance
from sovra.policy import Classification
from sovra.store.tables.data import data_chunk_content, data_chunks, data_documents
from tests.data.conftest import ADMIN, ANALYST, OUTSIDER, spec
from tests.data.files import make_pdf

CONTRACT = (b"Employment contract for Anna Keller. Salary is paid monthly to the account "
            b"DE89 3704 0044 0532 0130 00. Holidays: 30 days per year.")
HANDBOOK = b"The office opens at eight. Lunch is served in the canteen on the ground floor."


def ledger_actions(instance: Instance) -> list[str]:
    with instance.engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT action FROM ledger_entries ORDER BY seq"))]


def test_collection_needs_the_art30_record(data: Instance) -> None:
    bad = CollectionSpec("hr", "HR", "contracts", (), ("contact",), 365, "EU",
                         Classification.SECRET)
    with pytest.raises(InvalidInputError, match=r"Art\. 30"):
        data.data.create_collection(ADMIN, bad)
    created = data.data.create_collection(ADMIN, spec())
    assert created.keyring_id == "data.collection.hr"
    assert data.keys.keyring("data.collection.hr").destroyed is False
    with pytest.raises(ConflictError):
        data.data.create_collection(ADMIN, spec())
    assert "data.collection.create" in ledger_actions(data)


def test_ingest_classifies_encrypts_and_versions(data: Instance) -> None:
    data.data.create_collection(ADMIN, spec())
    first = data.data.ingest(ADMIN, "hr", "contract.txt", CONTRACT)
    assert first.status == "ingested" and first.version == 1
    assert first.classification is Classification.CONFIDENTIAL
    assert first.findings == {"iban": 1}
    again = data.data.ingest(ADMIN, "hr", "contract.txt", CONTRACT)
    assert again.status == "unchanged" and again.document_id == first.document_id
    changed = data.data.ingest(ADMIN, "hr", "contract.txt", CONTRACT + b" Amended.")
    assert changed.status == "ingested" and changed.version == 2
    assert changed.document_id != first.document_id
    # At rest: no plaintext anywhere in the data tables.
    with data.data.core.engine.connect() as conn:
        blobs = [bytes(r[0]) for r in conn.execute(select(data_chunk_content.c.body))]
        blobs += [bytes(r[0]) for r in conn.execute(select(data_documents.c.body))]
        terms = " ".join(r[0] for r in conn.execute(select(data_chunk_content.c.terms)))
    assert blobs and all(b"Keller" not in b and b"DE89" not in b for b in blobs)
    assert "keller" not in terms.lower() and "salary" not in terms.lower()
    actions = ledger_actions(data)
    assert actions.count("data.ingest") == 3 and actions.count("data.classify") == 3


def test_ceiling_refuses_a_document_above_it(data: Instance) -> None:
    data.data.create_collection(ADMIN, spec("public-docs", ceiling=Classification.INTERNAL))
    with pytest.raises(InvalidInputError, match="above the ceiling"):
        data.data.ingest(ADMIN, "public-docs", "c.txt", CONTRACT)
    assert data.data.document_count("public-docs") == 0


def test_retrieval_cites_version_and_position(data: Instance) -> None:
    data.data.create_collection(ADMIN, spec())
    data.data.ingest(ADMIN, "hr", "handbook.txt", HANDBOOK)
    pdf = make_pdf(["Travel expenses are reimbursed within 30 days.", "Parking is free."])
    data.data.ingest(ADMIN, "hr", "policy.pdf", pdf)
    hits = data.data.retrieve(ADMIN, "when are travel expenses reimbursed", ["hr"], k=3)
    top = hits[0]
    assert "Travel expenses" in top.text and top.page == 1 and top.version == 1
    _info, name, full = data.data.read_document(ADMIN, top.document_id)
    assert name == "policy.pdf" and full[top.start:top.end] == top.text
    assert "data.retrieve" in ledger_actions(data)


def test_retrieval_filters_by_clearance_inside_the_query(data: Instance) -> None:
    data.data.create_collection(ADMIN, spec())
    data.data.ingest(ADMIN, "hr", "contract.txt", CONTRACT)  # confidential
    data.data.ingest(ADMIN, "hr", "handbook.txt", HANDBOOK)  # public
    hits = data.data.retrieve(ANALYST, "salary account contract", ["hr"], k=10)
    assert hits and all(h.classification <= Classification.INTERNAL for h in hits)
    assert all("Keller" not in h.text for h in hits)
    assert any("Keller" in h.text for h in data.data.retrieve(ADMIN, "salary contract", k=10))
    secret_doc = next(d for d in data.data.list_documents(ADMIN, "hr")
                      if d.classification is Classification.CONFIDENTIAL)
    with pytest.raises(PermissionDeniedError):
        data.data.read_document(ANALYST, secret_doc.id)


def test_callers_without_read_permission_see_nothing(data: Instance) -> None:
    data.data.create_collection(ADMIN, spec())
    data.data.ingest(ADMIN, "hr", "handbook.txt", HANDBOOK)
    assert data.data.retrieve(OUTSIDER, "office canteen", k=5) == []
    assert data.data.list_collections(OUTSIDER) == []
    with pytest.raises(PermissionDeniedError):
        data.data.list_documents(OUTSIDER, "hr")


def test_folder_ingest_reports_bad_files_and_leaves_nothing_half_written(
        data: Instance, tmp_path) -> None:
    data.data.create_collection(ADMIN, spec())
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.txt").write_bytes(HANDBOOK)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "junk.txt").write_bytes(bytes(range(256)) * 8)
    (folder / "broken.pdf").write_bytes(make_pdf(["hello"])[:60])
    (folder / "sub").mkdir()
    (folder / "sub" / "more.md").write_bytes(b"# More\n\nThe canteen closes at three.")
    before = {k.keyring_id for k in data.keys.status().keyrings if not k.destroyed}
    summary = data.data.ingest_paths(ADMIN, "hr", [folder])
    assert summary.count("ingested") == 2
    assert {r.name: r.error_type for r in summary.failed} == {
        "broken.pdf": "ParseError", "empty.txt": "ParseError", "junk.txt": "ParseError"}
    after = {k.keyring_id for k in data.keys.status().keyrings if not k.destroyed}
    assert len(after - before) == 2  # one keyring per stored document, none for failures
    with data.data.core.engine.connect() as conn:
        chunks = conn.execute(select(func.count()).select_from(data_chunks)).scalar_one()
        stored = conn.execute(select(func.sum(data_documents.c.chunk_count))).scalar_one()
    assert chunks == stored


def test_oversized_file_in_a_folder_is_reported(data: Instance, tmp_path) -> None:
    data.data.create_collection(ADMIN, spec())
    limit = data.data.core.config.limits.max_bytes
    big = tmp_path / "big.txt"
    with big.open("wb") as handle:
        handle.truncate(limit + 1)
    summary = data.data.ingest_paths(ADMIN, "hr", [big])
    assert summary.failed[0].error_type == "FileTooLargeError"
    assert data.data.document_count("hr") == 0


def test_unknown_collection(data: Instance) -> None:
    with pytest.raises(NotFoundError):
        data.data.ingest(ADMIN, "nope", "a.txt", HANDBOOK)


def test_classification_result_is_recorded_without_values(data: Instance) -> None:
    data.data.create_collection(ADMIN, spec())
    data.data.ingest(ADMIN, "hr", "contract.txt", CONTRACT)
    with data.engine.connect() as conn:
        bodies = [bytes(r[0]) for r in conn.execute(text(
            "SELECT body FROM ledger_entries WHERE action = 'data.classify'"))]
    entry = json.loads(bodies[0])
    assert "iban" in json.dumps(entry) and "DE89" not in json.dumps(entry)


def _brute_force(conn, vector, limit: int) -> list[int]:
    """The exact ranking recomputed from the stored rows: every vector, one at a time."""
    import numpy as np

    rows = conn.execute(select(data_chunk_content.c.id, data_chunk_content.c.embedding)).all()
    query = np.asarray(vector, dtype=np.float32)
    scored = sorted(((-float(np.frombuffer(bytes(e), dtype="<f4") @ query), int(i))
                     for i, e in rows), key=lambda pair: pair)
    return [i for _, i in scored[:limit]]


def test_matrix_search_agrees_with_brute_force_and_follows_changes(data: Instance) -> None:
    svc = data.data
    svc.create_collection(ADMIN, spec())
    svc.ingest(ADMIN, "hr", "handbook.txt", HANDBOOK)
    scope = svc.allowed_scope(ADMIN, None)
    vector = svc.embedder.embed_one("canteen lunch")
    with svc.core.engine.connect() as conn:
        first = svc.core.index.dense(conn, vector, scope, 10)
    added = svc.ingest(ADMIN, "hr", "menu.txt", b"Lunch menu: soup, bread and salad daily.")
    with svc.core.engine.connect() as conn:
        after = svc.core.index.dense(conn, vector, scope, 10)
        assert after == _brute_force(conn, vector, 10)
    assert len(after) == len(first) + added.chunks
    assert added.document_id is not None
    svc.delete_document(ADMIN, added.document_id)
    with svc.core.engine.connect() as conn:
        assert svc.core.index.dense(conn, vector, scope, 10) == first


def _reference_ranking(instance: Instance, caller, query: str, k: int
                       ) -> list[tuple[str, int, float]]:
    """The retrieval ranking computed step by step, one search after the other."""
    from sovra.data.fusion import reciprocal_rank_fusion
    from sovra.data.tokens import query_terms

    core = instance.data.core
    scope = instance.data.allowed_scope(caller, None)
    with core.engine.connect() as conn:
        terms = [t for c in scope.collections for t in query_terms(query, core.index_key(conn, c))]
        lexical = core.index.lexical(conn, terms, scope, 50)
        dense = core.index.dense(conn, core.embedder.embed_one(query), scope, 50)
        fused = reciprocal_rank_fusion([lexical, dense])[:k]
        rows = {r.id: (r.document_id, r.chunk_index) for r in conn.execute(
            select(data_chunks).where(data_chunks.c.id.in_([i for i, _ in fused])))}
    return [(*rows[i], score) for i, score in fused]


def test_concurrent_retrieval_ranks_exactly_as_the_sequential_steps(data: Instance) -> None:
    """Lexical and dense searches overlap in two threads; the result must not change."""
    data.data.create_collection(ADMIN, spec())
    data.data.create_collection(ADMIN, spec("ops", ceiling=Classification.SECRET))
    words = ("invoice contract supplier delivery payment warranty schedule budget audit "
             "policy employee training safety report quarter revenue customer").split()
    for n in range(12):
        body = "\n\n".join(" ".join(words[(n * 3 + i + j) % len(words)] for j in range(40))
                           + "." for i in range(6))
        if n % 3 == 0:
            body += f"\n\nSalary paid to DE89 3704 0044 0532 0130 00, case {n}."
        data.data.ingest(ADMIN, "hr" if n % 2 else "ops", f"doc-{n}.txt", body.encode())
    for caller in (ADMIN, ANALYST):
        for query in ("supplier payment schedule", "salary account", "training safety audit"):
            got = data.data.retrieve(caller, query, None, 7)
            want = _reference_ranking(data, caller, query, 7)
            assert [(h.document_id, h.chunk_index, h.score) for h in got] == want
            assert all(h.classification <= Classification.parse(caller.clearance) for h in got)
    analyst_hits = data.data.retrieve(ANALYST, "salary account", None, 20)
    assert analyst_hits and all("DE89" not in h.text for h in analyst_hits)


def test_a_failing_lexical_search_fails_the_retrieval(data: Instance,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """An error in the worker thread reaches the caller; nothing is returned or recorded."""
    data.data.create_collection(ADMIN, spec())
    data.data.ingest(ADMIN, "hr", "handbook.txt", HANDBOOK)
    before = ledger_actions(data).count("data.retrieve")

    def broken(*args: object) -> list[int]:
        raise RuntimeError("disk gone")

    monkeypatch.setattr(data.data.core.index, "lexical", broken)
    with pytest.raises(RuntimeError, match="disk gone"):
        data.data.retrieve(ADMIN, "office canteen", k=3)
    assert ledger_actions(data).count("data.retrieve") == before


def test_a_failing_query_embedding_fails_the_retrieval(data: Instance,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedding runs in a worker thread next to the scope; its error still fails
    the call before anything is searched, returned or recorded."""
    data.data.create_collection(ADMIN, spec())
    data.data.ingest(ADMIN, "hr", "handbook.txt", HANDBOOK)
    before = ledger_actions(data).count("data.retrieve")

    def broken(*args: object) -> object:
        raise RuntimeError("model gone")

    monkeypatch.setattr(data.data.core.embedder, "embed_one", broken)
    with pytest.raises(RuntimeError, match="model gone"):
        data.data.retrieve(ADMIN, "office canteen", k=3)
    assert ledger_actions(data).count("data.retrieve") == before


def test_the_data_service_runs_numpy_blas_on_one_thread(data: Instance) -> None:
    """OpenBLAS worker threads would compete with the concurrent lexical search."""
    from threadpoolctl import threadpool_info

    blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
    assert blas and all(lib["num_threads"] == 1 for lib in blas)


def test_lexical_ties_are_ranked_by_chunk_id(data: Instance) -> None:
    """Identical chunks score the same; their order is defined (chunk id), not left to
    the engine, so the same inputs always give the same ranking."""
    data.data.create_collection(ADMIN, spec())
    paragraph = "The canteen serves soup on Mondays and fish on Fridays."
    for n in range(4):
        data.data.ingest(ADMIN, "hr", f"menu-{n}.txt", (paragraph + f"\n\nCopy {n}.").encode())
    core = data.data.core
    scope = data.data.allowed_scope(ADMIN, None)
    with core.engine.connect() as conn:
        from sovra.data.tokens import query_terms
        terms = query_terms("canteen soup", core.index_key(conn, "hr"))
        ranked = core.index.lexical(conn, terms, scope, 50)
    assert len(ranked) == 4 and ranked == sorted(ranked)
