"""HSM mode against a real SoftHSM2 token: the root never leaves the token."""

from __future__ import annotations

import json
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, KeyType, ObjectClass
from sqlalchemy import select

from sovra.config import Settings
from sovra.errors import HsmError, SealedError
from sovra.instance import Instance, open_instance
from sovra.keys import HsmConfig
from sovra.keys.hsm import key_label
from sovra.store.tables.ledger import ledger_entries
from tests.keys.conftest import SoftHsm


@pytest.fixture
def hsm_pin(softhsm: SoftHsm, monkeypatch: pytest.MonkeyPatch) -> SoftHsm:
    monkeypatch.setenv("SOVRA_TEST_HSM_PIN", softhsm.pin)
    return softhsm


def _config(softhsm: SoftHsm, **changes: object) -> HsmConfig:
    values: dict[str, object] = {"module": softhsm.module, "token_label": softhsm.token_label,
                                 "pin_file": None, "pin_env": "SOVRA_TEST_HSM_PIN"}
    values.update(changes)
    return HsmConfig(**values)  # type: ignore[arg-type]


def _failures(instance: Instance) -> list[dict[str, object]]:
    with instance.engine.connect() as conn:
        bodies = conn.execute(select(ledger_entries.c.body).where(
            ledger_entries.c.action == "keys.unseal")).scalars()
        entries = [json.loads(bytes(b)) for b in bodies]
    return [e for e in entries if e["outcome"] == "failure"]


def _token_session(softhsm: SoftHsm) -> pkcs11.Session:
    """A session of our own; PKCS#11 login is per process, so reuse one if it exists."""
    token = pkcs11.lib(softhsm.module).get_token(token_label=softhsm.token_label)
    try:
        return token.open(user_pin=softhsm.pin, rw=True)
    except pkcs11.UserAlreadyLoggedIn:
        return token.open(rw=True)


def test_hsm_ceremony_encrypts_and_auto_unseals(instance: Instance, hsm_pin: SoftHsm) -> None:
    result = instance.keys.init_hsm(_config(hsm_pin))
    assert result.mode == "hsm"
    instance.keys.create_keyring("c1")
    blob = instance.keys.encrypt("c1", "o1", b"inside the token's reach")
    reopened = open_instance(instance.settings)
    try:
        status = reopened.keys.seal_status()
        assert status.sealed is False and status.hsm_token == hsm_pin.token_label
        assert reopened.keys.decrypt("c1", "o1", blob) == b"inside the token's reach"
        reopened.keys.seal()
        with pytest.raises(SealedError):
            reopened.keys.decrypt("c1", "o1", blob)
        reopened.keys.unseal_hsm()
        assert reopened.keys.decrypt("c1", "o1", blob) == b"inside the token's reach"
    finally:
        reopened.close()


def test_root_key_is_sensitive_and_not_extractable(instance: Instance, hsm_pin: SoftHsm
                                                    ) -> None:
    ceremony_id = instance.keys.init_hsm(_config(hsm_pin)).ceremony_id
    with _token_session(hsm_pin) as session:
        key = session.get_key(object_class=ObjectClass.SECRET_KEY, key_type=KeyType.AES,
                              label=key_label(ceremony_id))
        assert key[Attribute.EXTRACTABLE] is False
        assert key[Attribute.SENSITIVE] is True
        with pytest.raises(pkcs11.PKCS11Error):
            key[Attribute.VALUE]  # reading the value is the attack


def test_pin_from_file(instance: Instance, softhsm: SoftHsm, tmp_path: Path) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text(softhsm.pin + "\n")
    pin_file.chmod(0o600)
    instance.keys.init_hsm(_config(softhsm, pin_file=str(pin_file), pin_env=None))
    reopened = open_instance(instance.settings)
    try:
        assert reopened.keys.seal_status().sealed is False
    finally:
        reopened.close()


def test_wrong_hsm_pin(instance: Instance, hsm_pin: SoftHsm,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    instance.keys.init_hsm(_config(hsm_pin))
    instance.keys.seal()  # the process logs out of the token: the token itself checks the PIN
    monkeypatch.setenv("SOVRA_TEST_HSM_PIN", "not-the-pin")
    reopened = open_instance(instance.settings)  # opens (health must answer) but sealed
    try:
        status = reopened.keys.seal_status()
        assert status.sealed and "wrong PIN" in (status.last_error or "")
        with pytest.raises(HsmError, match="wrong PIN"):
            reopened.keys.unseal_hsm()
        with pytest.raises(SealedError, match="HSM"):
            reopened.keys.create_keyring("c1")
        assert len(_failures(reopened)) == 2  # the automatic try and the explicit one
    finally:
        reopened.close()


def test_wrong_hsm_pin_while_the_process_is_logged_in(instance: Instance, hsm_pin: SoftHsm,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """PKCS#11 login is per process; a second opener must still know the PIN."""
    instance.keys.init_hsm(_config(hsm_pin))
    monkeypatch.setenv("SOVRA_TEST_HSM_PIN", "not-the-pin")
    reopened = open_instance(instance.settings)
    try:
        assert reopened.keys.seal_status().sealed
        with pytest.raises(HsmError, match="wrong PIN"):
            reopened.keys.unseal_hsm()
    finally:
        reopened.close()


def test_missing_token(instance: Instance, hsm_pin: SoftHsm) -> None:
    with pytest.raises(HsmError, match="no PKCS#11 token labelled 'no-such-token'"):
        instance.keys.init_hsm(_config(hsm_pin, token_label="no-such-token"))
    assert instance.keys.seal_status().initialized is False


def test_missing_module(instance: Instance, hsm_pin: SoftHsm) -> None:
    with pytest.raises(HsmError, match="module not found"):
        instance.keys.init_hsm(_config(hsm_pin, module="/nonexistent/libpkcs11.so"))


def test_missing_pin(instance: Instance, softhsm: SoftHsm,
                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOVRA_TEST_HSM_PIN", raising=False)
    with pytest.raises(HsmError, match="PIN is not set"):
        instance.keys.init_hsm(_config(softhsm))


def test_token_key_removed_after_init(sqlite_settings: Settings, hsm_pin: SoftHsm) -> None:
    """A token that no longer holds the root leaves the instance sealed with HsmError."""
    inst = open_instance(sqlite_settings)
    try:
        ceremony_id = inst.keys.init_hsm(_config(hsm_pin)).ceremony_id
    finally:
        inst.close()
    with _token_session(hsm_pin) as session:
        session.get_key(label=key_label(ceremony_id)).destroy()
    reopened = open_instance(sqlite_settings)
    try:
        with pytest.raises(HsmError, match="holds no root key"):
            reopened.keys.unseal_hsm()
    finally:
        reopened.close()


def test_failed_hsm_operation_is_recorded(instance: Instance, hsm_pin: SoftHsm) -> None:
    ceremony_id = instance.keys.init_hsm(_config(hsm_pin)).ceremony_id
    instance.keys.create_keyring("c1")
    with _token_session(hsm_pin) as session:
        session.get_key(label=key_label(ceremony_id)).destroy()
    with pytest.raises(HsmError, match="failed to wrap"):
        instance.keys.rotate("c1")
    assert instance.keys.keyring("c1").current_version == 1
    with instance.engine.connect() as conn:
        bodies = conn.execute(select(ledger_entries.c.body).where(
            ledger_entries.c.action == "keys.rotate")).scalars()
        outcomes = [(e["outcome"], e["details"].get("error"))
                    for e in (json.loads(bytes(b)) for b in bodies)]
    assert outcomes == [("success", None), ("failure", "HsmError")]
