"""The approvals inbox: lockbox requests, policy proposals, model approvals, two-person
bundle imports and identity changes (credentials, role grants), each approved or denied
from the page through the service that owns it.

The requester-never-approves rule is the services' own (built into the lockbox, the
policy store, the model registry, the transfer service and the identity changes, and in
the default policy): the page only *shows* it, offering no button on a person's own
request and saying why; a forged form is refused by the service and recorded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sovra.console.forms import done, number
from sovra.console.guard import Visit, field
from sovra.errors import NotFoundError
from sovra.transfer import pending_bundle

if TYPE_CHECKING:
    from sovra.console.pages import Console

OWN = "you asked for this: another approver must decide"


@dataclass(frozen=True)
class Waiting:
    """One thing awaiting a second person, as the inbox shows it."""

    kind: str  # model, bundle, change
    id: str
    requester: str
    summary: str

    def own(self, found: Visit) -> bool:
        return self.requester == found.caller.principal_id


def _verb(request: Request) -> str:
    verb = str(request.path_params["verb"])
    if verb not in ("approve", "deny"):
        raise NotFoundError(f"no such decision {verb!r}: approve or deny")
    return verb


def _models(console: Console) -> list[Waiting]:
    return [Waiting("model", m.model_id, m.registered_by,
                    f"{m.spec.kind} model, {m.spec.locality}, ceiling {m.spec.ceiling}, "
                    f"sha256 {m.spec.sha256 or 'none given'}, licence "
                    f"{m.spec.licence or 'none given'}")
            for m in console.instance.ai.registry.list() if not m.approved]


def _bundles(console: Console) -> list[Waiting]:
    found = []
    for bundle_id in console.instance.transfer.status().awaiting_approval:
        held = pending_bundle(console.instance.engine, bundle_id)
        targets = held.metadata.get("targets", {})
        names = ", ".join(sorted(targets)) if isinstance(targets, dict) else ""
        found.append(Waiting("bundle", bundle_id, held.importer,
                             f"verified, awaiting a second person; targets: {names or '-'}"))
    return found


def _changes(console: Console) -> list[Waiting]:
    return [Waiting("change", c.change_id, c.requested_by,
                    f"{c.kind} for {c.target}: " + ", ".join(
                        f"{k}={v}" for k, v in sorted(c.request.items()) if v not in (None, "")))
            for c in console.instance.identity.changes.list_changes("pending")]


async def inbox(console: Console, request: Request) -> Response:
    found = await console.visit(request)
    await found.require("lockbox.read", "AccessRequest")
    lockbox = console.instance.lockbox
    status = await run_in_threadpool(lockbox.status)
    values: dict[str, Any] = {"proposals": None, "changes": None, "models": None,
                              "bundles": None}
    if found.may("policy.read", "Policy"):
        await found.require("policy.read", "Policy")
        values["proposals"] = [v for v in await run_in_threadpool(
            console.instance.policy.versions) if v.status == "proposed"]
    if found.may("principals.approve", "Principal"):
        await found.require("principals.approve", "Principal")
        values["changes"] = await run_in_threadpool(_changes, console)
    if found.may("models.approve", "Model"):
        await found.require("models.approve", "Model")
        values["models"] = await run_in_threadpool(_models, console)
    if found.may("bundles.read", "Bundle"):
        await found.require("bundles.read", "Bundle")
        values["bundles"] = await run_in_threadpool(_bundles, console)
    return console.render(request, "approvals.html", found=found, pending=status.pending,
                          active=status.active, findings=status.findings, own=OWN,
                          done=request.query_params.get("done", ""), **values)


async def vote(console: Console, request: Request) -> Response:
    found = await console.visit(request)
    form = await request.form()
    found.check_csrf(form)
    request_id = str(request.path_params["request_id"])
    verb = _verb(request)
    reason = field(form, "reason", required=True)
    # The API's door for votes (POST /lockbox/requests/{id}/approve), then the
    # service decides the vote itself and records it.
    await found.require("lockbox.read", "AccessRequest")
    lockbox = console.instance.lockbox
    act = lockbox.approve if verb == "approve" else lockbox.deny
    decided = await run_in_threadpool(lambda: act(found.caller, request_id,
                                                  source=found.client, comment=reason))
    return done(request, "/approvals",
                f"{verb}d {decided.id} ({lockbox.state(decided).value})")


async def approve_policy(console: Console, request: Request) -> Response:
    found = await console.visit(request)
    found.check_csrf(await request.form())
    version = number(str(request.path_params["version"]), "version")
    # The API's door (POST /policy/versions/{version}/approve), then the service.
    await found.require("policy.approve", "Policy", str(version))
    approved = await run_in_threadpool(console.instance.policy.approve, found.caller, version)
    return done(request, "/approvals",
                f"approved policy version {approved.version} ({approved.status})")


async def decide_model(console: Console, request: Request) -> Response:
    found = await console.visit(request)
    form = await request.form()
    found.check_csrf(form)
    model_id = field({"m": str(request.path_params["model_id"])}, "m", max_length=200)
    ceiling = field(form, "ceiling", max_length=32) or None
    # The API's door (POST /v1/sovra/models/{id}/approve); the registry decides again
    # with the registrant as requester and refuses the registrant (built in).
    await found.require("models.approve", "Model", model_id)
    approved = await run_in_threadpool(lambda: console.instance.ai.registry.approve(
        found.caller, model_id, ceiling=ceiling))
    return done(request, "/approvals",
                f"approved model {approved.model_id} up to {approved.spec.ceiling}")


async def decide_bundle(console: Console, request: Request) -> Response:
    found = await console.visit(request)
    form = await request.form()
    found.check_csrf(form)
    bundle_id = field({"b": str(request.path_params["bundle_id"])}, "b", max_length=200)
    verb = _verb(request)
    reason = field(form, "reason", required=verb == "deny")
    # The API's door (POST /bundles/{id}/approve or /reject), then the service.
    await found.require("bundles.approve", "Bundle", bundle_id)
    transfer = console.instance.transfer
    if verb == "approve":
        await run_in_threadpool(transfer.approve, bundle_id, found.caller)
        return done(request, "/approvals", f"approved bundle {bundle_id} (activated)")
    await run_in_threadpool(transfer.reject, bundle_id, found.caller, reason)
    return done(request, "/approvals", f"rejected bundle {bundle_id}")


async def decide_change(console: Console, request: Request) -> Response:
    found = await console.visit(request)
    form = await request.form()
    found.check_csrf(form)
    change_id = field({"c": str(request.path_params["change_id"])}, "c", max_length=64)
    verb = _verb(request)
    reason = field(form, "reason", required=verb == "deny")
    # The API's door (POST /identity/changes/{id}/approve or /reject), then the service,
    # which refuses the requester and anyone without the approver role (built in).
    await found.require("principals.approve", "Principal")
    changes = console.instance.identity.changes
    policy = console.instance.policy
    if verb == "deny":
        await run_in_threadpool(changes.reject, found.caller, change_id, policy, reason)
        return done(request, "/approvals", f"rejected identity change {change_id}")
    applied = await run_in_threadpool(changes.approve, found.caller, change_id, policy)
    if applied.key is None:
        return done(request, "/approvals",
                    f"approved identity change {change_id} ({applied.change.kind} for "
                    f"{applied.change.target})")
    # A credential hand-over: the new key goes to the approver, shown once, here.
    return console.render(request, "handover.html", found=found, change=applied.change,
                          key=applied.key)


async def watch(console: Console, request: Request) -> Response:
    from starlette.responses import StreamingResponse

    from sovra.console import watching

    found = await console.visit(request)
    grant_id = field({"g": str(request.path_params["grant_id"])}, "g", max_length=64)
    # The API's door (GET /lockbox/grants/{id}/events); the lockbox decides the rest.
    await found.require("lockbox.watch", "AccessRequest")
    lockbox = console.instance.lockbox
    live = await run_in_threadpool(lambda: lockbox.watch_grant(found.caller, grant_id,
                                                               source=found.client))
    try:
        req = await run_in_threadpool(lockbox.get, grant_id)
        page = console.render(request, "watch.html", found=found, req=req,
                              mark=watching.MARK)
    except BaseException:
        live.close()
        raise
    return StreamingResponse(watching.stream_watch(lockbox, live, bytes(page.body).decode(),
                                                   request),
                             media_type="text/html; charset=utf-8")


async def terminate(console: Console, request: Request) -> Response:
    found = await console.visit(request)
    form = await request.form()
    found.check_csrf(form)
    grant_id = str(request.path_params["grant_id"])
    reason = field(form, "reason", required=True)
    # The API's door (POST /lockbox/requests/{id}/revoke), then the service.
    await found.require("lockbox.read", "AccessRequest")
    revoked = await run_in_threadpool(lambda: console.instance.lockbox.revoke(
        found.caller, grant_id, reason=reason))
    return done(request, "/approvals",
                f"terminated {revoked.id} ({console.instance.lockbox.state(revoked).value})")


__all__ = ["OWN", "Waiting", "approve_policy", "decide_bundle",
           "decide_change", "decide_model", "inbox", "terminate", "vote", "watch"]
