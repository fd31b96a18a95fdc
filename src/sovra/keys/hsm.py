"""HSM mode: the root key is a non-extractable AES-256 key inside a PKCS#11 token.

Wrapping and unwrapping of key-encryption keys happen in the token (CKM_AES_GCM,
PKCS#11 v2.40 §2.12.3 / v3.0 §2.14), so the root never leaves it. Tokens are found by
label, never by slot number (slot numbers change when tokens are added, SoftHSM2
renumbers them). The PIN comes from a file or an environment variable named in the
ceremony record, so the instance can unseal itself at start.

Every python-pkcs11 exception is translated into HsmError here.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.mechanisms import GCMParams

from sovra.errors import DecryptionError, HsmError, SealedError
from sovra.keys import aead

DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
DEFAULT_PIN_ENV = "SOVRA_HSM_PIN"


@dataclass(frozen=True)
class HsmConfig:
    """Where the root lives: PKCS#11 module, token label, and where the PIN comes from."""

    module: str
    token_label: str
    pin_file: str | None = None
    pin_env: str | None = DEFAULT_PIN_ENV

    def read_pin(self) -> str:
        if self.pin_file:
            try:
                return Path(self.pin_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise HsmError(f"cannot read the HSM PIN file {self.pin_file}: {exc}") from exc
        if self.pin_env:
            pin = os.environ.get(self.pin_env)
            if pin:
                return pin
            raise HsmError(f"the HSM PIN is not set: export {self.pin_env}")
        raise HsmError("no HSM PIN source configured (pin file or environment variable)")


def key_label(ceremony_id: str) -> str:
    return f"sovra-root-{ceremony_id}"


def _open_session(config: HsmConfig, pin: str) -> pkcs11.Session:
    if not Path(config.module).exists():
        raise HsmError(f"PKCS#11 module not found at {config.module}; install it "
                       "(scripts/install-system-deps.sh installs SoftHSM2)")
    try:
        lib = pkcs11.lib(config.module)
        token = lib.get_token(token_label=config.token_label)
        return token.open(user_pin=pin, rw=True)
    except pkcs11.NoSuchToken as exc:
        raise HsmError(f"no PKCS#11 token labelled {config.token_label!r} "
                       f"in {config.module}") from exc
    except pkcs11.MultipleTokensReturned as exc:
        raise HsmError(f"more than one token labelled {config.token_label!r}") from exc
    except (pkcs11.PinIncorrect, pkcs11.PinInvalid, pkcs11.PinLenRange) as exc:
        raise HsmError(f"wrong PIN for token {config.token_label!r}") from exc
    except pkcs11.PinLocked as exc:
        raise HsmError(f"the PIN of token {config.token_label!r} is locked") from exc
    except pkcs11.PKCS11Error as exc:
        raise HsmError(f"cannot open token {config.token_label!r}: "
                       f"{type(exc).__name__}") from exc


@dataclass
class _Login:
    session: pkcs11.Session
    pin_digest: bytes
    users: int
    lock: threading.Lock


class _Logins:
    """PKCS#11 login state belongs to the whole process (v2.40 §5.6, C_Login/C_Logout):
    a second C_Login fails with CKR_USER_ALREADY_LOGGED_IN, and closing the session that
    logged in logs every other session out. So each token is logged into once per
    process, shared by reference count; a later opener must present the same PIN."""

    def __init__(self) -> None:
        self._open: dict[tuple[str, str], _Login] = {}
        self._lock = threading.Lock()

    def acquire(self, config: HsmConfig) -> _Login:
        pin = config.read_pin()
        digest = hashlib.sha256(pin.encode("utf-8")).digest()
        key = (config.module, config.token_label)
        with self._lock:
            login = self._open.get(key)
            if login is None:
                login = _Login(_open_session(config, pin), digest, 0, threading.Lock())
                self._open[key] = login
            elif not hmac.compare_digest(login.pin_digest, digest):
                raise HsmError(f"wrong PIN for token {config.token_label!r}")
            login.users += 1
            return login

    def release(self, config: HsmConfig) -> None:
        key = (config.module, config.token_label)
        with self._lock:
            login = self._open.get(key)
            if login is None:
                return
            login.users -= 1
            if login.users <= 0:
                del self._open[key]
                # Sealing must not fail because logout did; the handle is dropped anyway.
                with contextlib.suppress(pkcs11.PKCS11Error):
                    login.session.close()


_LOGINS = _Logins()


class _TokenAesKey(Protocol):
    """The two calls we make on the root's handle (python-pkcs11 mixes them in)."""

    def encrypt(self, data: bytes, buffer_size: int = ..., **kwargs: Any) -> Any: ...

    def decrypt(self, data: bytes, buffer_size: int = ..., **kwargs: Any) -> Any: ...


class HsmRoot:
    """A share of the process's login on the token and the handle of the root key in it."""

    def __init__(self, login: _Login, key: object, config: HsmConfig) -> None:
        self._login: _Login | None = login
        self._key = cast(_TokenAesKey, key)
        self.config = config

    @property
    def kind(self) -> str:
        return "hsm"

    @classmethod
    def create(cls, config: HsmConfig, ceremony_id: str) -> HsmRoot:
        """Generate the root inside the token: sensitive, never extractable, persistent."""
        login = _LOGINS.acquire(config)
        try:
            with login.lock:
                key = login.session.generate_key(
                    KeyType.AES, aead.KEY_BYTES * 8, label=key_label(ceremony_id),
                    id=bytes.fromhex(ceremony_id), store=True,
                    capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
                    template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                              Attribute.PRIVATE: True},
                )
        except pkcs11.PKCS11Error as exc:
            _LOGINS.release(config)
            raise HsmError(f"the token could not generate the root key: "
                           f"{type(exc).__name__}") from exc
        return cls(login, key, config)

    @classmethod
    def open(cls, config: HsmConfig, ceremony_id: str) -> HsmRoot:
        login = _LOGINS.acquire(config)
        try:
            with login.lock:
                key = login.session.get_key(object_class=ObjectClass.SECRET_KEY,
                                            key_type=KeyType.AES, label=key_label(ceremony_id))
        except pkcs11.NoSuchKey as exc:
            _LOGINS.release(config)
            raise HsmError(f"token {config.token_label!r} holds no root key "
                           f"{key_label(ceremony_id)!r}") from exc
        except pkcs11.PKCS11Error as exc:
            _LOGINS.release(config)
            raise HsmError(f"cannot find the root key: {type(exc).__name__}") from exc
        return cls(login, key, config)

    def _live(self) -> _Login:
        if self._login is None:
            raise SealedError("the instance is sealed: the HSM session is closed")
        return self._login

    def wrap(self, plaintext: bytes | bytearray, aad: bytes) -> bytes:
        nonce = os.urandom(aead.NONCE_BYTES)
        login = self._live()
        with login.lock:  # one PKCS#11 session is not safe across threads
            try:
                sealed = self._key.encrypt(bytes(plaintext), mechanism=Mechanism.AES_GCM,
                                           mechanism_param=GCMParams(nonce, aad, 128))
            except pkcs11.PKCS11Error as exc:
                raise HsmError(f"the token failed to wrap a key: {type(exc).__name__}") from exc
        return nonce + bytes(sealed)

    def unwrap(self, blob: bytes, aad: bytes) -> bytearray:
        if len(blob) < aead.NONCE_BYTES + aead.TAG_BYTES:
            raise DecryptionError("wrapped key is truncated")
        login = self._live()
        with login.lock:
            try:
                opened = self._key.decrypt(blob[aead.NONCE_BYTES:], mechanism=Mechanism.AES_GCM,
                                           mechanism_param=GCMParams(blob[:aead.NONCE_BYTES],
                                                                     aad, 128))
            except (pkcs11.EncryptedDataInvalid, pkcs11.GeneralError) as exc:
                # SoftHSM2 reports a failed GCM tag as CKR_GENERAL_ERROR.
                raise DecryptionError("wrapped key failed authentication in the token: "
                                      "wrong root key or binding") from exc
            except pkcs11.PKCS11Error as exc:
                raise HsmError(f"the token failed to unwrap a key: "
                               f"{type(exc).__name__}") from exc
        return bytearray(opened)

    def close(self) -> None:
        if self._login is not None:
            self._login = None
            _LOGINS.release(self.config)
