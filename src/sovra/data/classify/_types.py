"""The values the detectors produce: a finding is a kind, a span and a normalised value."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """What a detector found. The mapping to classification levels is keyed by these."""

    EMAIL = "email"
    PHONE = "phone"
    IBAN = "iban"
    PAYMENT_CARD = "payment_card"
    VAT = "vat"
    NATIONAL_ID = "national_id"
    IP_ADDRESS = "ip_address"
    DATE_OF_BIRTH = "date_of_birth"
    PRIVATE_KEY = "private_key"
    API_TOKEN = "api_token"  # noqa: S105 - the name of a kind, not a credential
    PASSWORD = "password"  # noqa: S105 - the name of a kind, not a credential


SECRET_KINDS: frozenset[Kind] = frozenset({Kind.PRIVATE_KEY, Kind.API_TOKEN, Kind.PASSWORD})


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected value: ``text[start:end]`` is the value as written.

    ``label`` names the validator that accepted it (``"es.dni"``, ``"visa"``,
    ``"github"``) and ``normalized`` is the canonical form used to compare a value with
    a data subject's identifier during erasure (compact, upper-case, digits only...).
    Findings never leave the process with their ``normalized`` value: what is stored or
    logged is the kind, label and span.
    """

    kind: Kind
    label: str
    start: int
    end: int
    normalized: str

    @property
    def length(self) -> int:
        return self.end - self.start


__all__ = ["SECRET_KINDS", "Finding", "Kind"]
