"""``sovra principal``, ``sovra group``, ``sovra apikey``: manage who may act.

Management commands act as the principal whose API key is given (``--api-key`` or
``SOVRA_API_KEY``): the key is verified and the action decided by policy exactly as
the API does, so the ledger names a person, not "the CLI".
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from sovra.cli.context import instance as open_cli_instance
from sovra.cli.errors import run

if TYPE_CHECKING:
    # Imported where used: the rooms cost seconds to import, which commands that share
    # ``acting`` and ask the running server instead must not pay (issue 15).
    from sovra.identity import ApiKeyInfo, Caller, Principal
    from sovra.instance import Instance
    from sovra.policy import Resource

principal_app = typer.Typer(help="Users and service accounts.", no_args_is_help=True)
group_app = typer.Typer(help="Groups: members inherit the group's roles.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys (shown once, stored hashed).", no_args_is_help=True)
console = Console()

ApiKey = Annotated[str, typer.Option(
    "--api-key", envvar="SOVRA_API_KEY", help="Your API key (env SOVRA_API_KEY).",
    show_default=False)]
Roles = Annotated[list[str] | None, typer.Option("--role", help="A role (repeatable).")]


def acting(instance: Instance, api_key: str, action: str, resource: Resource) -> Caller:
    """Authenticate the key and require ``action`` on ``resource``, as the API does."""
    caller = instance.identity.authenticate(f"Bearer {api_key}", "cli")
    instance.policy.require(caller, action, resource, {"client_ip": "cli"})
    return caller


def announce_first_admin(instance: Instance) -> None:
    """Create the first admin if there is none and print its API key once, loudly."""
    from sovra.identity import ensure_first_admin

    token = run(lambda: ensure_first_admin(instance))
    if token is not None:
        console.rule("[bold red]FIRST ADMIN API KEY: shown once, store it now")
        console.print(token, highlight=False, soft_wrap=True)
        console.rule("[bold red]it cannot be shown again; use it as SOVRA_API_KEY")


def _manage(inst: Instance, api_key: str, principal_id: str = "*") -> Caller:
    from sovra.policy import Resource

    return acting(inst, api_key, "principals.manage", Resource("Principal", principal_id))


def _principals_table(principals: list[Principal]) -> Table:
    table = Table("id", "kind", "roles", "clearance", "org unit", "jurisdiction", "disabled")
    for p in principals:
        table.add_row(p.principal_id, p.kind, ",".join(sorted(p.roles)), p.clearance,
                      p.org_unit, p.jurisdiction, "yes" if p.disabled else "")
    return table


@principal_app.command("create")
def principal_create(
    ctx: typer.Context, principal_id: str, *, api_key: ApiKey,
    kind: Annotated[str, typer.Option(help="user or service")] = "user",
    role: Roles = None,
    clearance: Annotated[str, typer.Option(help="public|internal|confidential|secret")] = "public",
    org_unit: Annotated[str, typer.Option("--org-unit")] = "",
    jurisdiction: Annotated[str, typer.Option()] = "",
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
) -> None:
    """Create a user or service account."""
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: _manage(inst, api_key))
        created = run(lambda: inst.identity.create_principal(
            caller.principal_id, principal_id, kind=kind, roles=role or [],
            clearance=clearance, org_unit=org_unit, jurisdiction=jurisdiction,
            display_name=name))
    console.print(_principals_table([created]))


@principal_app.command("list")
def principal_list(ctx: typer.Context, api_key: ApiKey,
                   kind: Annotated[str | None, typer.Option()] = None) -> None:
    """List principals."""
    with open_cli_instance(ctx) as inst:
        run(lambda: _manage(inst, api_key))
        found = run(lambda: inst.identity.list_principals(kind))
    console.print(_principals_table(found))


@principal_app.command("disable")
def principal_disable(ctx: typer.Context, principal_id: str, api_key: ApiKey) -> None:
    """Disable a principal: its keys and tokens stop working at once."""
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: _manage(inst, api_key, principal_id))
        done = run(lambda: inst.identity.set_disabled(caller.principal_id, principal_id))
    console.print(_principals_table([done]))


@principal_app.command("enable")
def principal_enable(ctx: typer.Context, principal_id: str, api_key: ApiKey) -> None:
    """Enable a disabled principal again."""
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: _manage(inst, api_key, principal_id))
        done = run(lambda: inst.identity.set_disabled(caller.principal_id, principal_id,
                                                      disabled=False))
    console.print(_principals_table([done]))


@group_app.command("create")
def group_create(ctx: typer.Context, group_id: str, api_key: ApiKey, role: Roles = None,
                 clearance: Annotated[str, typer.Option()] = "public") -> None:
    """Create a group; its roles apply to every member."""
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: _manage(inst, api_key))
        created = run(lambda: inst.identity.create_principal(
            caller.principal_id, group_id, kind="group", roles=role or [],
            clearance=clearance))
    console.print(_principals_table([created]))


@group_app.command("list")
def group_list(ctx: typer.Context, api_key: ApiKey) -> None:
    """List groups."""
    with open_cli_instance(ctx) as inst:
        run(lambda: _manage(inst, api_key))
        found = run(lambda: inst.identity.list_principals("group"))
    console.print(_principals_table(found))


@group_app.command("add")
def group_add(ctx: typer.Context, group_id: str, member_id: str, api_key: ApiKey) -> None:
    """Add a member to a group."""
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: _manage(inst, api_key, group_id))
        run(lambda: inst.identity.add_member(caller.principal_id, group_id, member_id))
    console.print(f"{member_id} added to {group_id}")


@group_app.command("remove")
def group_remove(ctx: typer.Context, group_id: str, member_id: str, api_key: ApiKey) -> None:
    """Remove a member from a group."""
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: _manage(inst, api_key, group_id))
        run(lambda: inst.identity.remove_member(caller.principal_id, group_id, member_id))
    console.print(f"{member_id} removed from {group_id}")


@group_app.command("members")
def group_members(ctx: typer.Context, group_id: str, api_key: ApiKey) -> None:
    """List a group's members."""
    with open_cli_instance(ctx) as inst:
        run(lambda: _manage(inst, api_key, group_id))
        found = run(lambda: inst.identity.members(group_id))
    for member in found:
        console.print(member)


def _keys_table(keys: list[ApiKeyInfo]) -> Table:
    table = Table("principal", "label", "scope", "expires", "revoked")
    table.add_column("prefix", no_wrap=True, min_width=21)

    def when(t: float | None) -> str:
        return "" if t is None else time.strftime("%Y-%m-%d %H:%M", time.gmtime(t))

    for k in keys:
        table.add_row(k.principal_id, k.label,
                      "" if k.scope is None else ",".join(sorted(k.scope)),
                      when(k.expires_at), when(k.revoked_at), k.prefix)
    return table


@apikey_app.command("create")
def apikey_create(
    ctx: typer.Context, principal_id: str, *, api_key: ApiKey,
    label: Annotated[str, typer.Option()] = "",
    expires_in_days: Annotated[float | None, typer.Option("--expires-in-days")] = None,
    scope: Annotated[list[str] | None, typer.Option(
        "--scope", help="Allowed action or prefix.* (repeatable); default: any.")] = None,
) -> None:
    """Create an API key for a principal; the key is printed once."""
    expires_at = None if expires_in_days is None else time.time() + expires_in_days * 86400
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: _manage(inst, api_key, principal_id))
        created = run(lambda: inst.identity.create_api_key(
            caller.principal_id, principal_id, label=label, expires_at=expires_at,
            scope=scope))
    console.print(_keys_table([created.info]))
    console.print("[bold]API key (shown once, store it now):[/]")
    console.print(created.token, highlight=False, soft_wrap=True)


@apikey_app.command("revoke")
def apikey_revoke(ctx: typer.Context, key_id: str, api_key: ApiKey) -> None:
    """Revoke a key by its prefix (sk-sovra-<id>) or id."""
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: _manage(inst, api_key))
        done = run(lambda: inst.identity.revoke_api_key(caller.principal_id, key_id))
    console.print(_keys_table([done]))


@apikey_app.command("list")
def apikey_list(ctx: typer.Context, api_key: ApiKey,
                principal: Annotated[str | None, typer.Option()] = None) -> None:
    """List keys (prefixes only; secrets are never stored)."""
    with open_cli_instance(ctx) as inst:
        run(lambda: _manage(inst, api_key))
        found = run(lambda: inst.identity.list_api_keys(principal))
    console.print(_keys_table(found))
