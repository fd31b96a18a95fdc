"""Development mode (what `sovra up` does to a fresh data directory) and startup reports."""

from __future__ import annotations

import stat

import pytest

from sovra.config import Settings
from sovra.errors import KeyCustodyError
from sovra.instance import open_instance
from sovra.keys import DEV_MODE_WARNING, start_for_up
from sovra.keys.devmode import dev_share_path
from tests.keys.conftest import deal


def test_fresh_directory_becomes_dev_mode(sqlite_settings: Settings,
                                          caplog: pytest.LogCaptureFixture) -> None:
    inst = open_instance(sqlite_settings)
    try:
        report = start_for_up(inst.keys)
        assert report.created_dev_ceremony
        assert report.status.dev_mode and not report.status.sealed
        assert report.warning == DEV_MODE_WARNING and "NOT FOR PRODUCTION" in report.warning
        assert "NOT FOR PRODUCTION" in caplog.text
        path = dev_share_path(inst.keys)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert "dev-mode: true" in path.read_text()
        inst.keys.create_keyring("c1")
        blob = inst.keys.encrypt("c1", "o", b"dev data")
    finally:
        inst.close()
    again = open_instance(sqlite_settings)  # a restart unseals itself, and says so again
    try:
        status = again.keys.seal_status()
        assert status.dev_mode and not status.sealed
        report = start_for_up(again.keys)
        assert not report.created_dev_ceremony and report.warning is not None
        assert again.keys.decrypt("c1", "o", blob) == b"dev data"
    finally:
        again.close()


def test_initialised_directory_starts_sealed_and_says_how(sqlite_settings: Settings) -> None:
    inst = open_instance(sqlite_settings)
    try:
        deal(inst)
    finally:
        inst.close()
    again = open_instance(sqlite_settings)
    try:
        report = start_for_up(again.keys)
        assert report.status.sealed and not report.status.dev_mode
        assert report.warning is None and not report.created_dev_ceremony
        assert "sovra unseal" in report.messages[0] and "3 of 5" in report.messages[0]
        assert not dev_share_path(again.keys).exists()
    finally:
        again.close()


def test_missing_dev_share_leaves_dev_instance_sealed(sqlite_settings: Settings) -> None:
    inst = open_instance(sqlite_settings)
    try:
        start_for_up(inst.keys)
        path = dev_share_path(inst.keys)
    finally:
        inst.close()
    path.unlink()
    again = open_instance(sqlite_settings)
    try:
        status = again.keys.seal_status()
        assert status.sealed and status.dev_mode and "cannot be read" in (status.last_error or "")
    finally:
        again.close()


def test_stray_dev_share_is_not_silently_replaced(sqlite_settings: Settings) -> None:
    inst = open_instance(sqlite_settings)
    try:
        path = dev_share_path(inst.keys)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("left over")
        with pytest.raises(KeyCustodyError, match="belongs to another database"):
            start_for_up(inst.keys)
    finally:
        inst.close()
