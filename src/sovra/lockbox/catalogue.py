"""The privileged actions, in one place: what no principal holds without a grant.

An action listed here can be requested through the lockbox; a grant makes Cedar see
``context.access_grant_approved`` (and the grant's id) for exactly these actions on
exactly the granted resources (``60-lockbox.cedar`` permits them under a grant, and a
test checks the two lists agree). Actions named by the issue whose rooms do not exist
yet (data export, backup and restore, key rewrap) join this table when they arrive.

Pure: no Sovra imports beyond the leaf vocabulary, so the offline verifier can read it.
"""

from __future__ import annotations

from types import MappingProxyType

# action -> why it is privileged (shown by ``sovra access request --help`` and the docs)
PRIVILEGED_ACTIONS: MappingProxyType[str, str] = MappingProxyType({
    "documents.read": "read document or chunk contents",
    "analytics.query": "run governed SQL over a collection's rows",
    "collections.read": "see a collection and list its documents",
    "collections.ingest": "write data into a collection",
    "collections.erase": "erase documents or a whole collection (crypto-erasure)",
    "collections.hold": "place or lift a legal hold",
    "keys.status": "read key custody status",
    "keys.seal": "seal the instance",
    "keys.rotate": "rotate a keyring",
    "keys.erase": "destroy a key (crypto-erasure)",
    "principals.manage": "change a principal's roles or clearance",
    "ledger.witness": "configure ledger witnesses",
    "models.register": "register a model",
    "bundles.import": "import a signed bundle",
    "bundles.read": "read imported bundles",
})

# The Cedar resource types each privileged action applies to: a copy of
# ``sovra.policy.actions.ACTIONS`` for these actions (a test keeps them equal), so this
# pure core imports nothing of the policy room.
ACTION_TYPES: MappingProxyType[str, frozenset[str]] = MappingProxyType({
    "documents.read": frozenset({"Document", "Collection"}),
    "analytics.query": frozenset({"Collection"}),
    "collections.read": frozenset({"Collection"}),
    "collections.ingest": frozenset({"Collection"}),
    "collections.erase": frozenset({"Collection", "Document"}),
    "collections.hold": frozenset({"Collection"}),
    "keys.status": frozenset({"Keys"}),
    "keys.seal": frozenset({"Keys"}),
    "keys.rotate": frozenset({"Keys"}),
    "keys.erase": frozenset({"Keys", "Collection"}),
    "principals.manage": frozenset({"Principal"}),
    "ledger.witness": frozenset({"Ledger"}),
    "models.register": frozenset({"Model"}),
    "bundles.import": frozenset({"Bundle"}),
    "bundles.read": frozenset({"Bundle"}),
})

# Destroying keys or data is never undone: such requests need the highest quorum.
DESTRUCTIVE_ACTIONS: frozenset[str] = frozenset({"keys.erase", "collections.erase"})

# Reading contents needs seeing the container: one request, several decisions.
IMPLIED_ACTIONS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType({
    "documents.read": ("collections.read",),
})

# Scope kinds and the Cedar resource types a grant of that kind reaches.
SCOPE_KINDS: MappingProxyType[str, frozenset[str]] = MappingProxyType({
    "collection": frozenset({"Collection", "Document"}),
    "document": frozenset({"Document"}),
    "keyring": frozenset({"Keys"}),
    "instance": frozenset({"Ledger", "Keys", "Principal", "Collection", "Document", "Model",
                           "Bundle"}),
})

URGENCIES: frozenset[str] = frozenset({"low", "normal", "high", "emergency"})


def expand_actions(actions: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The requested actions plus those they imply, sorted and without duplicates."""
    found = set(actions)
    for action in actions:
        found.update(IMPLIED_ACTIONS.get(action, ()))
    return tuple(sorted(found))


__all__ = ["ACTION_TYPES", "DESTRUCTIVE_ACTIONS", "IMPLIED_ACTIONS", "PRIVILEGED_ACTIONS",
           "SCOPE_KINDS", "URGENCIES", "expand_actions"]
