"""The one place library errors become CLI messages and exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn, TypeVar

from rich.console import Console

from sovra import errors

T = TypeVar("T")

# Exit codes: 0 ok, 1 "the answer is no" (verification invalid, policy test failed),
# 2 bad usage or input, 3 cannot read/open, 4 sealed or unavailable, 5 denied.
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_UNREADABLE = 3
EXIT_UNAVAILABLE = 4
EXIT_DENIED = 5

_EXIT: tuple[tuple[type[errors.SovraError], int], ...] = (
    (errors.ArchiveError, EXIT_UNREADABLE),
    (errors.SealedError, EXIT_UNAVAILABLE),
    (errors.HsmError, EXIT_UNAVAILABLE),
    (errors.LedgerUnavailableError, EXIT_UNAVAILABLE),
    (errors.StorageError, EXIT_UNAVAILABLE),
    (errors.ServerUnreachableError, EXIT_UNAVAILABLE),
    (errors.AuthError, EXIT_DENIED),
    (errors.ConfigError, EXIT_USAGE),
    (errors.InvalidInputError, EXIT_USAGE),
)

stderr = Console(stderr=True)


def fail(exc: errors.SovraError) -> NoReturn:
    code = next((c for kind, c in _EXIT if isinstance(exc, kind)), EXIT_INVALID)
    stderr.print(f"[bold red]error:[/] {type(exc).__name__}: {exc}", highlight=False)
    sys.exit(code)


def run(action: Callable[[], T]) -> T:
    """Run ``action``, turning any Sovra error into a message and an exit code."""
    try:
        return action()
    except errors.SovraError as exc:
        fail(exc)
