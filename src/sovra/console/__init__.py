"""The console (issue 23): server-rendered pages at ``/console`` over the same services
and the same authorization as the API; nothing fetched from the internet (htmx and the
stylesheet are served from the package). See docs/console.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from sovra.console.sessions import SessionStore
    from sovra.instance import Instance

CONSOLE_PATH = "/console"


def console_app(instance: Instance, sessions: SessionStore | None = None) -> Starlette:
    """The console as an ASGI app; ``sovra.api.create_app`` mounts it at ``/console``."""
    from sovra.console.pages import console_app as build

    return build(instance, sessions)


__all__ = ["CONSOLE_PATH", "console_app"]
