"""Quotas, concurrency and admission: refuse fast with a retry hint, recover with time."""

from __future__ import annotations

from dataclasses import fields

import pytest

from sovra.ai.limits import Limits, LimitSettings
from sovra.errors import QuotaExceededError


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_requests_per_minute_refuses_then_refills() -> None:
    clock = FakeClock()
    limits = Limits(LimitSettings(requests_per_minute=3, concurrent_per_principal=10),
                    clock=clock)
    for _ in range(3):
        limits.admit("alice")
        limits.release("alice", 0)
    with pytest.raises(QuotaExceededError) as caught:
        limits.admit("alice")
    assert 1.0 <= caught.value.retry_after_s <= 20.0
    limits.admit("bob")  # quotas are per principal
    clock.now += 20.0  # 3/min refills one request every 20 s
    limits.admit("alice")


def test_tokens_are_charged_after_the_answer() -> None:
    clock = FakeClock()
    limits = Limits(LimitSettings(tokens_per_minute=100), clock=clock)
    limits.admit("alice")
    limits.release("alice", 250)  # one big answer puts the bucket in debt
    with pytest.raises(QuotaExceededError, match="tokens-per-minute") as caught:
        limits.admit("alice")
    assert caught.value.retry_after_s > 60.0
    clock.now += 91.0
    limits.admit("alice")


def test_concurrency_per_principal() -> None:
    limits = Limits(LimitSettings(concurrent_per_principal=2), clock=FakeClock())
    limits.admit("alice")
    limits.admit("alice")
    with pytest.raises(QuotaExceededError, match="in flight"):
        limits.admit("alice")
    limits.release("alice", 0)
    limits.admit("alice")


def test_a_slot_is_released_once_and_charges_its_tokens() -> None:
    clock = FakeClock()
    limits = Limits(LimitSettings(tokens_per_minute=100, concurrent_per_principal=1),
                    clock=clock)
    with limits.slot("alice") as slot:
        assert limits.active("alice") == 1
        with pytest.raises(QuotaExceededError, match="in flight"):
            limits.slot("alice")
        slot.tokens = 150
    assert limits.active("alice") == 0
    slot.release()  # a second release gives nothing back twice
    assert limits.active("alice") == 0
    with pytest.raises(QuotaExceededError, match="tokens-per-minute"):
        limits.slot("alice")  # the 150 tokens were charged on release


def test_the_gateway_limits_hold_no_in_flight_limit_of_their_own() -> None:
    # ADR 0609: one in-flight limit, the door's (tests/ai/test_admission.py).
    assert "max_in_flight" not in {f.name for f in fields(LimitSettings)}
