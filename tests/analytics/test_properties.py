"""Property: whatever the clearance, tables and query, no value above the caller's
clearance ever appears in a governed result (masks and row filters together).

The sensitive values are unique strings, each with the level it must be hidden above:
by its column (e-mail internal, IBAN confidential, a password in a DSN secret), by its
row's label, or by its document's declared level.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sovra.errors import InvalidInputError
from sovra.identity import Caller
from sovra.instance import Instance
from sovra.policy import Classification
from tests.analytics.conftest import ADMIN

SENSITIVE: dict[str, int] = {
    "anna.keller@example.com": 1, "ben.ortiz@example.com": 1,
    "DE89370400440532013000": 2, "GB82WEST12345698765432": 2,
    "Zed Hidden-Case": 2, "Omega Blacksite": 3, "Int Note": 1,
    "Sup3rS3cretPw": 3, "billing-core": 1, "Merger Falcon": 2,
}
TABLES: dict[str, tuple[str, ...]] = {
    "staff": ("name", "email", "iban", "salary"),
    "cases": ("case_id", "classification", "summary"),
    "dsns": ("service", "dsn"),
    "board": ("topic", "amount"),
}


def _load(hr: Instance) -> None:
    ingest = hr.data.ingest
    ingest(ADMIN, "hr", "cases.csv", (
        b"case_id,classification,summary\nc1,public,routine\n"
        b"c2,confidential,Zed Hidden-Case\nc3,secret,Omega Blacksite\nc4,internal,Int Note\n"))
    ingest(ADMIN, "hr", "dsns.csv", b"service,dsn\nbilling-core,"
           b"postgres://app:Sup3rS3cretPw@db.internal/billing\n", Classification.INTERNAL)
    ingest(ADMIN, "hr", "board.csv", b"topic,amount\nMerger Falcon,1000000\n",
           Classification.CONFIDENTIAL)


@st.composite
def queries(draw: st.DrawFn) -> str:
    table = draw(st.sampled_from(sorted(TABLES)))
    columns = TABLES[table]
    column = draw(st.sampled_from(columns))
    other = draw(st.sampled_from(sorted(TABLES)))
    fragment = draw(st.sampled_from(["%", "%e%", "DE%", "%Sup3r%", "%Falcon%", "c%"]))
    picked = draw(st.lists(st.sampled_from(columns), min_size=1, max_size=3, unique=True))
    return draw(st.sampled_from([
        f"SELECT * FROM hr.{table}",
        f"SELECT {', '.join(picked)} FROM hr.{table}",
        f"SELECT * FROM hr.{table} WHERE CAST({column} AS VARCHAR) LIKE '{fragment}'",
        f"SELECT a.*, b.* FROM hr.{table} a CROSS JOIN hr.{other} b",
        f"SELECT string_agg(CAST({column} AS VARCHAR), ',') FROM hr.{table}",
        (f"SELECT max(CAST({column} AS VARCHAR)), min(CAST({column} AS VARCHAR)) "
        f"FROM hr.{table}"),
        (f"WITH x AS (SELECT {column} AS v FROM hr.{table}) SELECT upper(CAST(v AS VARCHAR)), "
        "lower(CAST(v AS VARCHAR)) FROM x"),
        f"SELECT {column} FROM hr.{table} UNION ALL SELECT {TABLES[other][0]} FROM hr.{other}",
    ]))


def test_no_value_above_clearance_appears(hr: Instance) -> None:
    _load(hr)

    @settings(max_examples=60, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(level=st.sampled_from(list(Classification)), sql=queries())
    def check(level: Classification, sql: str) -> None:
        caller = Caller("pat", "user", frozenset({"analyst"}), level.label)
        try:
            result = hr.analytics.query(caller, sql)
        except InvalidInputError:
            return  # a type error in a random query: refused, nothing shown
        text = repr(result.rows).lower()
        for value, value_level in SENSITIVE.items():
            if value_level > level:
                assert value.lower() not in text, (level, sql, value)
        assert result.classification <= level

    check()
