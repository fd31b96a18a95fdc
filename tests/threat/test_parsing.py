"""The pure parts: Sigma compilation, STIX and MISP parsing, YARA compilation, syslog.

Bad input of each kind is rejected with a message naming the file and the rule, and
never stops the good rules beside it from compiling.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from sovra.errors import InvalidInputError
from sovra.threat import compile_pack, parse_misp, parse_stix
from sovra.threat.alerts import Alert
from sovra.threat.export import syslog_message
from sovra.threat.scanning import YaraRules

PACK = Path(__file__).parent / "pack"
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def misp_tar(folder: Path = PACK / "misp-feed") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for path in sorted(folder.iterdir()):
            tar.add(path, arcname=f"misp-feed/{path.name}")
    return out.getvalue()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_test_pack_compiles_every_rule(dialect: str) -> None:
    pack = compile_pack({"sovra-rules.yml": (PACK / "sovra-rules.yml").read_text()}, dialect)
    assert pack.problems == ()
    assert len(pack.singles) == 5
    assert {c.kind for c in pack.correlations} == {"event_count", "value_count", "temporal"}
    # Base rules of a correlation are not alerts of their own (Sigma ``generate: false``).
    standalone = {r.title for r in pack.singles if r.standalone}
    assert standalone == {"Privileged change requested", "Off-hours access to secret data"}
    if dialect == "postgresql":
        assert all("ILIKE" in r.where for r in pack.singles if "LIKE" in r.where)


def test_bad_rules_are_named_and_the_good_ones_still_compile() -> None:
    good = (PACK / "sovra-rules.yml").read_text()
    files = {
        "good.yml": good,
        "broken.yml": "title: [unclosed\n",
        "fields.yml": ("title: Uses a Windows field\nlogsource: {product: windows}\n"
                       "detection: {sel: {CommandLine|contains: mimikatz}, condition: sel}\n"),
        "nodetection.yml": "title: No detection\nlogsource: {product: sovra}\n",
        "dangling.yml": ("title: Refers to nothing\ncorrelation: {type: event_count, "
                         "rules: [no_such_rule], timespan: 5m, condition: {gte: 2}}\n"),
    }
    pack = compile_pack(files, "sqlite")
    assert len(pack.singles) == 5 and len(pack.correlations) == 4
    messages = {p.source: str(p) for p in pack.problems}
    assert set(messages) == {"broken.yml", "fields.yml", "nodetection.yml", "dangling.yml"}
    assert "malformed YAML" in messages["broken.yml"]
    assert "'Uses a Windows field'" in messages["fields.yml"]
    assert "CommandLine" in messages["fields.yml"]
    assert "'No detection'" in messages["nodetection.yml"]
    assert "no_such_rule" in messages["dangling.yml"]


def test_stix_bundle_gives_addresses_hashes_and_domains() -> None:
    found = parse_stix((PACK / "indicators.stix.json").read_bytes(), "stix:test@1")
    assert "127.0.0.1" in found.ip
    assert found.match_domain("beacon.c2.evil.example") is not None
    assert found.match_domain("evil.example") is None
    assert len(found.sha256) == 1
    assert found.user_agent.keys() == {"sqlmap/1.7.2#stable"}
    assert found.match_domain("www.staging.scanner.example") is not None  # folded
    assert found.problems == []


@pytest.mark.parametrize(("pattern", "kept", "problem"), [
    # Exact only when every part is an equality joined by OR.
    ("[ipv4-addr:value = '10.0.0.1'] OR [ipv4-addr:value = '10.0.0.2']",
     {"10.0.0.1", "10.0.0.2"}, None),
    ("[ipv4-addr:value = '10.0.0.1' AND network-traffic:dst_port = 443]", set(),
     "not an OR of equality"),
    ("[ipv4-addr:value = '10.0.0.1'] REPEATS 5 TIMES", set(), "not an OR of equality"),
    ("[ipv4-addr:value != '10.0.0.1']", set(), "not an OR of equality"),
    # A comparison Sovra cannot see, beside one it can: the one it can, said so.
    ("[ipv4-addr:value = '10.0.0.1' OR url:value = 'http://x/ AND y']", {"10.0.0.1"},
     "only its comparisons"),
])
def test_stix_patterns_are_used_only_where_matching_them_is_exact(
        pattern: str, kept: set[str], problem: str | None) -> None:
    import json

    bundle = {"type": "bundle", "id": "bundle--6f1c2a52-3c3e-4d0b-9b1a-5c2f8a7e0101",
              "objects": [{
                  "type": "indicator", "spec_version": "2.1",
                  "id": "indicator--6f1c2a52-3c3e-4d0b-9b1a-5c2f8a7e0102",
                  "created": "2026-11-01T00:00:00.000Z",
                  "modified": "2026-11-01T00:00:00.000Z", "pattern": pattern,
                  "pattern_type": "stix", "valid_from": "2026-11-01T00:00:00Z"}]}
    found = parse_stix(json.dumps(bundle).encode(), "stix:p@1")
    assert set(found.ip) == kept
    if problem is None:
        assert found.problems == []
    else:
        assert len(found.problems) == 1
        assert problem in found.problems[0] and "stix:p@1#indicator--" in found.problems[0]


@pytest.mark.parametrize("body", [b"{not json", b'{"type": "indicator"}',
                                  (b'{"type": "bundle", "id": "bundle--x", "objects": '
                                   b'[{"type": "indicator", "spec_version": "2.1"}]}')])
def test_invalid_stix_is_rejected_naming_the_pack(body: bytes) -> None:
    with pytest.raises(InvalidInputError, match="stix:bad@1"):
        parse_stix(body, "stix:bad@1")


def test_misp_feed_directory() -> None:
    found = parse_misp(misp_tar(), "misp:cert@1")
    known_bad = (PACK / "known-bad.txt").read_bytes()
    import hashlib

    assert hashlib.sha256(known_bad).hexdigest() in found.sha256
    assert "198.51.100.23" in found.ip
    assert "exfil.example" in found.domain
    assert "EvilBot/1.0" in found.user_agent


def test_misp_without_manifest_is_rejected() -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("feed/hashes.csv")
        info.size = 0
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(InvalidInputError, match=r"misp:x@1: a MISP feed needs manifest\.json"):
        parse_misp(out.getvalue(), "misp:x@1")


def test_yara_eicar_matches_and_a_bad_file_is_named_but_does_not_stop_the_rest() -> None:
    rules = YaraRules.compile({"eicar.yar": (PACK / "eicar.yar").read_text(),
                               "broken.yar": "rule broken { condition: no_such_thing }"})
    assert [p.source for p in rules.problems] == ["broken.yar"]
    assert "no_such_thing" in str(rules.problems[0])
    assert [m.rule for m in rules.scan(b"header " + EICAR + b" trailer")] == ["eicar_test_file"]
    assert rules.scan(b"an ordinary document") == []


def test_syslog_message_is_rfc5424() -> None:
    alert = Alert("a1", "r1", 'Title with "quotes"', "high", "open", None, 3, 1.0, 2.0, 3.0,
                  {}, None, None)
    message = syslog_message(alert, hostname="site-1")
    head, _, msg = message.partition(b"\xef\xbb\xbf")
    # PRI = facility 10 (authpriv) * 8 + severity 3 (error) for "high"; version 1.
    assert head.startswith(b"<83>1 ")
    assert b' site-1 sovra - alert [sovra@32473 alert="a1" rule="r1" severity="high"' in head
    assert msg == b'Title with "quotes"'


_NC = " COLLATE NOCASE"


@pytest.mark.parametrize(("where", "expected"), [
    (f"\"action\"='data.retrieve'{_NC} AND \"classification\"='secret'{_NC}",
     ("data.retrieve", f"\"classification\"='secret'{_NC}")),
    (f"\"action\"='a.b'{_NC}", ("a.b", "1=1")),
    # Case-insensitive: the value is folded as the projection folds actions.
    (f"\"action\"='Data.Retrieve'{_NC}", ("data.retrieve", "1=1")),
    ("LOWER(\"action\")=LOWER('A.b') AND \"hour\" < 5", ("a.b", "\"hour\" < 5")),
    # A case-sensitive comparison (|cased) is not Sigma's default match: not split.
    ("\"action\"='a.b'", (None, None)),
    # AND binds tighter than OR: splitting would change the meaning.
    (f"\"action\"='a.b'{_NC} AND \"outcome\"='denied' OR \"hour\" < 5", (None, None)),
    (f"\"action\"='a.b'{_NC} AND (\"outcome\"='denied' OR \"hour\" < 5)",
     ("a.b", "(\"outcome\"='denied' OR \"hour\" < 5)")),
    (f"\"action\"='a.b'{_NC} AND \"resource\"=' OR x'", ("a.b", "\"resource\"=' OR x'")),
    (f"\"principal\"='x'{_NC}", (None, None)),
])
def test_rules_are_grouped_by_action_only_when_that_keeps_their_meaning(
        where: str, expected: tuple[str | None, str | None]) -> None:
    from sovra.threat.hunt import split_action

    action, rest = split_action(where)
    assert action == expected[0]
    assert rest == (expected[1] if expected[0] is not None else where)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_default_pack_compiles(dialect: str) -> None:
    from importlib.resources import files

    text = files("sovra.threat").joinpath("default-pack.yaml").read_text("utf-8")
    pack = compile_pack({"default-pack.yaml": text}, dialect)
    assert pack.problems == ()
    assert {c.title for c in pack.correlations} >= {
        "API key failing repeatedly", "Bulk retrieval of secret documents",
        "Policy change followed by an export", "Lockbox grant used on many resources"}
    assert {r.title for r in pack.singles if r.standalone} == {
        "Off-hours access to secret data", "Lockbox grant used off-hours"}
    # "Followed by": the export must come after the policy change.
    assert {c.title: c.kind for c in pack.correlations}[
        "Policy change followed by an export"] == "temporal_ordered"


def test_projection_of_ledger_entries() -> None:
    from sovra.threat.events import RawEntry, project

    failure = project(RawEntry(7, {
        "action": "identity.authenticate", "actor": "anonymous", "outcome": "failure",
        "resource": "client:10.0.0.9", "time": "2026-12-07T02:30:00.000000Z",
        "details": {"credential": "sk-sovra-abc", "reason": "unknown key"}}), {}, {})
    assert (failure["source_ip"], failure["credential"], failure["hour"]) == (
        "10.0.0.9", "sk-sovra-abc", 2)
    retrieval = project(RawEntry(8, {
        "action": "data.retrieve", "actor": "dave", "outcome": "success",
        "resource": "collections/vault", "time": "2026-12-07T14:00:00.000000Z",
        "details": {"chunks": ["d1#0", "d1#1", "d2#0"], "k": 3}}),
        {"dave": "analyst"}, {"d1": "internal", "d2": "secret"})
    assert (retrieval["documents"], retrieval["chunks"], retrieval["classification"],
            retrieval["role"]) == (2, 3, "secret", "analyst")
    granted = project(RawEntry(9, {
        "action": "policy.decision", "actor": "otto", "outcome": "allowed",
        "resource": 'Document::"d2"', "time": "2026-12-07T23:10:00.000000Z",
        "details": {"action": "documents.read", "grant_id": "g-123"}}), {}, {})
    assert (granted["grant_id"], granted["source_ip"], granted["hour"]) == ("g-123", None, 23)
