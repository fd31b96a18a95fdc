"""Parquet files and Excel workbooks as governed tables; results as an Arrow stream."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook

from sovra.analytics.arrow import result_arrow
from sovra.errors import ParseError
from sovra.instance import Instance
from tests.analytics.conftest import ADMIN, ANALYST, CLEARED


def parquet_bytes() -> bytes:
    table = pa.table({
        "payee": ["Anna Keller", "Ben Ortiz", "Chloe Dubois"],
        "iban": ["DE89370400440532013000", "GB82WEST12345698765432",
                 "FR1420041010050500013M02606"],
        "amount": [1200, 800, 450],
        "paid": [date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4)],
    })
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def workbook_bytes() -> bytes:
    book = Workbook()
    staff = book.active
    assert staff is not None
    staff.title = "Staff"
    staff.append(["name", "email", "grade"])
    staff.append(["Anna Keller", "anna.keller@example.com", 7])
    staff.append(["Ben Ortiz", "ben.ortiz@example.com", 9])
    budget = book.create_sheet("Q1 Budget")
    budget.append(["dept", "budget"])
    budget.append(["sales", 150000.5])
    budget.append(["ops | support", 90000])  # the separator inside a cell stays one cell
    book.create_sheet("Empty")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_parquet_file_is_a_governed_table(hr: Instance) -> None:
    assert hr.data.ingest(ADMIN, "hr", "payments.parquet", parquet_bytes()).status == "ingested"
    sql = "SELECT payee, iban, amount, paid FROM hr.payments ORDER BY amount DESC"
    masked = hr.analytics.query(ANALYST, sql)
    assert [r[0] for r in masked.rows] == ["Anna Keller", "Ben Ortiz", "Chloe Dubois"]
    assert [r[2] for r in masked.rows] == [1200, 800, 450]  # typed: BIGINT
    assert masked.rows[0][3] == "2026-11-02"
    assert masked.masked == ("hr.payments.iban",)
    assert "DE89370400440532013000" not in repr(masked.rows)
    cleared = hr.analytics.query(CLEARED, sql)
    assert cleared.rows[0][1] == "DE89370400440532013000"
    total = hr.analytics.query(ANALYST, "SELECT sum(amount) FROM hr.payments")
    assert total.rows == ((2450,),)


def test_each_sheet_of_a_workbook_is_a_table(hr: Instance) -> None:
    assert hr.data.ingest(ADMIN, "hr", "plan.xlsx", workbook_bytes()).status == "ingested"
    names = {t.name for t in hr.analytics.tables(ANALYST, "hr")}
    assert {"plan_staff", "plan_q1_budget", "staff"} <= names
    assert "plan_empty" not in names
    staff = hr.analytics.query(ANALYST, "SELECT name, grade FROM hr.plan_staff ORDER BY grade")
    assert staff.rows == (("Anna Keller", 7), ("Ben Ortiz", 9))
    budget = hr.analytics.query(ANALYST, "SELECT dept, budget FROM hr.plan_q1_budget "
                                         "ORDER BY budget")
    assert budget.rows == (("ops / support", 90000.0), ("sales", 150000.5))


def test_a_malformed_workbook_or_parquet_file_is_refused_with_its_name(hr: Instance) -> None:
    broken = io.BytesIO()
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("xl/workbook.xml", "<not a workbook")
    with pytest.raises(ParseError, match=r"bad\.xlsx: .*Excel workbook"):
        hr.data.ingest(ADMIN, "hr", "bad.xlsx", broken.getvalue())
    with pytest.raises(ParseError, match=r"bad\.parquet: corrupt or unreadable Parquet"):
        hr.data.ingest(ADMIN, "hr", "bad.parquet", b"PAR1" + b"\x00" * 64 + b"PAR1")
    assert {t.name for t in hr.analytics.tables(ANALYST, "hr")} == {"staff"}


def test_a_result_as_an_arrow_stream_reads_back_with_pyarrow(hr: Instance) -> None:
    result = hr.analytics.query(ANALYST, "SELECT name, iban, salary, salary AS pay "
                                         "FROM hr.staff ORDER BY salary")
    table = ipc.open_stream(pa.BufferReader(result_arrow(result))).read_all()
    assert table.column_names == ["name", "iban", "salary", "pay"]
    assert table.column("salary").type == pa.int64()
    assert table.column("salary").to_pylist() == [52000, 58000, 61000]
    assert all(str(v).startswith("masked:") for v in table.column("iban").to_pylist())
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    assert meta["sovra.classification"] == result.classification.label == "public"
    assert meta["sovra.result_sha256"] == result.result_sha256
    assert meta["sovra.ledger_seq"] == str(result.ledger_seq)
    assert meta["sovra.masked"] == '["hr.staff.iban"]'
