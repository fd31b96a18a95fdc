"""``sovra policy``: show, propose, approve, validate and test Cedar policies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from sovra.cli.commands.identity import ApiKey, acting
from sovra.cli.context import instance as open_cli_instance
from sovra.cli.errors import EXIT_INVALID, run
from sovra.cli.remote import Url, remote_base
from sovra.cli.server import call, request
from sovra.errors import InvalidInputError
from sovra.policy import Resource

# The Cedar engine (``CompiledPolicies``, the test runner) is imported where used: it
# costs seconds, which `policy show` asking the running server must not pay (issue 15).

app = typer.Typer(help="Written, versioned, testable access policy (Cedar).",
                  no_args_is_help=True)
console = Console()


def _read(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc}") from exc


@app.command("show")
def show(ctx: typer.Context, api_key: ApiKey,
         version: Annotated[int | None, typer.Option(help="A version (default: active).")] = None,
         diff: Annotated[bool, typer.Option("--diff", help="Print the diff, not the text.")]
         = False, url: Url = None) -> None:
    """Print the active policy set (or a version) with its hashes.

    The running server is asked when one runs; otherwise the data directory is opened."""
    base = remote_base(ctx, url, api_key)
    if base is not None:
        path = "/policy" if version is None else f"/policy/versions/{version}"
        found: dict[str, Any] = run(lambda: call("GET", f"{base}{path}", token=api_key))
        listed = run(lambda: request("GET", f"{base}/policy/versions", token=api_key).json())
        pending = [v["version"] for v in listed if v["status"] == "proposed"]
    else:
        with open_cli_instance(ctx) as inst:
            run(lambda: acting(inst, api_key, "policy.read", Resource("Policy")))
            here = run(lambda: inst.policy.show() if version is None
                       else inst.policy.get(version))
            history = run(inst.policy.versions)
        found = {name: getattr(here, name) for name in (
            "version", "status", "sha256", "diff_sha256", "proposed_by", "approved_by",
            "diff", "text")}
        pending = [v.version for v in history if v.status == "proposed"]
    # Header lines are Cedar comments, so the output can be edited and proposed again.
    typer.echo(f"// version {found['version']} ({found['status']}) sha256 {found['sha256']}")
    typer.echo(f"// diff sha256 {found['diff_sha256']}; proposed by {found['proposed_by']}; "
               f"approved by {found['approved_by'] or '-'}")
    if pending:
        typer.echo(f"// pending proposals: {', '.join(map(str, pending))}")
    typer.echo(found["diff"] if diff else found["text"])


@app.command("propose")
def propose(ctx: typer.Context, file: Path, api_key: ApiKey,
            comment: Annotated[str, typer.Option()] = "") -> None:
    """Propose FILE (the whole policy set) as the next version; validated first."""
    text = run(lambda: _read(file))
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "policy.propose", Resource("Policy")))
        proposal = run(lambda: inst.policy.propose(caller, text, comment, source=str(file)))
    console.print(f"proposed version {proposal.version} (diff sha256 {proposal.diff_sha256}); "
                  "an approver other than you must run: "
                  f"sovra policy approve {proposal.version}", highlight=False, soft_wrap=True)


@app.command("approve")
def approve(ctx: typer.Context, version: int, api_key: ApiKey) -> None:
    """Approve and activate a proposed version (approver role; not its proposer)."""
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "policy.approve",
                                    Resource("Policy", str(version))))
        done = run(lambda: inst.policy.approve(caller, version))
    console.print(f"version {done.version} is active (sha256 {done.sha256})",
                  highlight=False, soft_wrap=True)


@app.command("validate")
def validate(file: Path) -> None:
    """Check FILE against Sovra's Cedar schema, offline; errors carry line:column."""
    from sovra.policy import CompiledPolicies

    run(lambda: CompiledPolicies(_read(file), source=str(file)))
    console.print(f"{file}: valid")


@app.command("test")
def test(file: Path, policies: Annotated[list[Path] | None, typer.Option(
        "--policies", help="Policy file(s) to test (default: the file's own, "
        "else the default pack).")] = None) -> None:
    """Run offline policy test cases (YAML/JSON); exit 0 if all pass, 1 if not."""
    from sovra.policy import run_test_file

    report = run(lambda: run_test_file(file, policies or []))
    for result in report.results:
        mark = "[green]PASS[/]" if result.passed else "[bold red]FAIL[/]"
        got = "allow" if result.decision.allowed else "deny"
        console.print(f"{mark} {result.name}: expected {result.expected}, got {got} "
                      f"({'; '.join(result.decision.reasons) or '-'})",
                      highlight=False, soft_wrap=True)
    failed = len(report.failures)
    console.print(f"{len(report.results) - failed} passed, {failed} failed")
    if failed:
        raise typer.Exit(EXIT_INVALID)
