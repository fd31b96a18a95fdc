"""Ledger routes (checkpoint, entry with inclusion proof, consistency proof)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/ledger", tags=["ledger"])
