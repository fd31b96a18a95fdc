"""Ceremony, unsealing and sealing on a real instance (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from sovra.config import Settings
from sovra.errors import (
    ConflictError,
    LedgerUnavailableError,
    SealedError,
    ShareError,
)
from sovra.instance import Instance, open_instance
from sovra.keys.shares import Share
from sovra.store.tables.ledger import ledger_entries
from tests.keys.conftest import deal


def _reopen(instance: Instance) -> Instance:
    return open_instance(instance.settings)


def _entries(instance: Instance, action: str) -> list[dict[str, object]]:
    with instance.engine.connect() as conn:
        rows = conn.execute(select(ledger_entries.c.body).where(
            ledger_entries.c.action == action).order_by(ledger_entries.c.seq)).scalars()
        return [json.loads(bytes(body)) for body in rows]


@pytest.fixture
def sealed(instance: Instance) -> Iterator[tuple[Instance, list[Share]]]:
    """An initialised instance, reopened: sealed, as after a restart."""
    shares = deal(instance)
    again = _reopen(instance)
    yield again, shares
    again.close()


def test_fresh_instance_is_uninitialised_and_sealed(instance: Instance) -> None:
    status = instance.keys.seal_status()
    assert (status.initialized, status.sealed) == (False, True)
    with pytest.raises(SealedError, match="not initialised"):
        instance.keys.create_keyring("c1")


def test_ceremony_unseals_the_ceremony_process(instance: Instance) -> None:
    shares = deal(instance, threshold=2, shares=4)
    assert len(shares) == 4 and {s.index for s in shares} == {1, 2, 3, 4}
    status = instance.keys.seal_status()
    assert status.sealed is False and (status.threshold, status.shares) == (2, 4)


def test_unseal_with_threshold_shares(sealed: tuple[Instance, list[Share]]) -> None:
    inst, shares = sealed
    assert inst.keys.seal_status().sealed
    assert inst.keys.submit_share(shares[4].token()).progress == 1
    assert inst.keys.submit_share(shares[0].token()).progress == 2
    status = inst.keys.submit_share(shares[2].token())
    assert status.sealed is False
    assert inst.keys.create_keyring("c1").current_version == 1


def test_m_minus_1_shares_stay_sealed(sealed: tuple[Instance, list[Share]]) -> None:
    inst, shares = sealed
    for share in shares[:2]:
        inst.keys.submit_share(share.token())
    status = inst.keys.seal_status()
    assert status.sealed and status.progress == 2 and status.threshold == 3
    with pytest.raises(SealedError, match="3 custodian shares"):
        inst.keys.encrypt("c1", "o1", b"x")


def test_wrong_share(sealed: tuple[Instance, list[Share]]) -> None:
    inst, shares = sealed
    genuine = shares[1]
    forged = Share(genuine.ceremony_id, genuine.index, genuine.threshold,
                   bytes(b ^ 0x55 for b in genuine.value))  # valid checksum, wrong value
    with pytest.raises(ShareError, match="wrong share: share #2"):
        inst.keys.submit_share(forged.token())
    assert inst.keys.seal_status().progress == 0


def test_corrupted_share(sealed: tuple[Instance, list[Share]]) -> None:
    inst, shares = sealed
    token = shares[0].token()
    corrupted = token[:40] + ("a" if token[40] != "a" else "b") + token[41:]
    with pytest.raises(ShareError, match="corrupted"):
        inst.keys.submit_share(corrupted)


def test_share_from_another_ceremony(sealed: tuple[Instance, list[Share]],
                                     tmp_path_factory: pytest.TempPathFactory) -> None:
    inst, _ = sealed
    other_settings = Settings(data_dir=tmp_path_factory.mktemp("other"),
                              checkpoint_interval_s=0.0)
    other = open_instance(other_settings)
    try:
        foreign = deal(other)
    finally:
        other.close()
    with pytest.raises(ShareError, match="another ceremony"):
        inst.keys.submit_share(foreign[0].token())


def test_duplicate_share(sealed: tuple[Instance, list[Share]]) -> None:
    inst, shares = sealed
    inst.keys.submit_share(shares[3].token())
    with pytest.raises(ShareError, match="duplicate share: share #4"):
        inst.keys.submit_share(shares[3].token())
    assert inst.keys.seal_status().progress == 1


def test_reset_discards_progress(sealed: tuple[Instance, list[Share]]) -> None:
    inst, shares = sealed
    inst.keys.submit_share(shares[0].token())
    inst.keys.submit_share(shares[1].token())
    assert inst.keys.reset_unseal().progress == 0
    inst.keys.submit_share(shares[1].token())  # not a duplicate any more
    inst.keys.submit_share(shares[2].token())
    assert inst.keys.seal_status().sealed  # 2 of 3 since the reset


def test_seal_forgets_keys_at_once(instance: Instance) -> None:
    deal(instance)
    instance.keys.create_keyring("c1")
    blob = instance.keys.encrypt("c1", "o1", b"secret")
    instance.keys.seal()
    assert instance.keys.seal_status().sealed
    assert instance.keys.custody._root is None
    assert instance.keys._keyrings is not None and instance.keys._keyrings._keks == {}
    for attempt in (lambda: instance.keys.decrypt("c1", "o1", blob),
                    lambda: instance.keys.encrypt("c1", "o2", b"x"),
                    lambda: instance.keys.create_keyring("c2"),
                    lambda: instance.keys.rotate("c1"),
                    lambda: instance.keys.destroy_keyring("c1"),
                    lambda: instance.keys.rewrap("c1")):
        with pytest.raises(SealedError):
            attempt()


def test_second_ceremony_refused(instance: Instance) -> None:
    deal(instance)
    with pytest.raises(ConflictError, match="already initialised"):
        deal(instance)


def test_ledger_records_fingerprints_never_shares(sealed: tuple[Instance, list[Share]]) -> None:
    inst, shares = sealed
    for share in shares[:3]:
        inst.keys.submit_share(share.token())
    inst.keys.seal(actor="op")
    init = _entries(inst, "keys.init")
    assert len(init) == 1
    text = json.dumps(init)
    assert all(s.fingerprint in text for s in shares)
    assert init[0]["details"]["threshold"] == 3  # type: ignore[index]
    assert init[0]["details"]["shares"] == 5  # type: ignore[index]
    steps = _entries(inst, "keys.unseal.share")
    assert [s.fingerprint for s in shares[:3]] == [
        e["details"]["fingerprint"] for e in steps]  # type: ignore[index]
    everything = json.dumps(init + steps + _entries(inst, "keys.unseal")
                            + _entries(inst, "keys.seal"))
    for share in shares:
        assert share.value.hex() not in everything
        assert share.token() not in everything
    assert _entries(inst, "keys.unseal")[-1]["outcome"] == "success"
    assert len(_entries(inst, "keys.seal")) == 1


def test_rejected_share_is_recorded_as_failure(sealed: tuple[Instance, list[Share]]) -> None:
    inst, _ = sealed
    with pytest.raises(ShareError):
        inst.keys.submit_share("sovra-share-1:garbage")
    failures = [e for e in _entries(inst, "keys.unseal.share") if e["outcome"] == "failure"]
    assert len(failures) == 1


def test_no_ledger_no_unseal(sealed: tuple[Instance, list[Share]]) -> None:
    inst, shares = sealed
    inst.keys.submit_share(shares[0].token())
    inst.keys.submit_share(shares[1].token())
    inst.ledger.close()
    with pytest.raises(LedgerUnavailableError):
        inst.keys.submit_share(shares[2].token())
    status = inst.keys.seal_status()
    assert status.sealed and status.progress == 2


def test_no_ledger_no_rotation_no_erasure(instance: Instance) -> None:
    deal(instance)
    instance.keys.create_keyring("c1")
    blob = instance.keys.encrypt("c1", "o1", b"kept")
    instance.ledger.close()
    with pytest.raises(LedgerUnavailableError):
        instance.keys.rotate("c1")
    with pytest.raises(LedgerUnavailableError):
        instance.keys.destroy_keyring("c1")
    with pytest.raises(LedgerUnavailableError):
        instance.keys.create_keyring("c2")
    info = instance.keys.keyring("c1")
    assert info.current_version == 1 and not info.destroyed
    assert instance.keys.decrypt("c1", "o1", blob) == b"kept"
    # Sealing is the one exception: it only removes capability (ADR 0201).
    assert instance.keys.seal().sealed


def test_ceremony_held_by_another_process_is_seen(instance: Instance) -> None:
    """A server started before `sovra init` (another process) finds the ceremony."""
    assert instance.keys.seal_status().initialized is False
    ceremony_process = _reopen(instance)
    try:
        shares = deal(ceremony_process, threshold=2, shares=2)
    finally:
        ceremony_process.close()
    status = instance.keys.seal_status()
    assert status.initialized and status.sealed and status.threshold == 2
    for share in shares:
        instance.keys.submit_share(share.token())
    assert instance.keys.seal_status().sealed is False
    with pytest.raises(ConflictError, match="already unsealed"):
        instance.keys.submit_share(shares[0].token())


def test_concurrent_custodians_unseal_exactly_once(sealed: tuple[Instance, list[Share]]) -> None:
    import threading

    inst, shares = sealed
    outcomes: list[str] = []
    barrier = threading.Barrier(len(shares))

    def custodian(share: Share) -> None:
        barrier.wait()
        try:
            inst.keys.submit_share(share.token(), actor=f"custodian-{share.index}")
            outcomes.append("accepted")
        except ConflictError:
            outcomes.append("already unsealed")

    threads = [threading.Thread(target=custodian, args=(s,)) for s in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["accepted"] * 3 + ["already unsealed"] * 2
    assert inst.keys.seal_status().sealed is False
    assert len([e for e in _entries(inst, "keys.unseal") if e["outcome"] == "success"]) == 1
