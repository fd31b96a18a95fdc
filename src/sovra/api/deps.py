"""Dependencies shared by routers (besides authorization, which lives in ``api.auth``)."""

from __future__ import annotations

from fastapi import Request

from sovra.instance import Instance


def get_instance(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance
