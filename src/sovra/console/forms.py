"""Small helpers every page shares: whole numbers from a form or a path, safe download
names, the login page's ``next`` (never another site), and the 303 after a form."""

from __future__ import annotations

from urllib.parse import quote_plus

from starlette.requests import Request
from starlette.responses import RedirectResponse

from sovra.errors import InvalidInputError


def number(value: str, what: str) -> int:
    """A whole number (at most 19 digits), or a 400 naming the field."""
    if not value.isdigit() or len(value) > 19:
        raise InvalidInputError(f"{what} must be a whole number, not {value!r}")
    return int(value)


def safe_name(name: str) -> str:
    """A file name for ``content-disposition``: letters, digits and ``-_.`` only."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)[:120]


def base_of(request: Request) -> str:
    return str(request.scope.get("root_path", ""))


def next_of(request: Request, given: object = None) -> str:
    return given if isinstance(given, str) else request.query_params.get("next", "")


def safe_next(base: str, value: str) -> str:
    """Only a path inside the console: never another site (open redirect)."""
    if value.startswith(f"{base}/") and not value.startswith("//") and "\\" not in value:
        return value
    return f"{base}/"


def done(request: Request, path: str, message: str) -> RedirectResponse:
    """After a form: back to ``path`` (303, so a reload repeats nothing) with a line
    saying what was done."""
    return RedirectResponse(f"{base_of(request)}{path}?done={quote_plus(message)}", 303)


__all__ = ["base_of", "done", "next_of", "number", "safe_name", "safe_next"]
