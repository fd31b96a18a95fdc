"""Erasure certificates: signed JSON that lists what was erased, never the content.

The body is canonicalised with RFC 8785 (JCS) and signed with Ed25519 (RFC 8032). The
signing key belongs to the data layer: generated on first use, stored encrypted under
the ``data.certificates`` keyring of ``sovra.keys``; its public key travels inside every
certificate and is fixed per instance, so an auditor pins it once. ``verify_certificate``
is pure and needs nothing but the certificate.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Mapping

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from sovra.errors import ErasureCertificateError, InvalidInputError, NotFoundError
from sovra.keys import KeyService
from sovra.store.tables.data import data_signing_keys

KEYRING = "data.certificates"
_KEY_NAME = "erasure-ed25519"
_OBJECT = "data/certificates/erasure-ed25519"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class CertificateSigner:
    def __init__(self, engine: Engine, keys: KeyService,
                 clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._keys = keys
        self._clock = clock
        self._lock = threading.Lock()

    def _private_key(self) -> Ed25519PrivateKey:
        with self._lock:
            with self._engine.connect() as conn:
                row = conn.execute(select(data_signing_keys).where(
                    data_signing_keys.c.name == _KEY_NAME)).first()
            if row is None:
                return self._create()
            raw = self._keys.decrypt(KEYRING, _OBJECT, bytes(row.wrapped_private_key))
            return Ed25519PrivateKey.from_private_bytes(raw)

    def _create(self) -> Ed25519PrivateKey:
        try:
            self._keys.keyring(KEYRING)
        except NotFoundError:
            self._keys.create_keyring(KEYRING, actor="sovra.data")
        key = Ed25519PrivateKey.generate()
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        wrapped = self._keys.encrypt(KEYRING, _OBJECT, raw)
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(data_signing_keys).values(
                    name=_KEY_NAME, wrapped_private_key=wrapped, public_key=public,
                    created_at=self._clock()))
        except IntegrityError:  # another process created it first: use theirs
            with self._engine.connect() as conn:
                row = conn.execute(select(data_signing_keys).where(
                    data_signing_keys.c.name == _KEY_NAME)).one()
            raw = self._keys.decrypt(KEYRING, _OBJECT, bytes(row.wrapped_private_key))
            return Ed25519PrivateKey.from_private_bytes(raw)
        return key

    def sign(self, body: Mapping[str, object]) -> str:
        """The certificate: ``body`` plus ``public_key`` and ``signature``, as JSON text."""
        key = self._private_key()
        public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        unsigned = {**body, "public_key": _b64(public)}
        signature = key.sign(rfc8785.dumps(unsigned))  # type: ignore[arg-type]
        return json.dumps({**unsigned, "signature": _b64(signature)}, indent=2, sort_keys=True)


def verify_certificate(certificate: str, public_key: bytes | None = None) -> dict[str, object]:
    """The certificate's body if the signature verifies (against ``public_key`` if pinned).

    Raises ErasureCertificateError on any mismatch, InvalidInputError on text that is not a
    certificate.
    """
    try:
        document = json.loads(certificate)
        signature = base64.b64decode(document.pop("signature"), validate=True)
        embedded = base64.b64decode(document["public_key"], validate=True)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInputError(f"not an erasure certificate: {exc}") from exc
    if public_key is not None and embedded != public_key:
        raise ErasureCertificateError("certificate signed by another key than the pinned one")
    try:
        Ed25519PublicKey.from_public_bytes(embedded).verify(signature, rfc8785.dumps(document))
    except (InvalidSignature, ValueError) as exc:
        raise ErasureCertificateError("erasure certificate signature does not verify") from exc
    body: dict[str, object] = document
    return body


__all__ = ["KEYRING", "CertificateSigner", "verify_certificate"]
