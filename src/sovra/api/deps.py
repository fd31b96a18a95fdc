"""Dependencies shared by routers (besides authorization, which lives in ``api.auth``)."""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.datastructures import UploadFile

from sovra.api.validation import Problem, json_problems, parameter_problems, text_problem
from sovra.instance import Instance


def get_instance(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance


@dataclass(frozen=True)
class _Shape:
    """What the guard needs to know of a route: its integer parameters, whether the
    guard checks its body (it reads one, and no dependency checks it later)."""

    path_integers: frozenset[str]
    query_integers: frozenset[str]
    checks_body: bool


_NO_ROUTE = _Shape(frozenset(), frozenset(), checks_body=False)


class RefuseHostileInput:
    """The app-wide dependency that refuses hostile values before anything else runs.

    Applied to every route (``FastAPI(dependencies=...)``), so it runs before the
    ``authorized`` dependency records anything: a path or query parameter carrying NUL
    or a lone surrogate, or an integer parameter beyond 64 bits, is answered 422 (400 on
    ``/v1``) naming the parameter, and never reaches a database statement or the ledger
    (issue 13; the checks are ``sovra.api.validation``). Resource ids come from the path
    and the query, so these must be refused before a decision names them.

    The body is checked here only on a route without a dependency that checks it
    itself (``checks_body``): ``authorized`` checks it after recording its decision, in
    the order FastAPI validates bodies (after dependencies), so a hostile body is
    answered like any invalid one, the same way on the chat hot path and its route.
    """

    def __init__(self) -> None:
        # Route shapes, computed once per route; keyed by identity (routes compare by
        # value and are not hashable) and holding the route so its id stays its own.
        self._shapes: dict[int, tuple[APIRoute, _Shape]] = {}

    async def __call__(self, request: Request) -> None:
        scope = request.scope
        shape = self._shape(scope.get("route"))
        problems: list[Problem] = []
        # Per parameter only when the whole could hold a problem: every path parameter
        # is a piece of the decoded path, and in the query NUL can only arrive as %00
        # (the request line cannot carry it, and decoding replaces invalid UTF-8).
        if shape.path_integers or text_problem(scope.get("path", "")) is not None:
            problems += parameter_problems(
                "path", ((name, str(value)) for name, value in request.path_params.items()),
                shape.path_integers)
        query: bytes = scope.get("query_string", b"")
        if query and (shape.query_integers or b"%00" in query or b"\x00" in query):
            problems += parameter_problems("query", request.query_params.multi_items(),
                                           shape.query_integers)
        if shape.checks_body:
            problems += await body_problems(request)
        if problems:
            raise refusal(problems)

    def _shape(self, route: object) -> _Shape:
        if not isinstance(route, APIRoute):
            return _NO_ROUTE
        found = self._shapes.get(id(route))
        if found is None or found[0] is not route:
            shape = _Shape(_integer_names(route.dependant.path_params),
                           _integer_names(route.dependant.query_params),
                           checks_body=(route.body_field is not None
                                        and not _checked_later(route.dependant)))
            self._shapes[id(route)] = (route, shape)
            return shape
        return found[1]


def refusal(problems: list[Problem]) -> RequestValidationError:
    """The error that answers ``problems``: rendered like any invalid request."""
    return RequestValidationError([
        {"type": "value_error", "loc": p.loc, "msg": p.message, "input": None}
        for p in problems])


def _checked_later(dependant: Dependant) -> bool:
    """Whether a dependency of the route checks the body itself (``checks_body``)."""
    return any(getattr(sub.call, "checks_body", False) or _checked_later(sub)
               for sub in dependant.dependencies)


def _integer_names(fields: typing.Sequence[Any]) -> frozenset[str]:
    names = set()
    for field in fields:
        if _mentions_int(getattr(field.field_info, "annotation", None)):
            names.add(field.alias or field.name)
    return frozenset(names)


def _mentions_int(annotation: object) -> bool:
    if annotation is int:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, typing.Annotated, list, tuple, set):
        return any(_mentions_int(arg) for arg in typing.get_args(annotation))
    return False


def reads_body(request: Request) -> bool:
    """Whether the request was routed to a route that reads a body (FastAPI has then
    read and parsed it already; the chat hot path, served before routing, has not)."""
    route = request.scope.get("route")
    return isinstance(route, APIRoute) and route.body_field is not None


async def body_problems(request: Request) -> list[Problem]:
    """Problems in the body the route reads, parsed as FastAPI parses it (the parse is
    cached on the request, so this reads nothing twice)."""
    content_type = request.headers.get("content-type", "")
    mime = content_type.partition(";")[0].strip().lower()
    if mime in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return _form_problems(await request.form())
    if mime and not (mime == "application/json" or mime.endswith("+json")):
        return []
    if not await request.body():
        return []
    try:
        parsed = await request.json()
    except ValueError:  # not JSON: the route's own validation answers that
        return []
    return json_problems(parsed)


def _form_problems(form: Any) -> list[Problem]:
    problems: list[Problem] = []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            message = text_problem(value.filename or "")
            if message is not None:
                problems.append(Problem(("body", name, "filename"), message))
        else:
            problems.extend(json_problems(value, ("body", name)))
        message = text_problem(name)
        if message is not None:
            problems.append(Problem(("body", name), f"the field name {message}"))
    return problems


__all__ = ["RefuseHostileInput", "body_problems", "get_instance", "reads_body", "refusal"]
