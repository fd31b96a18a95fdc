"""Global CLI options and opening the instance they describe."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import typer

from sovra.config import Settings, load_settings
from sovra.instance import Instance, open_instance


@dataclass(frozen=True)
class GlobalOptions:
    data_dir: Path | None
    database_url: str | None

    def settings(self, **overrides: object) -> Settings:
        return load_settings(data_dir=self.data_dir, database_url=self.database_url, **overrides)


def options(ctx: typer.Context) -> GlobalOptions:
    found = ctx.find_root().obj
    if not isinstance(found, GlobalOptions):
        return GlobalOptions(data_dir=None, database_url=None)
    return found


@contextmanager
def instance(ctx: typer.Context, *, migrate: bool = True) -> Iterator[Instance]:
    opened = open_instance(options(ctx).settings(), migrate=migrate)
    try:
        yield opened
    finally:
        opened.close()
