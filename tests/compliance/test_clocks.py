"""Incident clocks across their deadlines, with an injected clock (pure and through the
register on a real instance)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sovra.compliance.clocks import HOUR, ClockState, add_month, deadlines
from sovra.compliance.collectors import COLLECTORS, Context, State
from sovra.compliance.drafts import draft
from sovra.compliance.evidence import Events, Status, top_fields
from sovra.compliance.register import IncidentRegister
from sovra.config import load_settings
from sovra.errors import ConflictError, InvalidInputError
from sovra.instance import Instance, open_instance
from sovra.ledger import entry as entries
from tests.support.clock import TEST_NOW

T0 = TEST_NOW.timestamp()


def _states(now: float, **kw: object) -> dict[str, ClockState]:
    args: dict[str, object] = {"aware_at": T0, "classified_at": T0 + HOUR,
                               "classes": frozenset(), "sent": {}, "now": now, **kw}
    return {d.kind: d.state for d in deadlines(**args)}  # type: ignore[arg-type]


def test_dora_initial_is_due_four_hours_after_classification() -> None:
    classes = frozenset({"dora_major"})
    assert _states(T0 + 4.9 * HOUR, classes=classes)["dora.initial"] is ClockState.PENDING
    assert _states(T0 + 5.1 * HOUR, classes=classes)["dora.initial"] is ClockState.OVERDUE


def test_dora_initial_is_never_later_than_24_hours_after_awareness() -> None:
    late_classification = {"classes": frozenset({"dora_major"}),
                           "classified_at": T0 + 22 * HOUR}
    assert _states(T0 + 23.9 * HOUR, **late_classification)["dora.initial"] \
        is ClockState.PENDING
    assert _states(T0 + 24.1 * HOUR, **late_classification)["dora.initial"] \
        is ClockState.OVERDUE


def test_dora_intermediate_counts_from_the_initial_notification() -> None:
    classes = frozenset({"dora_major"})
    assert _states(T0 + 100 * HOUR, classes=classes)["dora.intermediate"] \
        is ClockState.WAITING
    sent = {"dora.initial": T0 + 2 * HOUR}
    assert _states(T0 + 73 * HOUR, classes=classes, sent=sent)["dora.intermediate"] \
        is ClockState.PENDING
    assert _states(T0 + 75 * HOUR, classes=classes, sent=sent)["dora.intermediate"] \
        is ClockState.OVERDUE


def test_dora_final_is_one_month_after_the_latest_intermediate() -> None:
    sent = {"dora.initial": T0 + HOUR, "dora.intermediate": T0 + 10 * HOUR}
    month = add_month(T0 + 10 * HOUR)
    classes = frozenset({"dora_major"})
    assert _states(month - 60, classes=classes, sent=sent)["dora.final"] is ClockState.PENDING
    assert _states(month + 60, classes=classes, sent=sent)["dora.final"] is ClockState.OVERDUE


def test_nis2_clocks() -> None:
    classes = frozenset({"nis2_significant"})
    before = _states(T0 + 23 * HOUR, classes=classes)
    assert before["nis2.early_warning"] is ClockState.PENDING
    after = _states(T0 + 25 * HOUR, classes=classes)
    assert after["nis2.early_warning"] is ClockState.OVERDUE
    assert after["nis2.notification"] is ClockState.PENDING
    assert _states(T0 + 73 * HOUR, classes=classes)["nis2.notification"] is ClockState.OVERDUE
    sent = {"nis2.early_warning": T0 + HOUR, "nis2.notification": T0 + 80 * HOUR}
    done = _states(add_month(T0 + 80 * HOUR) + 1, classes=classes, sent=sent)
    assert done["nis2.early_warning"] is ClockState.MET
    assert done["nis2.notification"] is ClockState.LATE
    assert done["nis2.final"] is ClockState.OVERDUE


def test_gdpr_72_hours() -> None:
    classes = frozenset({"gdpr_breach"})
    assert _states(T0 + 71 * HOUR, classes=classes)["gdpr.authority"] is ClockState.PENDING
    assert _states(T0 + 73 * HOUR, classes=classes)["gdpr.authority"] is ClockState.OVERDUE


def test_a_month_is_a_calendar_month() -> None:
    jan31 = datetime(2027, 1, 31, 12, tzinfo=UTC).timestamp()
    assert datetime.fromtimestamp(add_month(jan31), UTC) == datetime(2027, 2, 28, 12,
                                                                     tzinfo=UTC)


@pytest.fixture
def inst(tmp_path: Path) -> Iterator[Instance]:
    opened = open_instance(load_settings(data_dir=tmp_path / "d", checkpoint_interval_s=0.0))
    try:
        yield opened
    finally:
        opened.close()


def test_register_steps_clocks_and_overdue_alerts(inst: Instance) -> None:
    now = [T0]
    register = IncidentRegister(inst, clock=lambda: now[0])
    made = register.open("ops", "payment outage", source="alert:al-1")
    register.classify("ops", made.id, frozenset({"dora_major", "gdpr_breach"}))
    now[0] = T0 + 3 * HOUR
    register.notify("ops", made.id, "dora.initial", reference="CA-1")
    now[0] = T0 + 80 * HOUR  # gdpr.authority (72 h) and dora.intermediate (75 h) passed
    overdue = {d.kind for _, d in register.check_overdue()}
    assert overdue == {"gdpr.authority", "dora.intermediate"}
    assert register.check_overdue() and register.get(made.id).alerted == overdue
    actions = [r.body.split(b'"')[3].decode() for r in inst.ledger.tail(10)
               if b"incident/" in r.body]
    assert actions == ["compliance.incident.open", "compliance.incident.classify",
                       "compliance.incident.notify", "compliance.incident.overdue",
                       "compliance.incident.overdue"]  # raised once each
    filled = draft(register.get(made.id), "dora.intermediate", entity="bank", now=now[0])
    assert filled["deadline_state"] == "overdue"
    assert filled["previous_notifications"].keys() == {"dora.initial"}
    assert "root_cause" not in filled and "number_of_clients_affected" in filled


def test_register_refuses_bad_steps(inst: Instance) -> None:
    register = IncidentRegister(inst, clock=lambda: T0)
    made = register.open("ops", "x")
    with pytest.raises(ConflictError, match=r"not classified for nis2\.early_warning"):
        register.notify("ops", made.id, "nis2.early_warning")
    with pytest.raises(InvalidInputError, match="unknown notification"):
        register.notify("ops", made.id, "sec.8k")
    with pytest.raises(InvalidInputError, match="unknown classification"):
        register.classify("ops", made.id, frozenset({"sox"}))
    with pytest.raises(InvalidInputError, match="in the future"):
        register.open("ops", "y", aware_at=T0 + 3600)


def test_a_control_whose_room_is_missing_is_not_evidenced() -> None:
    ctx = Context(Events(()), T0 - 86400, T0, State(rooms=frozenset()))
    for control_id in ("sov-lbx-1", "sov-thr-1", "sov-bck-1", "sov-drl-1"):
        assert COLLECTORS[control_id](ctx).status is Status.NOT_EVIDENCED


@given(st.text(max_size=20).filter(lambda t: t.strip() != ""), st.text(max_size=20),
       st.dictionaries(st.text(max_size=8), st.text(max_size=12), max_size=4),
       st.sampled_from(["success", "denied", "allowed", "failure"]))
def test_top_fields_read_without_decoding_agree_with_json(actor: str, resource: str,
                                                           details: dict[str, str],
                                                           outcome: str) -> None:
    if "\x00" in actor + resource or not resource:
        return
    try:
        body = entries.seal(entries.prepare(actor, "policy.decision", resource, outcome,
                                            {**details, "outcome": "x", "resource": "y"}),
                            5, "2026-01-01T00:00:00.000000Z")
    except InvalidInputError:
        return
    value = json.loads(body)
    assert top_fields(body) == {k: value[k] for k in ("action", "actor", "outcome",
                                                      "resource", "time")}
