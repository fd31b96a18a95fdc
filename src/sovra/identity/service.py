"""The identity service: principals, groups, API keys, and authenticating a request.

Every change is recorded in the ledger before it is made (record first, then act; a
failed act records its failure). Verified API keys are cached in memory for a few
seconds so that verification costs a hash and a dict lookup (issue 4: p99 < 50 µs);
revoking a key or changing a principal in this process drops the cache at once, and
other processes of a cluster notice within ``cache_ttl_s``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sovra.errors import (
    AuthenticationError,
    ConflictError,
    LedgerUnavailableError,
    NotFoundError,
    RateLimitedError,
)
from sovra.identity import apikeys
from sovra.identity.caller import Caller
from sovra.identity.changes import ChangeStore
from sovra.identity.oidc import OidcVerifier, looks_like_jwt
from sovra.identity.principals import (
    ApiKeyInfo,
    CreatedKey,
    Principal,
    check_clearance,
    check_kind,
    check_principal_id,
    check_roles,
    check_scope,
)
from sovra.identity.ratelimit import FailureLimiter, credential_fingerprint
from sovra.identity.second_person import SecondPerson
from sovra.identity.sink import LedgerSink
from sovra.identity.store import IdentityStore
from sovra.store import ChangeFeed

_CACHE_MAX = 100_000


@dataclass(frozen=True)
class _Verified:
    secret_sha256: bytes
    caller: Caller
    expires_at: float | None
    cached_at: float


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header (RFC 6750 §2.1)."""
    if not authorization:
        raise AuthenticationError("no credential: send Authorization: Bearer <API key or token>")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("unsupported authorization scheme; use Bearer")
    return token.strip()


class IdentityService:
    def __init__(self, store: IdentityStore, ledger: LedgerSink, *,
                 oidc: OidcVerifier | None = None, limiter: FailureLimiter | None = None,
                 clock: Callable[[], float] = time.time, cache_ttl_s: float = 5.0,
                 changes: ChangeStore | None = None) -> None:
        self._store = store
        self._ledger = ledger
        self._oidc = oidc
        self._limiter = limiter or FailureLimiter()
        self._clock = clock
        self._ttl = cache_ttl_s
        self._cache: dict[str, _Verified] = {}
        # Bumped by every invalidation; a verification that read the database before a
        # revocation committed must not put its (now stale) result into the cache.
        self._generation = 0
        self._lock = threading.Lock()
        self._feed: ChangeFeed | None = None  # other processes' cache drops (issue 22)
        # The API's path: changes that need a second person (issue 13).
        self.changes = SecondPerson(self, changes or ChangeStore(store.engine), ledger,
                                    clock=clock)

    # -- authentication -------------------------------------------------------------

    def authenticate(self, authorization: str | None, client: str) -> Caller:
        """Verify the bearer credential of a request from ``client`` (its address).

        Failed attempts are counted per address and credential and recorded in the
        ledger; past the limit that credential gets ``RateLimitedError`` (HTTP 429)
        before any check, and an address past its own limit gets 429 for its failures
        only: a valid key is always checked, and accepted (``ratelimit``, issue 15).
        """
        token = bearer_token(authorization)
        fingerprint = credential_fingerprint(token)
        self._limiter.check(client, fingerprint)
        try:
            return self._verify(token)
        except AuthenticationError as exc:
            self._record_failure(token, fingerprint, client, str(exc))
            raise

    def authenticate_cached(self, authorization: str | None, client: str) -> Caller | None:
        """The caller, if the credential is an API key verified within the cache's
        lifetime; ``None`` when checking it needs blocking work (a database read, or a
        failure to record durably), which the caller then does with ``authenticate`` off
        the event loop. Never records anything; a rate limit still applies."""
        try:
            token = bearer_token(authorization)
            parsed = apikeys.parse(token) if apikeys.looks_like_api_key(token) else None
        except AuthenticationError:
            return None
        if parsed is None:
            return None
        self._limiter.check(client, credential_fingerprint(token))
        now = self._clock()
        cached = self._cache.get(parsed.key_id)
        if cached is None or now - cached.cached_at >= self._ttl \
                or not apikeys.matches(parsed, cached.secret_sha256) \
                or (cached.expires_at is not None and now >= cached.expires_at):
            return None
        return cached.caller

    def _verify(self, token: str) -> Caller:
        if apikeys.looks_like_api_key(token):
            return self.verify_api_key(token)
        if self._oidc is not None and looks_like_jwt(token):
            return self._checked_oidc(self._oidc.verify(token))
        raise AuthenticationError("unrecognised credential")

    def _record_failure(self, token: str, fingerprint: str, client: str,
                        reason: str) -> None:
        """Count and record a failure; raises ``RateLimitedError`` past a limit (then
        the failure is not recorded one by one: the limit was, when it was reached)."""
        counted = self._limiter.record_failure(client, fingerprint)
        if counted.limited:
            raise RateLimitedError(f"too many failed authentication attempts from "
                                   f"{client}; {reason}: fix the client's key, then retry "
                                   "later", retry_after_s=counted.retry_after_s)
        credential = (token[:len(apikeys.KEY_PREFIX) + 12] if apikeys.looks_like_api_key(token)
                      else "bearer-token")
        self._ledger.append("anonymous", "identity.authenticate", f"client:{client}",
                            "failure", {"credential": credential, "reason": reason})
        if counted.exhausted:
            self._ledger.append("anonymous", "identity.rate_limited", f"client:{client}",
                                "denied", {"credential": credential,
                                           "scope": counted.scope})

    def _checked_oidc(self, caller: Caller) -> Caller:
        local = self._store.principal(caller.principal_id)
        if local is not None and local.disabled:
            raise AuthenticationError("principal is disabled")
        return caller

    def verify_api_key(self, token: str) -> Caller:
        parsed = apikeys.parse(token)
        now = self._clock()
        cached = self._cache.get(parsed.key_id)
        if cached is not None and now - cached.cached_at < self._ttl:
            if not apikeys.matches(parsed, cached.secret_sha256):
                raise AuthenticationError("invalid API key")
            if cached.expires_at is not None and now >= cached.expires_at:
                raise AuthenticationError("API key has expired")
            return cached.caller
        return self._verify_uncached(parsed, now)

    def _verify_uncached(self, parsed: apikeys.ParsedKey, now: float) -> Caller:
        generation = self._generation
        found = self._store.key_row(parsed.key_id)
        # Compare even when the key id is unknown, so timing does not tell ids apart.
        stored = found[1] if found else bytes(32)
        if not apikeys.matches(parsed, stored) or found is None:
            raise AuthenticationError("invalid API key")
        info = found[0]
        if info.revoked_at is not None:
            raise AuthenticationError("API key was revoked")
        if not info.usable_at(now):
            raise AuthenticationError("API key has expired")
        caller = self.caller_for(info.principal_id, via=f"apikey:{info.key_id}",
                                 scope=info.scope)
        with self._lock:
            if generation == self._generation:
                if len(self._cache) >= _CACHE_MAX:
                    self._cache.clear()
                self._cache[info.key_id] = _Verified(stored, caller, info.expires_at, now)
        return caller

    def caller_for(self, principal_id: str, *, via: str = "",
                   scope: frozenset[str] | None = None) -> Caller:
        """The caller a principal acts as: own roles plus those of enabled groups."""
        principal = self._store.principal(principal_id)
        if principal is None or principal.disabled:
            raise AuthenticationError("principal is unknown or disabled")
        roles = set(principal.roles)
        for group in self._store.groups_of(principal_id):
            if not group.disabled:
                roles |= group.roles
        return Caller(principal.principal_id, principal.kind, frozenset(roles),
                      principal.clearance, principal.org_unit, principal.jurisdiction,
                      via=via, scope=scope)

    def use_changes(self, feed: ChangeFeed) -> None:
        """Share cache drops with the other processes of the database (issue 22): a key
        revoked or a principal disabled elsewhere is refused here within a second."""
        self._feed = feed
        feed.subscribe("identity", self._drop_cache)

    def _forget(self, key_id: str | None = None) -> None:
        self._drop_cache(key_id)
        if self._feed is not None:
            self._feed.publish("identity")

    def _drop_cache(self, key_id: str | None = None) -> None:
        with self._lock:
            self._generation += 1
            if key_id is None:
                self._cache.clear()
            else:
                self._cache.pop(key_id, None)

    # -- management -----------------------------------------------------------------

    def _recorded(self, actor: str, action: str, resource: str,
                  details: dict[str, object], act: Callable[[], None]) -> None:
        """Record first, then act; if the act fails, record that too."""
        self._ledger.append(actor, action, resource, "success", details)
        try:
            act()
        except Exception as exc:  # any failure of the act must be on the record
            # The original error is what the caller must see, even if this fails too.
            with contextlib.suppress(LedgerUnavailableError):
                self._ledger.append(actor, action, resource, "failure",
                                    {**details, "error": type(exc).__name__})
            raise

    def create_principal(self, actor: str, principal_id: str, *, kind: str = "user",
                         roles: Iterable[str] = (), clearance: str = "public",
                         org_unit: str = "", jurisdiction: str = "",
                         display_name: str | None = None) -> Principal:
        principal = Principal(check_principal_id(principal_id), check_kind(kind),
                              display_name or principal_id, check_roles(roles),
                              check_clearance(clearance), org_unit, jurisdiction,
                              disabled=False, created_at=self._clock())
        self.require_absent(principal_id)
        self._recorded(actor, "identity.principal.create", f"principal:{principal_id}",
                       {"kind": principal.kind, "roles": sorted(principal.roles),
                        "clearance": principal.clearance, "org_unit": org_unit,
                        "jurisdiction": jurisdiction},
                       lambda: self._store.insert_principal(principal, actor))
        return principal

    def require_absent(self, principal_id: str) -> None:
        if self._store.principal(principal_id) is not None:
            raise ConflictError(f"principal {principal_id!r} exists already")

    def list_principals(self, kind: str | None = None) -> list[Principal]:
        return self._store.principals(kind)

    def get_principal(self, principal_id: str) -> Principal:
        return self._store.require_principal(principal_id)

    def set_disabled(self, actor: str, principal_id: str, *, disabled: bool = True) -> Principal:
        self._store.require_principal(principal_id)
        if disabled:
            self._refuse_lockout(f"disable {principal_id!r}", disabled=principal_id)
        action = "identity.principal.disable" if disabled else "identity.principal.enable"
        self._recorded(actor, action, f"principal:{principal_id}", {},
                       lambda: self._store.set_disabled(principal_id, disabled))
        self._forget()
        return self._store.require_principal(principal_id)

    def check_member_request(self, group_id: str, member_id: str) -> Principal:
        """The group, if ``member_id`` may be added to it; raises otherwise."""
        group = self._store.require_principal(group_id)
        if group.kind != "group":
            raise ConflictError(f"{group_id!r} is a {group.kind}, not a group")
        member = self._store.require_principal(member_id)
        if member.kind == "group":
            raise ConflictError("groups do not nest; add the members directly")
        if member_id in self._store.members(group_id):
            raise ConflictError(f"{member_id!r} is already in {group_id!r}")
        return group

    def add_member(self, actor: str, group_id: str, member_id: str) -> None:
        self.check_member_request(group_id, member_id)
        self._recorded(actor, "identity.group.add_member", f"principal:{group_id}",
                       {"member": member_id},
                       lambda: self._store.add_member(group_id, member_id))
        self._forget()

    def remove_member(self, actor: str, group_id: str, member_id: str) -> None:
        if member_id not in self._store.members(group_id):
            raise ConflictError(f"{member_id!r} is not in {group_id!r}")
        self._refuse_lockout(f"remove {member_id!r} from {group_id!r}",
                             removed=(group_id, member_id))
        self._recorded(actor, "identity.group.remove_member", f"principal:{group_id}",
                       {"member": member_id},
                       lambda: self._store.remove_member(group_id, member_id))
        self._forget()

    def members(self, group_id: str) -> list[str]:
        self._store.require_principal(group_id)
        return self._store.members(group_id)

    def check_key_request(self, principal_id: str, expires_at: float | None) -> float:
        """Now, if a key for ``principal_id`` expiring at ``expires_at`` may exist."""
        principal = self._store.require_principal(principal_id)
        if principal.kind == "group":
            raise ConflictError("groups cannot hold API keys; create one for a member")
        now = self._clock()
        if expires_at is not None and expires_at <= now:
            raise ConflictError("the expiry is in the past")
        return now

    def create_api_key(self, actor: str, principal_id: str, *, label: str = "",
                       expires_at: float | None = None,
                       scope: Iterable[str] | None = None) -> CreatedKey:
        now = self.check_key_request(principal_id, expires_at)
        new = apikeys.generate()
        info = ApiKeyInfo(new.key_id, principal_id, label, check_scope(scope), now,
                          expires_at, None)
        self._recorded(actor, "identity.apikey.create", f"apikey:{info.prefix}",
                       {"principal": principal_id, "label": label, "expires_at": expires_at,
                        "scope": None if info.scope is None else sorted(info.scope)},
                       lambda: self._store.insert_key(info, new.secret_sha256))
        return CreatedKey(info, new.token)

    def revoke_api_key(self, actor: str, key_id: str) -> ApiKeyInfo:
        key_id = key_id.removeprefix(apikeys.KEY_PREFIX)
        found = self._store.key_row(key_id)
        if found is None:
            raise NotFoundError(f"no API key {key_id!r}")
        if found[0].revoked_at is not None:
            raise ConflictError(f"API key {found[0].prefix} is already revoked")
        self._forget(key_id)
        self._recorded(actor, "identity.apikey.revoke", f"apikey:{found[0].prefix}",
                       {"principal": found[0].principal_id},
                       lambda: self._store.revoke_key(key_id, self._clock()))
        self._forget(key_id)
        row = self._store.key_row(key_id)
        if row is None:  # rows are never deleted; only a concurrent wipe gets here
            raise NotFoundError(f"API key {key_id!r} disappeared")
        return row[0]

    def list_api_keys(self, principal_id: str | None = None) -> list[ApiKeyInfo]:
        return self._store.keys(principal_id)

    def admin_exists(self) -> bool:
        return self._store.admin_exists()

    def enabled_admins(self, *, disabled: str | None = None,
                       removed: tuple[str, str] | None = None) -> frozenset[str]:
        """Enabled users and service accounts holding ``admin`` (own or by an enabled
        group), as they would be with ``disabled`` disabled and ``removed`` (group,
        member) taken out of its group."""
        principals = {p.principal_id: p for p in self._store.principals()}
        off = {pid for pid, p in principals.items() if p.disabled} | {disabled or ""}
        admins = set()
        for pid, p in principals.items():
            if p.kind == "group" or pid in off:
                continue
            roles = set(p.roles)
            for group in self._store.groups_of(pid):
                if group.principal_id not in off and (group.principal_id, pid) != removed:
                    roles |= group.roles
            if "admin" in roles:
                admins.add(pid)
        return frozenset(admins)

    def _refuse_lockout(self, what: str, *, disabled: str | None = None,
                        removed: tuple[str, str] | None = None) -> None:
        """Refuse a change that would leave no enabled administrator: nobody could
        manage principals or keys again (issue 13)."""
        if self.enabled_admins() and not self.enabled_admins(disabled=disabled,
                                                               removed=removed):
            raise ConflictError(
                f"cannot {what}: it would leave no enabled administrator and lock everyone "
                "out; create or enable another administrator first")


__all__ = ["IdentityService", "bearer_token"]
