"""``sovra sql --ask``: the CLI's question in words is POST /analytics/ask's operation.

The model is a real OpenAI-compatible server on loopback (FakeUpstream) answering a
fixed SQL, the way tests/analytics/test_nl.py fixes the generated SQL: its request goes
through the AI room's governed chat; the proposal is recorded, shown, and runs through
the same gate as typed SQL, or is refused with the SQL shown. The real Typer app on a
real SQLite data directory.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import pytest
from click.testing import Result
from typer.testing import CliRunner

from sovra.cli.app import app
from sovra.config import Settings
from sovra.data.embed import Embedder
from sovra.instance import open_instance
from tests.ai.conftest import approved_upstream
from tests.analytics.conftest import ADMIN, STAFF_CSV, spec
from tests.e2e.fake_upstream import FakeUpstream, running_fake_upstream

QUESTION = "Who works in sales, and what are their IBANs?"
GOOD = ("Here you are:\n```sql\nSELECT name, iban, salary FROM hr.staff "
        "WHERE dept = 'sales' ORDER BY salary;\n```")
MODEL = "sql-writer"


@pytest.fixture
def site(sqlite_settings: Settings, cli_admin_key: str,
         embedder: Embedder) -> Iterator[tuple[Settings, str, FakeUpstream]]:
    """The HR table, an analyst's key, and the model that writes SQL (approved)."""
    assert cli_admin_key  # the data directory is initialised, unsealed in dev mode
    with running_fake_upstream() as fake:
        inst = open_instance(sqlite_settings)
        try:
            inst.data.use_embedder(embedder)
            inst.data.create_collection(ADMIN, spec())
            assert inst.data.ingest(ADMIN, "hr", "staff.csv", STAFF_CSV).status == "ingested"
            inst.identity.create_principal("system", "bob", roles=["analyst"],
                                           clearance="internal")
            key = inst.identity.create_api_key("system", "bob").token
            approved_upstream(inst, fake.port, model_id=MODEL)
        finally:
            inst.close()
        yield sqlite_settings, key, fake


def _sovra(settings: Settings, key: str, *args: str) -> Result:
    return CliRunner().invoke(app, ["--data-dir", str(settings.data_dir), "sql", *args],
                              env={"SOVRA_API_KEY": key, "COLUMNS": "200",
                                   "SOVRA_CHECKPOINT_INTERVAL_S": "0"})


def _recorded(settings: Settings, action: str) -> list[dict[str, object]]:
    inst = open_instance(settings)
    try:
        entries = [json.loads(row.body) for row in inst.ledger.tail(inst.ledger.size)]
    finally:
        inst.close()
    return [e for e in entries if e["action"] == action]


def test_ask_shows_the_sql_and_runs_it_through_the_gate(
        site: tuple[Settings, str, FakeUpstream]) -> None:
    settings, key, fake = site
    fake.answers[MODEL] = GOOD
    done = _sovra(settings, key, "--ask", QUESTION, "--collection", "hr", "--model", MODEL,
                  "--format", "csv")
    assert done.exit_code == 0, done.output
    assert "SELECT name, iban, salary FROM hr.staff WHERE dept = 'sales'" in done.stderr
    rows = list(csv.reader(io.StringIO(done.stdout)))
    assert rows[0] == ["name", "iban", "salary"]
    assert [r[0] for r in rows[1:]] == ["Anna Keller", "Ben Ortiz"]
    assert all(r[1].startswith("masked:") for r in rows[1:])  # the model widened nothing
    (proposed,) = _recorded(settings, "analytics.nl.propose")
    assert proposed["outcome"] == "success" and proposed["actor"] == "bob"
    assert QUESTION not in json.dumps(proposed)  # the question's hash, never its words
    assert _recorded(settings, "analytics.query")[-1]["details"]["masked"] == [  # type: ignore[index]
        "hr.staff.iban"]
    assert any(e["actor"] == "bob" for e in _recorded(settings, "ai.chat"))
    # The model saw the schema the analyst may query, never a value.
    prompt = json.dumps(fake.last_body)
    assert "hr.staff(" in prompt and "DE89370400440532013000" not in prompt


def test_ask_without_run_shows_the_proposal_as_json_and_runs_nothing(
        site: tuple[Settings, str, FakeUpstream]) -> None:
    settings, key, fake = site
    fake.answers[MODEL] = GOOD
    done = _sovra(settings, key, "--ask", QUESTION, "--collection", "hr", "--model", MODEL,
                  "--no-run")
    assert done.exit_code == 0, done.output
    shown = json.loads(done.stdout)
    assert shown["sql"].startswith("SELECT name, iban, salary FROM hr.staff")
    assert (shown["allowed"], shown["model"], shown["result"]) == (True, MODEL, None)
    (proposed,) = _recorded(settings, "analytics.nl.propose")
    assert shown["proposal_ledger_seq"] > 0 and proposed["details"]["sql"] == shown["sql"]  # type: ignore[index]
    assert not _recorded(settings, "analytics.query")


def test_ask_refuses_sql_the_allowlist_refuses_and_shows_it(
        site: tuple[Settings, str, FakeUpstream]) -> None:
    settings, key, fake = site
    fake.answers[MODEL] = "```sql\nCOPY (SELECT * FROM hr.staff) TO '/tmp/out.csv'\n```"
    done = _sovra(settings, key, "--ask", QUESTION, "--collection", "hr", "--model", MODEL)
    assert done.exit_code != 0
    assert "Traceback" not in done.output
    assert "not allowed" in done.stderr
    assert "COPY (SELECT * FROM hr.staff) TO '/tmp/out.csv'" in done.stderr
    (proposed,) = _recorded(settings, "analytics.nl.propose")
    assert proposed["outcome"] == "denied"
    assert not _recorded(settings, "analytics.query")  # nothing ran


@pytest.mark.parametrize("args", [
    ("SELECT 1", "--ask", QUESTION, "--collection", "hr"),  # both
    (),                                                     # neither
    ("--ask", QUESTION),                                    # no collection
])
def test_ask_and_a_select_are_one_or_the_other(
        site: tuple[Settings, str, FakeUpstream], args: tuple[str, ...]) -> None:
    settings, key, _ = site
    done = _sovra(settings, key, *args)
    assert done.exit_code != 0 and "InvalidInputError" in done.stderr
    assert "Traceback" not in done.output
    assert not _recorded(settings, "analytics.nl.propose")
