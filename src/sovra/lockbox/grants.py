"""Grants at decision time: which live grant, if any, lets this action on this resource.

The policy service asks ``context_for`` before every decision (``PolicyService.use_grants``),
so this is on the hot path of every request. The common answer, "this principal holds no
grant", comes from memory: a snapshot of live grants by principal, re-read from the
database at most every ``refresh_s`` (a grant approved in another process, say by the
CLI, is seen within that time). A grant about to be used is always re-read from the
database first, so a revocation, a termination or a spent single-use grant is seen by the
very next request in every process: a stale snapshot can only miss a grant (deny), never
use an ended one (fail closed).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from sovra.lockbox.lifecycle import why_unusable
from sovra.lockbox.store import RequestStore
from sovra.lockbox.values import AccessRequest, Limits
from sovra.policy import Resource
from sovra.vocabulary import Caller

log = logging.getLogger(__name__)
_PLACES_MAX = 4096


class GrantIndex:
    """Live grants by principal, plus a bounded document -> collection memo."""

    def __init__(self, store: RequestStore, clock: Callable[[], float], limits: Limits,
                 document_collection: Callable[[str], str | None], *,
                 refresh_s: float = 1.0) -> None:
        self._store = store
        self._clock = clock
        self._limits = limits
        self._document_collection = document_collection
        self._refresh_s = refresh_s
        self._by_principal: dict[str, tuple[AccessRequest, ...]] = {}
        self._places: dict[str, str | None] = {}
        self._loaded_at = -float("inf")
        self._lock = threading.Lock()
        self._reloading = False

    def _fresh(self) -> dict[str, tuple[AccessRequest, ...]]:
        """The snapshot; when it is old, a worker thread re-reads it (decisions run on the
        event loop too, which must not wait for the database). Until then the old one
        answers: it can only miss a newer grant (deny), never keep an ended one usable,
        because every use is confirmed against the database (``confirm``)."""
        if self._loaded_at == -float("inf"):
            self.reload()  # the first snapshot, once per process, before it answers
        elif time.monotonic() - self._loaded_at >= self._refresh_s and not self._reloading:
            with self._lock:
                start, self._reloading = not self._reloading, True
            if start:
                threading.Thread(target=self._reload_in_background, name="lockbox-grants",
                                 daemon=True).start()
        return self._by_principal

    def _reload_in_background(self) -> None:
        try:
            self.reload()
        except Exception:  # the next decision tries again; the old snapshot stays
            log.exception("lockbox: cannot re-read live grants")
        finally:
            self._reloading = False

    def reload(self) -> None:
        """Re-read every live grant (all processes' approvals)."""
        live = self._store.live_grants(self._clock())
        grouped: dict[str, list[AccessRequest]] = {}
        for req in live:
            grouped.setdefault(req.requester, []).append(req)
        with self._lock:
            self._by_principal = {k: tuple(v) for k, v in grouped.items()}
            self._loaded_at = time.monotonic()

    def put(self, req: AccessRequest) -> None:
        """This process changed ``req``: the snapshot reflects it at once."""
        with self._lock:
            others = tuple(g for g in self._by_principal.get(req.requester, ())
                           if g.id != req.id)
            self._by_principal = {**self._by_principal, req.requester: (*others, req)}

    def known(self, grant_id: str) -> AccessRequest | None:
        """The grant as this process last saw it (None: not in the snapshot)."""
        for grants in self._by_principal.values():
            for grant in grants:
                if grant.id == grant_id:
                    return grant
        return None

    def holds_grant(self, principal_id: str) -> bool:
        """Whether the principal may hold a live grant (then decisions are not memoised)."""
        now = self._clock()
        return any(g.expires_at is not None and now < g.expires_at
                   for g in self._fresh().get(principal_id, ()))

    def collection_of(self, document_id: str) -> str | None:
        """A document's collection (ids never move, so the answer is kept)."""
        if document_id in self._places:
            return self._places[document_id]
        found = self._document_collection(document_id)
        with self._lock:
            if len(self._places) >= _PLACES_MAX:
                self._places.clear()
            self._places[document_id] = found
        return found

    def candidate(self, caller: Caller, action: str, resource: Resource) -> AccessRequest | None:
        """A grant from the snapshot that would cover the request now (not yet confirmed)."""
        grants = self._fresh().get(caller.principal_id)
        if not grants:
            return None
        now = self._clock()
        for grant in grants:
            if why_unusable(grant, action, resource.type, resource.id, now=now,
                            limits=self._limits, collection_of=self.collection_of) is None:
                return grant
        return None

    def confirm(self, grant: AccessRequest, action: str, resource: Resource
                ) -> tuple[AccessRequest, str | None]:
        """The grant as stored now, and why it cannot be used (None: it can).

        One primary-key read of what can change under a live grant (its status, end and
        first use); the whole request is re-read only when one of them changed."""
        stored = self._store.current(grant.id)
        if stored != (grant.status.value, grant.expires_at, grant.first_used_at):
            grant = self._store.get(grant.id)
            self.put(grant)
        return grant, why_unusable(grant, action, resource.type, resource.id,
                                   now=self._clock(), limits=self._limits,
                                   collection_of=self.collection_of)


def grant_context(grant: AccessRequest) -> Mapping[str, object]:
    """What Cedar sees under a grant (the ``access_grant_approved`` hook and its id)."""
    return {"access_grant_approved": True, "grant_id": grant.id,
            "grant_scope": str(grant.scope)}


__all__ = ["GrantIndex", "grant_context"]
