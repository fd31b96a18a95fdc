"""Redaction for the diode (pure): every finding replaced, and the second look that
refuses an export when a value survives next to a replacement."""

from __future__ import annotations

import pytest

from sovra.analytics.export.redact import SourceFile, redact_all, redact_file, residual
from sovra.errors import InvalidInputError
from sovra.policy import Classification

LINE = ("login anna.keller@example.com from 10.1.2.3; payout DE89370400440532013000; "
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")


def test_every_finding_is_replaced_and_counted() -> None:
    done = redact_file(SourceFile("sovra.log", LINE * 3, Classification.INTERNAL))
    assert "example.com" not in done.redacted and "DE89" not in done.redacted
    assert "wJalrXUtnFEMI" not in done.redacted
    assert done.counts == {"api_token": 3, "email": 3, "iban": 3, "ip_address": 3}
    assert done.listing()["sha256"] == done.sha256


def test_a_value_left_beside_a_replacement_is_found() -> None:
    # What a broken redaction would leave: the label, and the IBAN still next to it.
    [left] = residual("payout [EMAIL] DE89370400440532013000 settled")
    assert left.kind.value == "iban"
    assert residual("payout [IBAN] settled, nothing else") == []


def test_a_value_far_from_any_replacement_was_the_first_scans_to_find() -> None:
    # The second look reads only around replacements: text elsewhere is the original's,
    # which the first scan read whole (so a planted value there is the first scan's job).
    far = "[EMAIL]" + " filler" * 40 + " DE89370400440532013000"
    assert residual(far) == []
    assert redact_file(SourceFile("f", far, Classification.PUBLIC)).counts == {"iban": 1}


def test_nothing_to_export_and_duplicate_names_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="nothing to export"):
        redact_all([])
    same = SourceFile("a.log", "x", Classification.PUBLIC)
    with pytest.raises(InvalidInputError, match="share a name"):
        redact_all([same, same])
