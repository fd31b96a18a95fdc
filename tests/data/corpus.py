"""A labelled corpus for the detectors, generated (seeded) rather than shipped.

Each sample is a sentence of prose with at most one planted value, labelled with the kind
the value should be found as (``None`` for near misses: invalid checksums, wrong lengths,
values without context). Valid identifiers are made by drawing a random body and trying
every check character until python-stdnum accepts it, so the corpus needs no checksum code
of its own; invalid ones change one digit until stdnum rejects them.

Also used by ``benchmarks/classify_throughput.py`` for precision/recall figures.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass

from stdnum import iban as std_iban
from stdnum import luhn
from stdnum.at import vnr
from stdnum.be import nn
from stdnum.de import idnr
from stdnum.dk import cpr
from stdnum.es import dni, nie
from stdnum.eu import vat
from stdnum.fi import hetu
from stdnum.fr import nir
from stdnum.ie import pps
from stdnum.it import codicefiscale
from stdnum.nl import bsn
from stdnum.pl import pesel
from stdnum.pt import cc, nif
from stdnum.se import personnummer

from sovra.data.classify import Finding, Kind


@dataclass(frozen=True)
class Sample:
    text: str
    value: str  # the planted value as written ("" when nothing is planted)
    kind: Kind | None  # what it should be found as; None for a near miss
    detector: str  # the detector (kind or national-id label) this sample exercises


_PROSE = [
    "Please find the details for {name} below: {v}. Let me know if anything is missing.",
    "As discussed in the meeting, the reference is {v} and the file was updated.",
    "{name} wrote that {v} should be used from now on, according to the contract.",
    "The form lists {v} next to the signature of {name}.",
    "Record {n}: {v}; status pending review by the compliance team.",
]
_NAMES = ["Anna Keller", "Jean Martin", "Lucía García", "Marco Rossi", "Jan de Vries"]


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _complete(rng: random.Random, make_body: Callable[[], str], alphabet: str,
              check: Callable[[str], bool], fmt: Callable[[str], str] = lambda s: s,
              width: int = 1) -> str:
    """Draw bodies until one of the check strings of ``width`` characters validates."""
    for _ in range(500):
        body = make_body()
        options = [""]
        for _ in range(width):
            options = [o + c for o in options for c in alphabet]
        rng.shuffle(options)
        for tail in options:
            candidate = fmt(body + tail)
            if check(candidate):
                return candidate
    raise RuntimeError("no valid value found")


def _break(rng: random.Random, value: str, check: Callable[[str], bool]) -> str:
    """Change one digit so that the checksum fails."""
    positions = [i for i, c in enumerate(value) if c.isdigit()]
    for _ in range(200):
        i = rng.choice(positions)
        candidate = value[:i] + str((int(value[i]) + rng.randint(1, 9)) % 10) + value[i + 1:]
        if not check(candidate):
            return candidate
    raise RuntimeError("could not break the checksum")


def _date6(rng: random.Random) -> tuple[str, str, str]:
    return (f"{rng.randint(1, 28):02d}", f"{rng.randint(1, 12):02d}", f"{rng.randint(40, 99):02d}")


def _national(rng: random.Random) -> dict[str, tuple[Callable[[], str], Callable[[str], bool]]]:
    d = _digits
    digits = string.digits

    def es_dni() -> str:
        return _complete(rng, lambda: d(rng, 8), string.ascii_uppercase, dni.is_valid)

    def es_nie() -> str:
        return _complete(rng, lambda: rng.choice("XYZ") + d(rng, 7), string.ascii_uppercase,
                         nie.is_valid)

    def fr_nir() -> str:
        def body() -> str:
            return (rng.choice("12") + f"{rng.randint(40, 99):02d}{rng.randint(1, 12):02d}"
                    f"{rng.randint(1, 95):02d}" + d(rng, 6))
        return _complete(rng, body, digits, nir.is_valid, width=2)

    def de_idnr() -> str:
        def body() -> str:
            # IdNr rules: no leading zero; in the first ten digits one digit appears twice
            # (or three times) and the others at most once.
            ten = rng.sample("0123456789", 9)
            ten.insert(rng.randint(1, 9), ten[rng.randint(1, 8)])
            if ten[0] == "0":
                ten[0], ten[1] = ten[1], ten[0]
            return "".join(ten)
        return _complete(rng, body, digits, idnr.is_valid)

    def it_cf() -> str:
        def body() -> str:
            up = string.ascii_uppercase
            return ("".join(rng.choice(up) for _ in range(6)) + d(rng, 2)
                    + rng.choice("ABCDEHLMPRST") + f"{rng.randint(1, 28):02d}"
                    + rng.choice(up) + d(rng, 3))
        return _complete(rng, body, string.ascii_uppercase, codicefiscale.is_valid)

    def nl_bsn() -> str:
        return _complete(rng, lambda: rng.choice("123456789") + d(rng, 7), digits, bsn.is_valid)

    def pt_nif() -> str:
        return _complete(rng, lambda: rng.choice("12356") + d(rng, 7), digits, nif.is_valid)

    def pt_cc() -> str:
        return _complete(rng, lambda: d(rng, 8) + " " + str(rng.randint(0, 9)) + " "
                         + rng.choice(["ZZ", "ZX", "AB"]), digits, cc.is_valid)

    def pl_pesel() -> str:
        def body() -> str:
            dd, mm, yy = _date6(rng)
            return yy + mm + dd + d(rng, 4)
        return _complete(rng, body, digits, pesel.is_valid)

    def be_nn() -> str:
        def body() -> str:
            dd, mm, yy = _date6(rng)
            return yy + mm + dd + d(rng, 3)
        return _complete(rng, body, digits, nn.is_valid, width=2,
                         fmt=lambda s: f"{s[0:2]}.{s[2:4]}.{s[4:6]}-{s[6:9]}.{s[9:11]}")

    def se_pnr() -> str:
        def body() -> str:
            dd, mm, yy = _date6(rng)
            return yy + mm + dd + d(rng, 3)
        return _complete(rng, body, digits, personnummer.is_valid,
                         fmt=lambda s: f"{s[:6]}-{s[6:]}")

    def fi_hetu() -> str:
        def body() -> str:
            dd, mm, yy = _date6(rng)
            return dd + mm + yy + "-" + f"{rng.randint(2, 899):03d}"
        return _complete(rng, body, "0123456789ABCDEFHJKLMNPRSTUVWXY", hetu.is_valid)

    def dk_cpr() -> str:
        # No checksum since 2007; the serial's first digit and the year give the century,
        # and stdnum rejects birth dates in the future.
        return _complete(rng, lambda: "".join(_date6(rng)) + "-" + d(rng, 3), digits,
                         cpr.is_valid)

    def at_vnr() -> str:
        def body() -> str:
            return rng.choice("123456789") + d(rng, 2)
        dd, mm, yy = _date6(rng)
        return _complete(rng, body, digits, vnr.is_valid, fmt=lambda s: f"{s} {dd}{mm}{yy}")

    def ie_pps() -> str:
        return _complete(rng, lambda: d(rng, 7), "ABCDEFGHIJKLMNOPQRSTUVW", pps.is_valid)

    return {
        "es.dni": (es_dni, dni.is_valid), "es.nie": (es_nie, nie.is_valid),
        "fr.nir": (fr_nir, nir.is_valid), "de.idnr": (de_idnr, idnr.is_valid),
        "it.codicefiscale": (it_cf, codicefiscale.is_valid), "nl.bsn": (nl_bsn, bsn.is_valid),
        "pt.nif": (pt_nif, nif.is_valid), "pt.cc": (pt_cc, cc.is_valid),
        "pl.pesel": (pl_pesel, pesel.is_valid), "be.nn": (be_nn, nn.is_valid),
        "se.personnummer": (se_pnr, personnummer.is_valid), "fi.hetu": (fi_hetu, hetu.is_valid),
        "dk.cpr": (dk_cpr, cpr.is_valid), "at.vnr": (at_vnr, vnr.is_valid),
        "ie.pps": (ie_pps, pps.is_valid),
    }


def _iban(rng: random.Random) -> str:
    country, bban = rng.choice([
        ("DE", lambda: _digits(rng, 18)), ("NL", lambda: "ABNA" + _digits(rng, 10)),
        ("ES", lambda: _digits(rng, 20)), ("FR", lambda: _digits(rng, 23)),
        ("IT", lambda: rng.choice("ABCX") + _digits(rng, 22)),
    ])
    body = bban()
    for check in range(100):
        candidate = f"{country}{check:02d}{body}"
        if std_iban.is_valid(candidate):
            return " ".join(candidate[i:i + 4] for i in range(0, len(candidate), 4))
    return _iban(rng)


def _card(rng: random.Random) -> str:
    prefix, length = rng.choice([("4", 16), ("51", 16), ("55", 16), ("37", 15), ("6011", 16)])
    body = prefix + _digits(rng, length - len(prefix) - 1)
    number = next(body + c for c in string.digits if luhn.is_valid(body + c))
    if length == 16:
        return " ".join(number[i:i + 4] for i in range(0, 16, 4))
    return number


def _vat(rng: random.Random) -> str:
    maker = rng.choice([
        lambda: "DE" + rng.choice("123456789") + _digits(rng, 7),
        lambda: "NL" + _digits(rng, 8),
        lambda: "BE0" + _digits(rng, 7),
        lambda: "PT" + rng.choice("1235") + _digits(rng, 6),
    ])
    for _ in range(100):
        body = maker()
        for tail in ("B01", *[f"{i}" for i in range(10)], *[f"{i:02d}" for i in range(100)]):
            candidate = body + tail if not body.startswith("NL") else body + str(
                rng.randint(0, 9)) + "B01"
            if vat.is_valid(candidate):
                return candidate
    raise RuntimeError("no VAT number")


def _token(rng: random.Random) -> str:
    alnum = string.ascii_letters + string.digits
    return rng.choice([
        "AKIA" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16)),
        "ghp_" + "".join(rng.choice(alnum) for _ in range(36)),
        "sk-proj-" + "".join(rng.choice(alnum) for _ in range(48)),
        "xoxb-" + _digits(rng, 12) + "-" + "".join(rng.choice(alnum) for _ in range(24)),
    ])


_PEM = ("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9"
        "qfSnF\n-----END PRIVATE KEY-----")


def _positives(rng: random.Random) -> list[tuple[str, Kind, str]]:
    alnum = string.ascii_lowercase + string.digits
    user = "".join(rng.choice(alnum) for _ in range(rng.randint(3, 10)))
    password = "".join(rng.choice(alnum + "!#") for _ in range(12))
    dd, mm = rng.randint(1, 28), rng.randint(1, 12)
    year = rng.randint(1940, 2005)
    out: list[tuple[str, Kind, str]] = [
        (f"{user}.{rng.choice(['k', 'm'])}@{rng.choice(['example.com', 'firma.de', 'gov.fr'])}",
         Kind.EMAIL, "email"),
        ((f"+{rng.choice(['34', '49', '33', '39'])} {_digits(rng, 3)} {_digits(rng, 3)} "
         f"{_digits(rng, 3)}"), Kind.PHONE, "phone"),
        (f"0{rng.randint(1, 9)}{_digits(rng, 2)} {_digits(rng, 3)} {_digits(rng, 3)}",
         Kind.PHONE, "phone"),
        (_iban(rng), Kind.IBAN, "iban"),
        (_card(rng), Kind.PAYMENT_CARD, "payment_card"),
        (_vat(rng), Kind.VAT, "vat"),
        ((f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}."
         f"{rng.randint(1, 254)}"), Kind.IP_ADDRESS, "ip_address"),
        (f"2001:db8:{rng.randint(1, 9999):x}::{rng.randint(1, 999):x}", Kind.IP_ADDRESS,
         "ip_address"),
        (f"{dd:02d}.{mm:02d}.{year}", Kind.DATE_OF_BIRTH, "date_of_birth"),
        (_token(rng), Kind.API_TOKEN, "api_token"),
        (password, Kind.PASSWORD, "password"),
        (_PEM, Kind.PRIVATE_KEY, "private_key"),
    ]
    for label, (make, _check) in _national(rng).items():
        out.append((make(), Kind.NATIONAL_ID, label))
    return out


def _negatives(rng: random.Random) -> list[tuple[str, str]]:
    """Near misses: (text as written, detector it tempts)."""
    out = [
        (f"{rng.choice(['user', 'admin'])}@localhost", "email"),
        (f"@{rng.choice(['sovra', 'team'])}_{rng.randint(1, 99)}", "email"),
        (f"+{_digits(rng, 3)}", "phone"),
        (f"{rng.randint(256, 999)}.{rng.randint(0, 255)}.1.1", "ip_address"),
        (f"{rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}", "ip_address"),
        ("AKIA" + _digits(rng, 8), "api_token"),
        ("ghp_" + _digits(rng, 10), "api_token"),
        (f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(1990, 2024)}",
         "date_of_birth"),
        (f"postgres://db.internal:{rng.randint(1000, 9999)}/app", "password"),
        (str(rng.randint(1000, 99999)), "phone"),
    ]
    iban = _iban(rng).replace(" ", "")
    out.append((_break(rng, iban, std_iban.is_valid), "iban"))
    card = _card(rng)
    out.append((_break(rng, card, lambda v: luhn.is_valid(v.replace(" ", ""))), "payment_card"))
    vat_number = _vat(rng)
    out.append((_break(rng, vat_number, vat.is_valid), "vat"))
    for label, (make, check) in _national(rng).items():
        if label == "dk.cpr":
            out.append(((f"{rng.randint(32, 39)}{rng.randint(13, 19)}{_digits(rng, 2)}-"
                        f"{_digits(rng, 4)}"), label))
            continue
        out.append((_break(rng, make(), check), label))
    return out


def generate(seed: int = 5, rounds: int = 20) -> list[Sample]:
    """``rounds`` positives per detector (and per national ID) plus as many near misses."""
    rng = random.Random(seed)
    samples: list[Sample] = []
    for n in range(rounds):
        name = rng.choice(_NAMES)
        for value, kind, detector in _positives(rng):
            template = rng.choice(_PROSE)
            if kind is Kind.DATE_OF_BIRTH:
                template = rng.choice(["{name} was born on {v} in Madrid.",
                                       "Date of birth: {v}. Nationality: Spanish."])
            elif kind is Kind.PASSWORD:
                template = rng.choice(["Connect with postgresql://app:{v}@db.internal/app now.",
                                       "Use Server=db;User Id=app;Password={v}; in the config."])
            samples.append(Sample(template.format(name=name, v=value, n=n), value, kind, detector))
        for value, detector in _negatives(rng):
            template = rng.choice(_PROSE)
            samples.append(Sample(template.format(name=name, v=value, n=n), value, None,
                                  detector))
    return samples


__all__ = ["Sample", "generate"]


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def _detectors(finding: Finding) -> list[str]:
    if finding.kind is Kind.NATIONAL_ID:
        return finding.label.split(",")
    return [finding.kind.value]


def evaluate(samples: list[Sample], scan: Callable[[str], tuple[Finding, ...]]
             ) -> dict[str, Score]:
    """Precision and recall per detector (national IDs per country validator).

    A planted value counts as found when a finding of its kind (and validator) overlaps
    it; every other finding counts as a false positive of its own detector.
    """
    scores: dict[str, Score] = {}
    for sample in samples:
        findings = scan(sample.text)
        at = sample.text.find(sample.value) if sample.value else -1
        span = (at, at + len(sample.value))
        hit = False
        for finding in findings:
            overlaps = at >= 0 and finding.start < span[1] and finding.end > span[0]
            names = _detectors(finding)
            if (sample.kind is not None and overlaps and finding.kind is sample.kind
                    and sample.detector in names):
                hit = True  # other validators that also accept it are not errors
                continue
            for name in names:
                scores.setdefault(name, Score()).fp += 1
        if sample.kind is not None:
            score = scores.setdefault(sample.detector, Score())
            if hit:
                score.tp += 1
            else:
                score.fn += 1
    return dict(sorted(scores.items()))
