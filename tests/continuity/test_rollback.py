"""Rollback detection after restore, the hold on serving, and an approver's acceptance."""

from __future__ import annotations

from pathlib import Path

import pytest

from sovra.continuity import accept_rollback, create_backup, refuse_if_held, restore
from sovra.continuity.restore import restored_settings
from sovra.errors import InvalidInputError, NotFoundError, PermissionDeniedError, RollbackHoldError
from sovra.instance import open_instance
from sovra.ledger import note as notes
from tests.continuity.conftest import Source


def _restore(source: Source, folder: Path, target: Path, checkpoint: str | None):
    return restore(folder, target, trusted=source.instance.ledger.checkpoints.verifier,
                   shares=source.share_texts[:2], checkpoint=checkpoint, actor="test")


def test_restoring_an_older_log_than_a_witnessed_checkpoint_is_a_rollback(
        source: Source, tmp_path: Path) -> None:
    inst = source.instance
    made = create_backup(inst, actor="test", dest=tmp_path / "b")
    for i in range(5):  # acknowledged after the backup
        inst.ledger.append("test", "test.event", f"thing/{i}", "success")
    later = inst.ledger.sign_checkpoint()  # the checkpoint the operator keeps outside
    target = tmp_path / "restored"
    done = _restore(source, made.path, target, later)
    assert done.verdict.rolled_back
    assert "5 acknowledged entries are missing" in done.verdict.reason
    with pytest.raises(RollbackHoldError, match="refuses to serve"):
        refuse_if_held(target)

    restored = open_instance(restored_settings(target))
    try:
        tail = b"".join(bytes(r.body) for r in restored.ledger.tail(2))
        assert b'"continuity.rollback.hold"' in tail
        restored.identity.create_principal("test", "olga", roles=["operator"])
        restored.identity.create_principal("test", "appr", roles=["approver"])
        with pytest.raises(PermissionDeniedError):
            accept_rollback(restored, restored.identity.caller_for("olga"), "go")
        with pytest.raises(RollbackHoldError):
            refuse_if_held(target)
        accepted = accept_rollback(restored, restored.identity.caller_for("appr"),
                                   "the primary was destroyed; five test events are lost")
        assert accepted.accepted_by == "appr" and Path(accepted.evidence).is_file()
        refuse_if_held(target)  # serving is allowed again
        tail = b"".join(bytes(r.body) for r in restored.ledger.tail(3))
        assert b'"continuity.rollback.accept"' in tail and b"five test events" in tail
        with pytest.raises(NotFoundError):
            accept_rollback(restored, restored.identity.caller_for("appr"), "again")
    finally:
        restored.close()


def test_a_checkpoint_from_another_history_is_a_fork(source: Source, tmp_path: Path) -> None:
    inst = source.instance
    made = create_backup(inst, actor="test", dest=tmp_path / "b")
    signer = inst.ledger.checkpoints.signer
    forged = notes.sign_checkpoint(notes.Checkpoint(signer.name, 3, b"\x07" * 32), signer)
    done = _restore(source, made.path, tmp_path / "restored", forged)
    assert done.verdict.rolled_back and "fork" in done.verdict.reason


def test_a_checkpoint_the_restored_log_extends_is_no_rollback(source: Source,
                                                             tmp_path: Path) -> None:
    inst = source.instance
    earlier = inst.ledger.sign_checkpoint()
    made = create_backup(inst, actor="test", dest=tmp_path / "b")
    done = _restore(source, made.path, tmp_path / "restored", earlier)
    assert not done.verdict.rolled_back and "extends" in done.verdict.reason
    refuse_if_held(tmp_path / "restored")


def test_a_checkpoint_not_signed_by_the_log_is_refused(source: Source, tmp_path: Path) -> None:
    made = create_backup(source.instance, actor="test", dest=tmp_path / "b")
    stranger = notes.Signer.generate("someone.else/log")
    note = notes.sign_checkpoint(notes.Checkpoint(stranger.name, 1, b"\x01" * 32), stranger)
    with pytest.raises(InvalidInputError, match="not one this instance's log signed"):
        _restore(source, made.path, tmp_path / "restored", note)
    assert not (tmp_path / "restored").exists()
