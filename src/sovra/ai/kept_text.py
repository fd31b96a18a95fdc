"""Erasure by data subject (GDPR Art. 17) reaches the prompts and answers the gateway kept.

A collection may ask the gateway to keep the (encrypted) prompt and answer of requests
that retrieved from it (``text_policy``). That text can name a data subject, so the data
room's erasure calls this eraser (registered in ``open_instance``) after it has erased
the subject's documents. Kept text goes when it mentions the subject (case-folded, or the
detectors' normal form of the identifier, as the data room matches documents) or when its
request retrieved one of the erased documents (the answer may repeat them). The index
row and the ledger entries stay: they hold hashes, not text, and keep the request
traceable. The erasure is recorded before anything is removed (record, then act), and the
certificate counts the requests whose text was removed.

Only the database rows hold kept text: the index batches never carry it (ADR 0608) and
no cache holds it. PostgreSQL keeps a removed row version until VACUUM reclaims it
(docs/data.md, "Erasure").
"""

from __future__ import annotations

import json

from sovra.ai.events import Event, Outcome
from sovra.ai.ports import KeysPort, LedgerPort
from sovra.ai.request_index import IndexRow, RequestIndex
from sovra.data import ErasureRequest
from sovra.data.classify import scan
from sovra.errors import SealedError

ERASER_NAME = "ai.kept_text"


class KeptTextEraser:
    """The eraser for kept AI text; call it with an ``ErasureRequest``."""

    def __init__(self, index: RequestIndex, ledger: LedgerPort, keys: KeysPort | None,
                 keyring: str) -> None:
        self._index = index
        self._ledger = ledger
        self._keys = keys
        self._keyring = keyring

    def __call__(self, request: ErasureRequest) -> int:
        """Erase the kept text that mentions the subject; the number of requests."""
        rows = self._index.kept()
        if not rows:
            return 0
        touched = set(request.document_ids)
        doomed = [row.request_id for row in rows
                  if self._retrieved(row, touched) or self._mentions(row, request)]
        if not doomed:
            return 0
        self._ledger.append(*Event(request.actor, "ai.kept_text.erase", "ai/kept-text",
                                   Outcome.SUCCESS, {"certificate_id": request.certificate_id,
                                                     "requests": doomed}).fields())
        return self._index.erase_texts(doomed)

    def _retrieved(self, row: IndexRow, documents: set[str]) -> bool:
        if not documents or row.request_seq is None:
            return False
        entry = json.loads(self._ledger.entry(row.request_seq).body)
        chunks = entry.get("details", {}).get("chunks", [])
        return any(c.get("document_id") in documents for c in chunks)

    def _mentions(self, row: IndexRow, request: ErasureRequest) -> bool:
        keys = self._keys
        if keys is None:
            raise SealedError("no key service to read kept text with")
        needle = request.subject.strip().casefold()
        for suffix, blob in (("prompt", row.prompt_ciphertext),
                             ("answer", row.answer_ciphertext)):
            if blob is None:
                continue
            text = keys.decrypt(self._keyring, f"{row.request_id}/{suffix}", blob).decode()
            if needle and needle in text.casefold():
                return True
            if any(f.normalized == request.normalized for f in scan(text)):
                return True
        return False


__all__ = ["ERASER_NAME", "KeptTextEraser"]
