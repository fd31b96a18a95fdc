"""``sovra ledger``: export, verify, witness, checkpoint."""

from __future__ import annotations

import typer

app = typer.Typer(help="The tamper-evident ledger.", no_args_is_help=True)
