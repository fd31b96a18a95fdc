"""GDPR Art. 30 records, the erasure register and the DORA register of information."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sovra.compliance import gather
from sovra.compliance.registers import (
    B_05_01,
    parse_inventory,
    register_csv,
    register_of_information,
    suppliers_from_sbom,
)
from sovra.config import load_settings
from sovra.data.values import CollectionSpec
from sovra.errors import InvalidInputError
from sovra.instance import Instance, open_instance
from sovra.policy.classification import Classification

INVENTORY = """
suppliers:
  - name: Nordic Hosting Oy
    code: 743700ABCDEFGHIJKL12
    code_type: LEI
    country: FI
    currency: EUR
    annual_expense: "120000"
    services: colocation
  - name: Acme Models GmbH
    country: DE
    services: model support
"""

SBOM = json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6",
                   "metadata": {"component": {"name": "m1", "supplier": {
                       "name": "Acme Models GmbH"}}},
                   "components": [{"name": "tokenizer", "publisher": "Tok Labs"}]}).encode()


def test_inventory_and_sboms_make_one_row_per_provider() -> None:
    rows = register_of_information(parse_inventory(INVENTORY, "yaml", "suppliers.yaml"),
                                   suppliers_from_sbom(SBOM, "m1.cdx.json"))
    by_name = {r.name: r for r in rows}
    assert set(by_name) == {"Nordic Hosting Oy", "Acme Models GmbH", "Tok Labs"}
    assert by_name["Acme Models GmbH"].services == "m1; model support"
    assert by_name["Tok Labs"].source == "sbom:m1.cdx.json"
    table = list(csv.reader(io.StringIO(register_csv(rows))))
    assert table[0] == [code for code, _ in B_05_01]
    assert table[2][:3] == ["743700ABCDEFGHIJKL12", "LEI", "Nordic Hosting Oy"]


def test_csv_inventory() -> None:
    rows = parse_inventory("name,country,currency\nA,SE,SEK\n", "csv", "s.csv")
    assert rows[0].country == "SE"


def test_an_inventory_with_errors_names_each_line_and_field() -> None:
    bad = "name,country,currency,code_type,code,colour\nA,Sweden,SEK,,,\n,SE,kr,LEI,123,\n"
    with pytest.raises(InvalidInputError) as raised:
        parse_inventory(bad, "csv", "s.csv")
    message = str(raised.value)
    assert "s.csv line 2: country 'Sweden' is not an ISO 3166 alpha-2 code" in message
    assert "s.csv line 3: name is missing" in message
    assert "s.csv line 3: code '123' is not a 20-character LEI" in message
    assert "currency 'kr'" in message and "unknown field(s) colour" in message
    with pytest.raises(InvalidInputError, match="not valid YAML"):
        parse_inventory("a: [", "yaml", "s.yaml")
    with pytest.raises(InvalidInputError, match="expected a list of suppliers"):
        parse_inventory("just text", "yaml", "s.yaml")


@pytest.fixture
def inst(tmp_path: Path) -> Iterator[Instance]:
    opened = open_instance(load_settings(data_dir=tmp_path / "d", checkpoint_interval_s=0.0))
    try:
        opened.keys.init(threshold=2, shares=3, deliver=lambda _: None)
        yield opened
    finally:
        opened.close()


def test_records_of_processing_and_erasures_from_the_instance(inst: Instance,
                                                              tmp_path: Path) -> None:
    inst.identity.create_principal("test", "boss", roles=["admin"], clearance="secret")
    caller = inst.identity.caller_for("boss", via="test")
    inst.data.create_collection(caller, CollectionSpec(
        "hr", "HR department", "employment contracts", ("employees",),
        ("contact", "bank details"), 365, "EU-ES", Classification.SECRET))
    found = gather.records_of_processing(inst, caller)
    assert found[0]["collection"] == "hr"
    assert found[0]["purposes"] == "employment contracts"
    assert found[0]["time_limit_for_erasure_days"] == 365
    inst.ledger.append("dpo", "data.erase", "data/subject", "success",
                       {"certificate_id": "c-1", "documents": ["d1", "d2"], "withheld": []})
    register = gather.erasures(inst)
    assert [(r["certificate_id"], r["documents_erased"]) for r in register] == [("c-1", 2)]
    inventory = tmp_path / "suppliers.yaml"
    inventory.write_text(INVENTORY)
    rows = gather.register_of_information(inst, inventory, [])
    assert {r.name for r in rows} == {"Nordic Hosting Oy", "Acme Models GmbH"}
    with pytest.raises(InvalidInputError, match=r"\.yaml, \.yml or \.csv"):
        gather.register_of_information(inst, tmp_path / "suppliers.txt", [])
