"""Bind the gateway's ports (``sovra.ai.ports``) to the other rooms' real services."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from sovra.ai.models import Assessment, Span
from sovra.ai.ports import Principal
from sovra.data.classify import DEFAULT_MAPPING, LevelMapping, classify
from sovra.errors import ConflictError, NotFoundError, PermissionDeniedError
from sovra.identity import Caller
from sovra.keys import KeyService
from sovra.policy import PolicyService, Resource


class PolicyAdapter:
    """``PolicyPort`` over ``sovra.policy``: decides, records the decision, raises."""

    def __init__(self, policy: PolicyService) -> None:
        self._policy = policy

    def require(self, caller: Principal, action: str, resource_type: str, resource_id: str,
                attributes: Mapping[str, object]) -> None:
        if not isinstance(caller, Caller):
            # Only authenticated callers are decided by policy; anything else is refused.
            raise PermissionDeniedError(f"{caller.principal_id} is not an authenticated caller")
        self._policy.require(caller, action, Resource(resource_type, resource_id, attributes))


class KeysAdapter:
    """``KeysPort`` over ``sovra.keys``: creates the gateway's keyring on first use."""

    def __init__(self, keys: KeyService) -> None:
        self._keys = keys

    def is_sealed(self) -> bool:
        return self._keys.seal_status().sealed

    def encrypt(self, keyring_id: str, object_id: str, plaintext: bytes) -> bytes:
        try:
            return self._keys.encrypt(keyring_id, object_id, plaintext)
        except NotFoundError:
            with contextlib.suppress(ConflictError):  # another request created it
                self._keys.create_keyring(keyring_id)
            return self._keys.encrypt(keyring_id, object_id, plaintext)

    def decrypt(self, keyring_id: str, object_id: str, blob: bytes) -> bytes:
        return self._keys.decrypt(keyring_id, object_id, blob)


class DetectorClassifier:
    """``ClassifierPort`` over the data layer's detectors (``sovra.data.classify``)."""

    def __init__(self, mapping: LevelMapping = DEFAULT_MAPPING) -> None:
        self._mapping = mapping

    def classify(self, text: str) -> Assessment:
        result = classify(text, mapping=self._mapping)
        spans = tuple(Span(f.start, f.end, f.kind.value,
                           self._mapping.level_for(f.kind).label) for f in result.findings)
        return Assessment(result.level.label, spans)
