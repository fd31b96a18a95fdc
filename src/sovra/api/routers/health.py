"""Liveness. Public by design: it reveals nothing but that the process answers."""

from __future__ import annotations

from fastapi import APIRouter

import sovra

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok", "version": sovra.__version__}
