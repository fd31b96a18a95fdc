"""Accepting a detected rollback: an approver's explicit, recorded decision.

A restore that finds its log older than (or forking from) a checkpoint known outside the
backup leaves a hold; ``sovra up`` refuses to serve while it stands. Only a principal
the policy permits ``continuity.rollback.accept`` (the approver role, in the default
pack) can lift it, with a reason; the acceptance is recorded in the
ledger before the hold is lifted, and the hold file is kept beside it as evidence.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sovra.continuity import state
from sovra.errors import InvalidInputError, NotFoundError
from sovra.identity import Caller
from sovra.instance import Instance
from sovra.policy import Resource


@dataclass(frozen=True)
class Acceptance:
    backup_id: str
    accepted_by: str
    reason: str
    evidence: str


def accept_rollback(instance: Instance, caller: Caller, reason: str, *,
                    clock: Callable[[], float] = time.time) -> Acceptance:
    data_dir = instance.settings.data_dir
    hold = state.read_hold(data_dir)
    if hold is None:
        raise NotFoundError("this instance is not held: there is no rollback to accept")
    if not reason.strip():
        raise InvalidInputError("an approver must give a reason for accepting a rollback")
    # The decision is recorded whatever it is; the default pack permits the approver role
    # only (70-continuity.cedar).
    instance.policy.require(caller, "continuity.rollback.accept", Resource("Continuity"))
    instance.ledger.append(caller.principal_id, "continuity.rollback.accept",
                           f"continuity/backup/{hold.get('backup_id')}", "success",
                           {**hold, "accepted_reason": reason, "via": caller.via})
    evidence = state.room_dir(data_dir) / f"rollback-accepted-{int(clock())}.json"
    state.write_json(evidence, {**hold, "accepted_by": caller.principal_id,
                                "accepted_reason": reason, "accepted_at": clock()})
    state.hold_path(data_dir).unlink()
    state.fsync_dir(state.room_dir(data_dir))
    return Acceptance(str(hold.get("backup_id")), caller.principal_id, reason, str(evidence))
