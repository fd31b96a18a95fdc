"""The one place library errors become HTTP status codes and response bodies.

Routes under ``/v1/`` (the OpenAI-compatible surface) answer in OpenAI's error format
(``{"error": {"message", "type", "param", "code"}}``) so unmodified OpenAI clients raise
the right exception; every other route answers ``{"error": {"type", "message"}}``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from sovra import errors

# Most specific first: the first match wins.
_STATUS: tuple[tuple[type[errors.SovraError], int], ...] = (
    (errors.SealedError, 503),
    (errors.HsmError, 503),
    (errors.LedgerUnavailableError, 503),
    (errors.OverloadedError, 503),
    (errors.StorageBusyError, 503),
    (errors.StorageUnavailableError, 503),
    (errors.AuthenticationError, 401),
    (errors.RateLimitedError, 429),
    (errors.QuotaExceededError, 429),
    (errors.PermissionDeniedError, 403),
    (errors.ClassificationRefusedError, 403),
    (errors.LegalHoldError, 409),
    (errors.NotFoundError, 404),
    (errors.ModelNotFoundError, 404),
    (errors.ConflictError, 409),
    (errors.FileTooLargeError, 413),
    (errors.UpstreamUnavailableError, 503),
    (errors.UpstreamError, 502),
    (errors.ShareError, 400),
    (errors.DecryptionError, 400),
    (errors.KeyDestroyedError, 410),
    (errors.ProofError, 400),
    (errors.NoteError, 400),
    (errors.CheckpointError, 409),
    (errors.PolicyValidationError, 422),
    (errors.InvalidInputError, 400),
    (errors.ParseError, 422),
    (errors.QuarantinedError, 422),
    (errors.BundleVerificationError, 422),
    (errors.ErasureCertificateError, 422),
    (errors.UnsafeArchiveError, 422),
    # Through the API an archive or report is always the caller's upload: unreadable
    # is unprocessable input, not a server fault (found by fuzzing every route).
    (errors.ArchiveError, 422),
)

_DEFAULT_RETRY_AFTER_S = 1.0

_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    502: "api_error",
    503: "service_unavailable",
}


def status_for(exc: errors.SovraError) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def error_response(request: Request, status: int, kind: str, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """Render an error in the format the route's clients expect."""
    if request.url.path.startswith("/v1/"):
        body = {"error": {"message": message, "type": _OPENAI_TYPES.get(status, "api_error"),
                          "param": None, "code": kind}}
    else:
        body = {"error": {"type": kind, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


async def _sovra_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.SovraError)  # registered for SovraError only
    status = status_for(exc)
    headers: dict[str, str] = {}
    retry_after = getattr(exc, "retry_after_s", None)
    if retry_after is None and status == 503:
        # Every 503 is temporary by definition (RFC 9110 §15.6.4): say when to retry.
        retry_after = _DEFAULT_RETRY_AFTER_S
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, round(retry_after)))
    message = str(exc) if status != 500 else "internal error; see the server log"
    return error_response(request, status, type(exc).__name__, message, headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg')}" for err in exc.errors()
    )
    return error_response(request, 400 if request.url.path.startswith("/v1/") else 422,
                          "InvalidInputError", f"invalid request: {problems}")


async def render_error(request: Request, exc: Exception) -> JSONResponse | None:
    """The response the app's handlers give ``exc``, or None if none applies; for a
    route served before FastAPI's router (the chat hot path) so it answers the same."""
    if isinstance(exc, errors.SovraError):
        return await _sovra_error(request, exc)
    if isinstance(exc, RequestValidationError):
        return await _validation_error(request, exc)
    return None


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.SovraError, _sovra_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
