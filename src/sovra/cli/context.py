"""Global CLI options and opening the instance they describe."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    # Imported where used: the settings pull in pydantic and the instance every room,
    # which `sovra --help` and `sovra --version` must not pay for (issue 15).
    from sovra.config import Settings
    from sovra.instance import Instance


@dataclass(frozen=True)
class GlobalOptions:
    data_dir: Path | None
    database_url: str | None

    def settings(self, **overrides: object) -> Settings:
        from sovra.config import load_settings

        return load_settings(data_dir=self.data_dir, database_url=self.database_url, **overrides)


def options(ctx: typer.Context) -> GlobalOptions:
    found = ctx.find_root().obj
    if not isinstance(found, GlobalOptions):
        return GlobalOptions(data_dir=None, database_url=None)
    return found


@contextmanager
def instance(ctx: typer.Context, *, migrate: bool = True) -> Iterator[Instance]:
    from sovra.instance import open_instance

    # A command is not a server start: dev mode's kept-share unseal is not recorded, so
    # a read-only command appends nothing to the ledger (issue 15).
    opened = open_instance(options(ctx).settings(), migrate=migrate, record_dev_unseal=False)
    try:
        yield opened
    finally:
        opened.close()
