"""Governed SQL over real ingested documents: masks, row filters, refusals, the record."""

from __future__ import annotations

import hashlib

import pytest

from sovra.errors import InvalidInputError, NotFoundError, ParseError, PermissionDeniedError
from sovra.instance import Instance
from sovra.policy import Classification
from tests.analytics.conftest import ADMIN, ANALYST, CLEARED, OUTSIDER
from tests.analytics.ledger import entries

SELECT_ALL = "SELECT name, email, iban, salary FROM hr.staff ORDER BY salary"


def test_a_column_above_clearance_is_masked_and_the_rest_is_shown(hr: Instance) -> None:
    result = hr.analytics.query(ANALYST, SELECT_ALL)
    assert result.columns == ("name", "email", "iban", "salary")
    assert [row[0] for row in result.rows] == ["Anna Keller", "Chloe Dubois", "Ben Ortiz"]
    assert all(str(row[2]).startswith("masked:") for row in result.rows)
    assert "DE89370400440532013000" not in repr(result.rows)
    assert result.rows[0][1] == "anna.keller@example.com"  # internal: within clearance
    assert result.masked == ("hr.staff.iban",)
    assert result.classification is Classification.INTERNAL


def test_clearance_at_the_columns_level_sees_it(hr: Instance) -> None:
    result = hr.analytics.query(CLEARED, SELECT_ALL)
    assert result.rows[0][2] == "DE89370400440532013000"
    assert result.masked == ()
    assert result.classification is Classification.CONFIDENTIAL


def test_a_filter_on_a_masked_column_is_no_oracle(hr: Instance) -> None:
    # The mask applies before the caller's WHERE: the real value cannot be probed.
    probe = "SELECT count(*) FROM hr.staff WHERE iban LIKE 'DE89%'"
    assert hr.analytics.query(ANALYST, probe).rows == ((0,),)
    assert hr.analytics.query(CLEARED, probe).rows == ((1,),)


def test_masked_values_still_group_within_one_query(hr: Instance) -> None:
    result = hr.analytics.query(ANALYST, "SELECT count(DISTINCT iban) FROM hr.staff")
    assert result.rows == ((3,),)


def test_aggregates_are_public_when_they_touch_public_columns(hr: Instance) -> None:
    result = hr.analytics.query(ANALYST, "SELECT dept, count(*) AS n, sum(salary) AS total "
                                         "FROM hr.staff GROUP BY dept ORDER BY dept")
    assert result.rows == (("ops", 1, 58000), ("sales", 2, 113000))
    assert result.classification is Classification.PUBLIC
    assert set(result.columns_touched) == {"hr.staff.dept", "hr.staff.salary"}


def test_rows_above_clearance_are_filtered_by_their_label(hr: Instance) -> None:
    hr.data.ingest(ADMIN, "hr", "cases.csv", (
        b"case,classification,summary\n"
        b"c1,public,routine check\nc2,confidential,merger review\nc3,internal,payroll run\n"))
    sql = "SELECT \"case\", summary FROM hr.cases ORDER BY 1"
    assert hr.analytics.query(ANALYST, sql).rows == (("c1", "routine check"),
                                                     ("c3", "payroll run"))
    assert len(hr.analytics.query(CLEARED, sql).rows) == 3


def test_a_declared_level_filters_every_row_of_its_document(hr: Instance) -> None:
    hr.data.ingest(ADMIN, "hr", "board.csv", b"topic,amount\nfalcon,1000000\n",
                   Classification.CONFIDENTIAL)
    assert hr.analytics.query(ANALYST, "SELECT * FROM hr.board").rows == ()
    assert hr.analytics.query(CLEARED, "SELECT * FROM hr.board").rows == (("falcon", 1000000),)


def test_the_ledger_records_hashes_tables_columns_and_counts(hr: Instance) -> None:
    result = hr.analytics.query(ANALYST, SELECT_ALL)
    entry = entries(hr, "analytics.query")[-1]
    assert entry["outcome"] == "success"
    details = entry["details"]
    assert details["query_sha256"] == hashlib.sha256(SELECT_ALL.encode()).hexdigest()
    assert details["tables"] == ["hr.staff"]
    assert details["row_count"] == 3
    assert details["result_sha256"] == result.result_sha256
    assert details["masked"] == ["hr.staff.iban"]
    assert details["classification"] == "internal"
    assert "DE89370400440532013000" not in str(entry)


def test_a_caller_without_analytics_rights_is_refused_and_recorded(hr: Instance) -> None:
    with pytest.raises(PermissionDeniedError):
        hr.analytics.query(OUTSIDER, "SELECT count(*) FROM hr.staff")
    assert entries(hr, "analytics.query")[-1]["outcome"] == "denied"


def test_an_unknown_table_names_the_known_ones(hr: Instance) -> None:
    with pytest.raises(NotFoundError, match="known: staff"):
        hr.analytics.query(ANALYST, "SELECT * FROM hr.nothing")


def test_a_malformed_spreadsheet_is_refused_with_its_name(hr: Instance) -> None:
    hr.data.ingest(ADMIN, "hr", "broken.csv", b"a,b\n1,2\n3,4,5\n")
    with pytest.raises(ParseError, match=r"broken.csv: row 3 has 3 cells"):
        hr.analytics.query(ANALYST, "SELECT * FROM hr.staff")
    assert entries(hr, "analytics.query")[-1]["details"]["error"] == "ParseError"


def test_json_arrays_of_objects_are_tables(hr: Instance) -> None:
    hr.data.ingest(ADMIN, "hr", "teams.json",
                   b'[{"team": "red", "size": 4}, {"team": "blue", "size": 6}]')
    result = hr.analytics.query(ANALYST, "SELECT sum(size) FROM hr.teams")
    assert result.rows == ((10,),)


def test_a_bad_column_is_a_clear_400_not_a_crash(hr: Instance) -> None:
    with pytest.raises(InvalidInputError, match="the query failed"):
        hr.analytics.query(ANALYST, "SELECT no_such_column FROM hr.staff")


def test_tables_lists_columns_levels_and_masks(hr: Instance) -> None:
    [info] = hr.analytics.tables(ANALYST, "hr")
    columns = {name: (level, masked) for name, _type, level, masked in info.columns}
    assert columns["iban"] == ("confidential", True)
    assert columns["email"] == ("internal", False)
