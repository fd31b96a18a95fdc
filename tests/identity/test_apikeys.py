"""API keys: format, hashed storage, verification, revocation, expiry, scope."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from sqlalchemy import select

from sovra.errors import AuthenticationError, ConflictError, InvalidInputError
from sovra.identity import IdentityService, ensure_first_admin
from sovra.identity.apikeys import parse, secret_digest
from sovra.identity.store import IdentityStore
from sovra.instance import Instance
from sovra.policy import Resource
from sovra.store.tables.identity import identity_api_keys


def test_key_format_is_prefixed_and_only_a_hash_is_stored(instance: Instance) -> None:
    instance.identity.create_principal("t", "svc", kind="service", roles=["service"])
    created = instance.identity.create_api_key("t", "svc", label="pipeline")
    assert created.token.startswith(f"sk-sovra-{created.info.key_id}_")
    parsed = parse(created.token)
    with instance.engine.connect() as conn:
        rows = conn.execute(select(identity_api_keys)).all()
    stored = rows[0]._mapping
    assert parsed.secret.encode() not in bytes(stored["secret_sha256"])
    assert bytes(stored["secret_sha256"]) == secret_digest(parsed.key_id, parsed.secret)
    assert len(stored["secret_sha256"]) == hashlib.sha256().digest_size
    assert all(created.token not in str(v) for v in stored.values())


def test_a_valid_key_authenticates_as_its_principal(instance: Instance) -> None:
    instance.identity.create_principal("t", "dana", roles=["analyst"], clearance="internal",
                                       org_unit="rnd", jurisdiction="DE")
    token = instance.identity.create_api_key("t", "dana").token
    caller = instance.identity.authenticate(f"Bearer {token}", "10.0.0.1")
    assert (caller.principal_id, caller.roles, caller.clearance, caller.org_unit,
            caller.jurisdiction) == ("dana", frozenset({"analyst"}), "internal", "rnd", "DE")
    assert caller.via == f"apikey:{parse(token).key_id}"
    assert instance.identity.verify_api_key(token) == caller  # cached path agrees


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),      # wrong secret
    lambda t: "sk-sovra-000000000000_" + t.split("_", 1)[1],  # unknown key id
    lambda t: t[:-2],                                         # truncated
    lambda t: t.replace("sk-sovra-", "sk-other-"),            # foreign format
])
def test_wrong_keys_are_rejected(instance: Instance, mangle: Callable[[str], str]) -> None:
    instance.identity.create_principal("t", "dana", roles=["analyst"])
    token = instance.identity.create_api_key("t", "dana").token
    instance.identity.verify_api_key(token)  # warm the cache: the cache must check too
    with pytest.raises(AuthenticationError):
        instance.identity.authenticate(f"Bearer {mangle(token)}", "10.0.0.2")


def test_revocation_takes_effect_at_once_despite_the_cache(instance: Instance) -> None:
    instance.identity.create_principal("t", "dana", roles=["analyst"])
    created = instance.identity.create_api_key("t", "dana")
    instance.identity.verify_api_key(created.token)
    revoked = instance.identity.revoke_api_key("t", created.info.prefix)
    assert revoked.revoked_at is not None
    with pytest.raises(AuthenticationError, match="revoked"):
        instance.identity.verify_api_key(created.token)
    with pytest.raises(ConflictError):
        instance.identity.revoke_api_key("t", created.info.key_id)


def test_disabling_a_principal_stops_its_keys_at_once(instance: Instance) -> None:
    instance.identity.create_principal("t", "dana", roles=["analyst"])
    token = instance.identity.create_api_key("t", "dana").token
    instance.identity.verify_api_key(token)
    instance.identity.set_disabled("t", "dana")
    with pytest.raises(AuthenticationError, match="disabled"):
        instance.identity.verify_api_key(token)


def test_expired_keys_are_rejected_even_when_cached(instance: Instance) -> None:
    now = [1_000_000.0]
    identity = IdentityService(IdentityStore(instance.engine), instance.ledger,
                               clock=lambda: now[0], cache_ttl_s=3600)
    identity.create_principal("t", "dana", roles=["analyst"])
    token = identity.create_api_key("t", "dana", expires_at=now[0] + 60).token
    assert identity.verify_api_key(token).principal_id == "dana"
    now[0] += 61
    with pytest.raises(AuthenticationError, match="expired"):
        identity.verify_api_key(token)
    with pytest.raises(ConflictError):
        identity.create_api_key("t", "dana", expires_at=now[0] - 1)


def test_a_scoped_key_is_refused_outside_its_scope(instance: Instance) -> None:
    instance.identity.create_principal("t", "root", roles=["admin"], clearance="secret")
    token = instance.identity.create_api_key("t", "root", scope=["ledger.*"]).token
    caller = instance.identity.verify_api_key(token)
    assert instance.policy.decide(caller, "ledger.read", Resource("Ledger")).allowed
    outside = instance.policy.decide(caller, "principals.manage", Resource("Principal"))
    assert not outside.allowed
    assert "not scoped" in outside.errors[0]
    with pytest.raises(InvalidInputError):
        instance.identity.create_api_key("t", "root", scope=["ledger.rm"])


def test_group_roles_are_inherited_while_the_group_is_enabled(instance: Instance) -> None:
    identity = instance.identity
    identity.create_principal("t", "auditors", kind="group", roles=["auditor"])
    identity.create_principal("t", "erin", roles=["analyst"])
    identity.add_member("t", "auditors", "erin")
    assert identity.caller_for("erin").roles == {"analyst", "auditor"}
    assert identity.members("auditors") == ["erin"]
    identity.set_disabled("t", "auditors")
    assert identity.caller_for("erin").roles == {"analyst"}
    identity.set_disabled("t", "auditors", disabled=False)
    identity.remove_member("t", "auditors", "erin")
    assert identity.caller_for("erin").roles == {"analyst"}
    with pytest.raises(ConflictError):
        identity.create_api_key("t", "auditors")


def test_invalid_principal_attributes_are_refused(instance: Instance) -> None:
    for bad in [{"roles": ["root"]}, {"clearance": "top-secret"}, {"kind": "robot"}]:
        with pytest.raises(InvalidInputError):
            instance.identity.create_principal("t", "x", **bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        instance.identity.create_principal("t", "no spaces")
    instance.identity.create_principal("t", "x")
    with pytest.raises(ConflictError):
        instance.identity.create_principal("t", "x")


def test_first_admin_is_created_once_and_its_key_works(
        instance: Instance, events: Callable[[], list[dict[str, object]]]) -> None:
    token = ensure_first_admin(instance)
    assert token is not None
    caller = instance.identity.authenticate(f"Bearer {token}", "127.0.0.1")
    assert caller.roles == {"admin"} and caller.clearance == "secret"
    assert ensure_first_admin(instance) is None
    actions = [e["action"] for e in events()]
    assert "identity.principal.create" in actions and "identity.apikey.create" in actions
    assert all(token not in str(e) for e in events())
