"""``sovra init``, ``sovra unseal``, ``sovra seal`` and ``sovra keys ...``: key custody.

Seal state lives in a process. ``unseal`` and ``seal`` talk to the running server
(``--url``, default from the host/port settings), because unsealing this short-lived CLI
process would unseal nothing that lasts. ``init`` and ``keys rotate|erase|status`` work on
the database in this process; in custodian (Shamir) mode they need ``--share-file``
(threshold times) to unseal their own process for the length of the command.
"""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from sovra.cli.commands.identity import announce_first_admin
from sovra.cli.context import instance
from sovra.cli.errors import run
from sovra.cli.server import call, server_url

if TYPE_CHECKING:
    # Imported where used: key custody and the instance cost seconds to import, which
    # `keys status`, `unseal` and `seal` (HTTP to the server) must not pay (issue 15).
    from sovra.instance import Instance
    from sovra.keys import SealStatus, Share

app = typer.Typer(help="Key custody: status, rotation, crypto-erasure.", no_args_is_help=True)
console = Console()

UrlOpt = Annotated[str | None, typer.Option(
    "--url", help="Server URL (default http://<host>:<port> from settings).",
    show_default=False)]
ShareFiles = Annotated[list[Path] | None, typer.Option(
    "--share-file", help="A custodian share file (repeat up to the threshold).",
    exists=True, dir_okay=False, show_default=False)]


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


_url = server_url
_call = call


def _show(status: dict[str, object] | SealStatus) -> None:
    s = status if isinstance(status, dict) else status.__dict__
    if not s.get("initialized"):
        console.print("not initialised: run `sovra init`")
        return
    state = "[bold red]sealed[/]" if s.get("sealed") else "[bold green]unsealed[/]"
    line = f"{state}  mode={s.get('mode')}  ceremony={s.get('ceremony_id')}"
    if s.get("mode") != "hsm":
        line += f"  threshold={s.get('threshold')} of {s.get('shares')}"
        if s.get("sealed"):
            line += f"  progress={s.get('progress')} of {s.get('threshold')}"
    console.print(line, highlight=False)
    if s.get("dev_mode"):
        console.print("[bold red]DEVELOPMENT MODE - NOT FOR PRODUCTION[/]")
    if s.get("last_error"):
        console.print(f"last error: {s.get('last_error')}", highlight=False)


# -- sovra init -------------------------------------------------------------------------


def _print_one_at_a_time(shares: Sequence[Share]) -> None:
    from sovra.keys import share_file_text

    for share in shares:
        console.clear()
        console.print(f"[bold]Share {share.index} of {len(shares)}[/] - show this screen to "
                      f"custodian {share.index} only.\n", highlight=False)
        # soft_wrap: a share line must never be broken by rich, whatever the width.
        console.print(share_file_text(share, len(shares)), highlight=False, markup=False,
                      soft_wrap=True)
        typer.prompt("Press Enter once the custodian has copied it", default="",
                     show_default=False)
    console.clear()


def init(
    ctx: typer.Context,
    *,
    shares: Annotated[int, typer.Option("--shares", "-n", min=1, max=255,
                                        help="Number of custodian shares N.")] = 5,
    threshold: Annotated[int, typer.Option("--threshold", "-m", min=1, max=255,
                                           help="Shares needed to unseal M.")] = 3,
    share_dir: Annotated[Path | None, typer.Option(
        "--share-dir", help="Write one share file per custodian here (0600).",
        file_okay=False, show_default=False)] = None,
    print_shares: Annotated[bool, typer.Option(
        "--print", help="Show the shares one at a time instead of writing files.")] = False,
    hsm: Annotated[bool, typer.Option("--hsm", help="Keep the root in a PKCS#11 token.")
                   ] = False,
    hsm_module: Annotated[str, typer.Option(help="PKCS#11 module path.")
                          ] = "/usr/lib/softhsm/libsofthsm2.so",
    token_label: Annotated[str, typer.Option(help="Token label (not slot number).")
                           ] = "sovra",  # noqa: S107 - a token label, not a secret
    pin_file: Annotated[Path | None, typer.Option(help="File holding the token PIN.",
                                                  show_default=False)] = None,
    pin_env: Annotated[str, typer.Option(help="Environment variable holding the PIN.")
                       ] = "SOVRA_HSM_PIN",
) -> None:
    """Hold the key ceremony: make the root key and deal custodian shares (or use an HSM)."""
    from sovra.keys import HsmConfig, write_share_files

    with instance(ctx) as opened:
        if hsm:
            config = HsmConfig(module=hsm_module, token_label=token_label,
                               pin_file=str(pin_file.resolve()) if pin_file else None,
                               pin_env=None if pin_file else pin_env)
            result = run(lambda: opened.keys.init_hsm(config, actor=_actor()))
            console.print(f"ceremony {result.ceremony_id}: root key created in token "
                          f"{token_label!r}; the instance unseals itself with the PIN")
            announce_first_admin(opened)
            return
        if share_dir is None and not print_shares:
            raise typer.BadParameter("say where the shares go: --share-dir DIR or --print")
        written: list[Path] = []

        def deliver(dealt: Sequence[Share]) -> None:
            if share_dir is not None:
                written.extend(write_share_files(dealt, share_dir))
            else:
                _print_one_at_a_time(dealt)

        result = run(lambda: opened.keys.init(threshold=threshold, shares=shares,
                                              deliver=deliver, actor=_actor()))
        announce_first_admin(opened)
    console.print(f"ceremony {result.ceremony_id}: {result.shares} shares, any "
                  f"{result.threshold} unseal", highlight=False)
    for index, fingerprint in enumerate(result.fingerprints, start=1):
        where = f"  {written[index - 1]}" if written else ""
        console.print(f"  share {index}: {fingerprint}{where}", highlight=False)
    console.print("Give each share to a different custodian and delete any copy here.")


# -- sovra unseal / seal ----------------------------------------------------------------


def unseal(
    ctx: typer.Context,
    share_file: ShareFiles = None,
    url: UrlOpt = None,
    reset: Annotated[bool, typer.Option("--reset", help="Discard the shares entered so far.")
                     ] = False,
) -> None:
    """Give the running server one custodian's share (prompted, hidden) or share files."""
    base = _url(ctx, url)
    if reset:
        _show(run(lambda: _call("POST", f"{base}/sys/unseal/reset")))
        return
    texts = [p.read_text(encoding="ascii", errors="replace") for p in share_file or []]
    if not texts:
        texts = [typer.prompt("Share (sovra-share-1:...)", hide_input=True)]
    status: dict[str, object] = {}
    for text in texts:
        status = run(partial(_call, "POST", f"{base}/sys/unseal", json={"share": text}))
    _show(status)


def seal(
    ctx: typer.Context,
    url: UrlOpt = None,
    api_key: Annotated[str | None, typer.Option(
        "--api-key", envvar="SOVRA_API_KEY", help="API key allowed keys.seal.",
        show_default=False)] = None,
) -> None:
    """Seal the running server now: it forgets every key until custodians unseal it."""
    base = _url(ctx, url)
    _show(run(lambda: _call("POST", f"{base}/sys/seal", token=api_key)))


# -- sovra keys ... ---------------------------------------------------------------------


def _unseal_here(opened: Instance, share_files: Sequence[Path]) -> None:
    """Unseal this CLI process's own instance when its mode does not do so by itself."""
    if not opened.keys.seal_status().sealed:
        return
    for path in share_files:
        text = path.read_text(encoding="ascii", errors="replace")
        run(partial(opened.keys.submit_share, text, actor=_actor()))


@app.command("status")
def status_command(
    ctx: typer.Context,
    url: UrlOpt = None,
    api_key: Annotated[str | None, typer.Option(
        "--api-key", envvar="SOVRA_API_KEY", help="API key allowed keys.status, to list "
        "the keyrings too.", show_default=False)] = None,
) -> None:
    """The running server's seal state and, with an API key, its keyrings.

    Asked of the server: this command's own process is not the one that holds (or lacks)
    the keys, so its seal state would say nothing (issue 15).
    """
    base = _url(ctx, url)
    remote = run(lambda: _call("GET", f"{base}/sys/seal-status"))
    console.print(f"server at {base}:", highlight=False)
    _show(remote)
    if api_key is None:
        console.print("keyrings: give --api-key (or SOVRA_API_KEY) allowed keys.status to "
                      "list them", highlight=False)
        return
    if remote.get("sealed"):
        return
    found = run(lambda: _call("GET", f"{base}/keys/status", token=api_key))
    for ring in found.get("keyrings", []):
        console.print(f"  keyring {ring['keyring_id']}: version {ring['current_version']}, "
                      f"min {ring['min_version']}"
                      + (", ERASED" if ring["destroyed"] else ""), highlight=False)


@app.command("rotate")
def rotate_command(
    ctx: typer.Context,
    keyring_id: Annotated[str, typer.Argument(help="Keyring to rotate.")],
    *,
    rewrap: Annotated[bool, typer.Option(help="Then rewrap every data key.")] = False,
    min_version: Annotated[int | None, typer.Option(
        help="Then retire versions below this.", show_default=False)] = None,
    force: Annotated[bool, typer.Option(help="Retire even if data keys would be erased.")
                     ] = False,
    share_file: ShareFiles = None,
) -> None:
    """Add a KEK version; optionally rewrap data keys and raise the minimum version."""
    with instance(ctx) as opened:
        _unseal_here(opened, share_file or [])
        version = run(lambda: opened.keys.rotate(keyring_id, actor=_actor()))
        console.print(f"{keyring_id}: now at KEK version {version}")
        if rewrap:
            moved = run(lambda: opened.keys.rewrap(keyring_id, actor=_actor()))
            console.print(f"{keyring_id}: {moved} data keys rewrapped")
        if min_version is not None:
            done = run(lambda: opened.keys.set_min_version(keyring_id, min_version,
                                                           force=force, actor=_actor()))
            console.print(f"{keyring_id}: minimum version {done.min_version}, retired "
                          f"{list(done.retired_versions)}")


@app.command("erase")
def erase_command(
    ctx: typer.Context,
    keyring_id: Annotated[str, typer.Argument(help="Keyring to crypto-erase.")],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone.")
                   ] = False,
    share_file: ShareFiles = None,
) -> None:
    """Crypto-erase a keyring: everything encrypted under it becomes unreadable for good."""
    if not yes:
        raise typer.BadParameter("crypto-erasure cannot be undone; pass --yes")
    with instance(ctx) as opened:
        _unseal_here(opened, share_file or [])
        done = run(lambda: opened.keys.destroy_keyring(keyring_id, actor=_actor()))
    console.print(f"{keyring_id}: erased {done.kek_versions} KEK versions and "
                  f"{done.data_keys} data keys")
