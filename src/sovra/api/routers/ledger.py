"""Ledger routes: latest checkpoint, entry with inclusion proof, consistency proof, and
witness cosignatures. Thin: parse, call the ledger, render. Every route goes through
``authorized``; reads need ``ledger.read``, adding a cosignature ``ledger.witness``.
Routes are plain ``def``: proofs and appends block briefly, so FastAPI runs them in its
thread pool.
"""

from __future__ import annotations

import base64
import json
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from sovra.api.auth import authorized
from sovra.api.deps import get_instance
from sovra.identity import Caller
from sovra.instance import Instance
from sovra.ledger.note import MAX_NOTE_BYTES

router = APIRouter(prefix="/ledger", tags=["ledger"])

InstanceDep = Annotated[Instance, Depends(get_instance)]
Reader = Annotated[Caller, Depends(authorized("ledger.read", "Ledger"))]
Witness = Annotated[Caller, Depends(authorized("ledger.witness", "Ledger"))]


def _b64(values: list[bytes]) -> list[str]:
    return [base64.b64encode(v).decode("ascii") for v in values]


class EntryOut(BaseModel):
    seq: int
    entry: dict[str, object] = Field(description="The entry as recorded (RFC 8785 JSON)")
    leaf_hash: str = Field(description="base64 RFC 9162 leaf hash")
    tree_size: int
    inclusion_proof: list[str] = Field(description="base64 hashes, leaf to root "
                                       "(RFC 9162 §2.1.3)")


class ConsistencyOut(BaseModel):
    first: int
    second: int
    proof: list[str] = Field(description="base64 hashes (RFC 9162 §2.1.4)")


class CosignatureIn(BaseModel):
    note: str = Field(max_length=MAX_NOTE_BYTES,
                      description="The checkpoint note carrying the witness's cosignature")
    witness_key: str = Field(max_length=1024,
                             description="The witness verifier key (name+id+base64)")


class CosignatureOut(BaseModel):
    tree_size: int
    witness: str


@router.get("/checkpoint", response_class=PlainTextResponse,
            summary="Latest signed checkpoint (C2SP signed note, with cosignatures)")
def latest_checkpoint(instance: InstanceDep, _caller: Reader) -> PlainTextResponse:
    return PlainTextResponse(instance.ledger.latest_checkpoint(),
                             media_type="text/plain; charset=utf-8")


@router.get("/entries/{seq}", response_model=EntryOut,
            summary="One entry with its inclusion proof against a tree size")
def entry_with_proof(instance: InstanceDep, _caller: Reader, seq: int,
                     tree_size: Annotated[int | None, Query(ge=1)] = None) -> EntryOut:
    found = instance.ledger.entry_with_proof(seq, tree_size)
    return EntryOut(seq=found.seq, entry=json.loads(found.body),
                    leaf_hash=base64.b64encode(found.leaf_hash).decode("ascii"),
                    tree_size=found.tree_size, inclusion_proof=_b64(found.proof))


@router.get("/consistency", response_model=ConsistencyOut,
            summary="Consistency proof between two tree sizes")
def consistency(instance: InstanceDep, _caller: Reader,
                first: Annotated[int, Query(ge=0)],
                second: Annotated[int | None, Query(ge=0)] = None) -> ConsistencyOut:
    size = second if second is not None else instance.ledger.size
    proof = instance.ledger.consistency_proof(first, size)
    return ConsistencyOut(first=first, second=size, proof=_b64(proof))


@router.post("/cosignatures", response_model=CosignatureOut, status_code=201,
             summary="Add a witness cosignature (C2SP tlog-cosignature) to a checkpoint")
def add_cosignature(instance: InstanceDep, _caller: Witness,
                    body: Annotated[CosignatureIn, Body()]) -> CosignatureOut:
    size, name = instance.ledger.add_cosignature(body.note, body.witness_key)
    return CosignatureOut(tree_size=size, witness=name)
