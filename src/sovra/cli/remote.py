"""Read-only commands ask the running server when one answers (issue 15).

Opening the instance in a command's own process imports every room and opens the
database, the models and the key custody: 3-9 s here, for a read the server, which holds
all of that open already, answers in milliseconds over loopback. So a read-only command
given an API key asks the server that ``sovra up`` on this data directory noted in
``server.url`` (or the one ``--url`` names), and opens the instance itself only when no
server answers (or no key is given: on the machine itself the data directory is the
credential, as before).

Either way the command appends nothing to the ledger but the policy decision on its own
read, which the server records for every request and the in-process path for every
``--api-key`` check.
"""

from __future__ import annotations

from typing import Annotated

import typer

from sovra.cli.errors import fail
from sovra.cli.server import data_dir_without_settings, fetch, noted_url
from sovra.errors import InvalidInputError, ServerUnreachableError

# Short: the probe only tells a live server from a stale note left by a killed one.
PROBE_TIMEOUT_S = 1.0

Url = Annotated[str | None, typer.Option(
    "--url", show_default=False,
    help="Ask the server at this URL (default: the server `sovra up` on this data "
    "directory runs, if it answers; else the command opens the data directory itself).")]
OptionalApiKey = Annotated[str | None, typer.Option(
    "--api-key", envvar="SOVRA_API_KEY", show_default=False,
    help="Your API key (env SOVRA_API_KEY): with it the running server is asked.")]


def running_server(ctx: typer.Context, url: str | None) -> str | None:
    """The base URL to ask, or None to open the instance in this process.

    A ``url`` given explicitly is returned as it is (if nothing answers there the request
    fails with ``ServerUnreachableError``, as the user asked for that server); the noted
    URL only if its ``/healthz`` answers, so a note left by a killed server is ignored.
    """
    if url:
        return url.rstrip("/")
    noted = noted_url(data_dir_without_settings(ctx))
    if noted is None:
        return None
    try:
        answered = fetch("GET", f"{noted}/healthz", timeout_s=PROBE_TIMEOUT_S)
    except ServerUnreachableError:
        return None
    return None if answered.is_error else noted


def remote_base(ctx: typer.Context, url: str | None, api_key: str | None) -> str | None:
    """``running_server`` when an API key is given (the server needs one); else None.
    ``--url`` without a key is refused rather than quietly answered from the data
    directory instead of the server the user named."""
    if api_key is None:
        if url:
            fail(InvalidInputError(f"--url {url} asks that server, which needs an API key: "
                                   "give --api-key (or set SOVRA_API_KEY)"))
        return None
    return running_server(ctx, url)


__all__ = ["OptionalApiKey", "Url", "remote_base", "running_server"]
