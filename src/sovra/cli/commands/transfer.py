"""``sovra bundle``: offline keys, root rotation and bundle creation (connected side);
trust, import, approve and status (disconnected site)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from tuf.api.metadata import Metadata, Root

from sovra.cli.commands.identity import ApiKey, acting
from sovra.cli.context import instance as open_cli_instance
from sovra.cli.errors import run
from sovra.cli.progress import Quiet, progress
from sovra.errors import InvalidInputError, PolicyValidationError
from sovra.policy import CompiledPolicies, Resource
from sovra.transfer import (
    BundleSpec,
    ImportResult,
    TransferStatus,
    build_bundle,
    hsm_import,
    init_repository,
    keygen,
    load_public_key,
    load_signer,
    load_spec,
    rotate_root,
)

app = typer.Typer(help="Signed air-gap bundles (TUF): keys, roots, create, import, status.",
                  no_args_is_help=True)
console = Console()

Repo = Annotated[Path, typer.Option("--repo", help="The signing repository folder.")]
SignWith = Annotated[list[Path], typer.Option(
    "--keys", "--sign-with", help="Private key file(s) to sign with (repeatable).")]
RootKeys = Annotated[list[Path], typer.Option(
    "--root-key", help="Public key file of a root key (repeatable).")]
SigningKeys = Annotated[list[Path] | None, typer.Option(
    "--signing-key", help="Public key for targets/snapshot/timestamp (repeatable; "
    "default: the root keys on init, unchanged on rotation).")]
Threshold = Annotated[int, typer.Option("--threshold", help="Root signatures required (M).")]
SigningThreshold = Annotated[int | None, typer.Option(
    "--signing-threshold", help="Signatures required for targets/snapshot/timestamp.")]
ExpiresDays = Annotated[int, typer.Option("--expires-days", help="Root validity in days.")]


def _now() -> datetime:
    return datetime.now(UTC)


@app.command("keygen")
def keygen_command(name: str, out: Annotated[Path, typer.Option(
        "--out", help="Folder for NAME.key and NAME.pub.json (keep it offline).")] = Path()
        ) -> None:
    """Create an offline Ed25519 signing key pair."""
    files = run(lambda: keygen(name, out))
    console.print(f"key id {files.keyid}\nprivate {files.private_path} (keep offline)\n"
                  f"public  {files.public_path}", highlight=False, soft_wrap=True)


@app.command("hsm-import")
def hsm_import_command(
        name: str,
        key_id: Annotated[int, typer.Option("--key-id", help="Key id on the token.")] = 2,
        token: Annotated[str, typer.Option("--token", help="Token label.")] = "",
        out: Annotated[Path, typer.Option("--out", help="Folder for NAME.pub.json.")] = Path(),
        ) -> None:
    """Describe an EC P-256/P-384 key on a PKCS#11 token (PYKCS11LIB, SOVRA_HSM_PIN)."""
    files = run(lambda: hsm_import(name, out, hsm_keyid=key_id, token_label=token))
    console.print(f"key id {files.keyid}\nHSM key file {files.public_path} (pass it to "
                  "--root-key and to --keys)", highlight=False, soft_wrap=True)


def _write_root(write: Callable[..., Metadata[Root]], repo: Path, *, root_key: list[Path],
                threshold: int, keys: list[Path], signing_key: list[Path] | None,
                signing_threshold: int | None, expires_days: int) -> int:
    """Load the key files named on the command line and write a root (v1 or the next)."""
    root = write(repo, [load_public_key(p) for p in root_key], threshold,
                 [load_signer(p) for p in keys], _now(),
                 signing_keys=[load_public_key(p) for p in signing_key or []],
                 signing_threshold=signing_threshold, expires=timedelta(days=expires_days))
    return root.signed.version


@app.command("root-init")
def root_init(*, repo: Repo, root_key: RootKeys, threshold: Threshold, keys: SignWith,
              signing_key: SigningKeys = None, signing_threshold: SigningThreshold = None,
              expires_days: ExpiresDays = 365) -> None:
    """Create root version 1 of a new signing repository (M of N root keys)."""
    version = run(lambda: _write_root(
        init_repository, repo, root_key=root_key, threshold=threshold, keys=keys,
        signing_key=signing_key, signing_threshold=signing_threshold,
        expires_days=expires_days))
    console.print(f"root v{version} written to {repo / 'roots'}; pin "
                  f"{repo / 'roots' / f'{version}.root.json'} at each site with "
                  "`sovra bundle trust`", highlight=False, soft_wrap=True)


@app.command("root-rotate")
def root_rotate(*, repo: Repo, root_key: RootKeys, threshold: Threshold, keys: SignWith,
                signing_key: SigningKeys = None, signing_threshold: SigningThreshold = None,
                expires_days: ExpiresDays = 365) -> None:
    """Write the next root with a new key set, signed by old AND new thresholds."""
    version = run(lambda: _write_root(
        rotate_root, repo, root_key=root_key, threshold=threshold, keys=keys,
        signing_key=signing_key, signing_threshold=signing_threshold,
        expires_days=expires_days))
    console.print(f"root v{version} written; every later bundle carries it", highlight=False)


@app.command("create")
def create(spec: Path, repo: Repo, keys: SignWith,
           out: Annotated[Path, typer.Option("--out", help="The bundle file to write.")],
           gzip: Annotated[bool, typer.Option("--gzip", help="Compress the archive.")]
           = False) -> None:
    """Build and sign a bundle from SPEC (YAML or TOML) with M of N offline keys."""
    def action() -> None:
        loaded = load_spec(spec)
        _check_policy_packs(loaded)
        built = build_bundle(loaded, repo, [load_signer(p) for p in keys], out,
                             _now(), compress=gzip)
        table = Table("target", "kind", "component", "version", "bytes", "sha256",
                      title=f"{built.archive} (root v{built.root_version}, "
                      f"timestamp v{built.timestamp_version})")
        for t in built.targets:
            table.add_row(t.path, t.kind, t.component, t.version, str(t.length), t.sha256[:16])
        console.print(table)
    run(action)


def _check_policy_packs(spec: BundleSpec) -> None:
    """Refuse to sign a Cedar pack that does not validate: every instance would refuse the
    bundle at import, after it had been carried across the air gap (issue 15)."""
    for target in spec.targets:
        if target.kind != "policy":
            continue
        path = Path(target.path)
        try:
            CompiledPolicies(path.read_text(encoding="utf-8"), source=path.name)
        except OSError as exc:
            raise InvalidInputError(f"cannot read policy pack {path}: {exc}") from exc
        except PolicyValidationError as exc:
            raise InvalidInputError(f"policy pack {path} does not validate, so no instance "
                                    f"would import it; fix it and sign again: {exc}") from exc


@app.command("trust")
def trust(ctx: typer.Context, root: Path, api_key: ApiKey) -> None:
    """Pin the site's trusted root (at init, or from a separate medium)."""
    data = run(lambda: _read(root))
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: inst.identity.authenticate(f"Bearer {api_key}", "cli"))
        version = run(lambda: inst.transfer.trust_root(data, caller))
    console.print(f"trusted root v{version} pinned", highlight=False)


@app.command("import")
def import_bundle(ctx: typer.Context, path: Path, api_key: ApiKey,
                  quiet: Quiet = False) -> None:
    """Verify a bundle completely, then activate it (or hold it for a second person)."""
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: inst.identity.authenticate(f"Bearer {api_key}", "cli"))
        with progress(f"verifying {path.name}", path.stat().st_size if path.exists() else None,
                      quiet=quiet, unit="bytes") as meter:
            result = run(lambda: inst.transfer.import_bundle(path, caller,
                                                             progress=meter.update))
    _print_result(result)


@app.command("approve")
def approve(ctx: typer.Context, bundle_id: str, api_key: ApiKey) -> None:
    """Second person of a two-person import: confirm and activate a verified bundle."""
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: inst.identity.authenticate(f"Bearer {api_key}", "cli"))
        result = run(lambda: inst.transfer.approve(bundle_id, caller))
    _print_result(result)


@app.command("reject")
def reject(ctx: typer.Context, bundle_id: str, api_key: ApiKey,
           reason: Annotated[str, typer.Option(help="Why (recorded in the ledger).")] = ""
           ) -> None:
    """Second person of a two-person import: refuse a bundle; its staged files go."""
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: inst.identity.authenticate(f"Bearer {api_key}", "cli"))
        run(lambda: inst.transfer.reject(bundle_id, caller, reason))
    console.print(f"bundle {bundle_id} rejected; nothing from it was activated",
                  highlight=False)


@app.command("status")
def status(ctx: typer.Context, api_key: ApiKey) -> None:
    """Each component's version and the age of the newest bundle applied (patch lag)."""
    with open_cli_instance(ctx) as inst:
        run(lambda: acting(inst, api_key, "bundles.read", Resource("Bundle")))
        found = run(inst.transfer.status)
    _print_status(found)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc}") from exc


def _print_result(result: ImportResult) -> None:
    checks = Table("verified", title=f"bundle {result.bundle_id}: {result.state}")
    for check in result.checks:
        checks.add_row(check)
    checks.add_row(f"targets: {len(result.targets)} file(s), {result.bytes_verified} bytes, "
                   "length and sha256 each")
    console.print(checks)
    table = Table("target", "kind", "component", "version", "sha256", "state")
    for t in result.targets:
        table.add_row(t.path, t.kind, t.component, t.version, t.sha256[:16], t.state)
    console.print(table)
    if result.state == "awaiting_approval":
        console.print(f"an approver other than you must run: sovra bundle approve "
                      f"{result.bundle_id}", highlight=False)


def _print_status(found: TransferStatus) -> None:
    versions = ", ".join(f"{role} v{v}" for role, v in sorted(found.versions.items()))
    console.print(f"trusted: {versions or 'no root pinned'}", highlight=False)
    table = Table("kind", "component", "version", "bundle", "built", "age")
    for c in found.components:
        table.add_row(c.kind, c.component, c.version, c.bundle_id,
                      c.built_at.isoformat() if c.built_at else "-", _age(c.age_s))
    console.print(table)
    console.print(f"patch lag (age of the newest bundle applied): {_age(found.patch_lag_s)}",
                  highlight=False)
    if found.awaiting_approval:
        console.print(f"awaiting approval: {', '.join(found.awaiting_approval)}",
                      highlight=False)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    days, rest = divmod(int(seconds), 86400)
    return f"{days}d {rest // 3600}h"
