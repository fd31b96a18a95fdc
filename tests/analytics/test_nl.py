"""A question in words: the model only proposes; its SQL is shown, recorded, and goes
through the same allowlist, masks and row filters as typed SQL."""

from __future__ import annotations

import asyncio

import pytest

from sovra.analytics.nl import GatewayProposer, extract_sql
from sovra.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from sovra.instance import Instance
from tests.analytics.conftest import ANALYST, OUTSIDER
from tests.analytics.ledger import entries

QUESTION = "What is the IBAN and salary of each person in sales?"
GOOD = ("Here you are:\n```sql\nSELECT name, iban, salary FROM hr.staff "
        "WHERE dept = 'sales' ORDER BY salary;\n```")


def test_the_prompt_names_only_what_the_caller_may_query(hr: Instance) -> None:
    text = hr.analytics.question_prompt(ANALYST, QUESTION, ["hr"])
    assert "hr.staff(name VARCHAR, email VARCHAR, iban VARCHAR (masked)" in text
    assert "DE89370400440532013000" not in text and "Anna" not in text  # no values
    assert text.endswith(f"Question: {QUESTION}")
    with pytest.raises(PermissionDeniedError):
        hr.analytics.question_prompt(OUTSIDER, QUESTION, ["hr"])
    with pytest.raises(NotFoundError):
        hr.analytics.question_prompt(ANALYST, QUESTION, ["nowhere"])


def test_proposed_sql_is_recorded_then_governed_like_typed_sql(hr: Instance) -> None:
    proposal = hr.analytics.propose(ANALYST, QUESTION, "fixed-model", GOOD)
    assert proposal.allowed and proposal.sql.startswith("SELECT name, iban, salary")
    recorded = entries(hr, "analytics.nl.propose")[-1]
    assert recorded["outcome"] == "success"
    assert recorded["details"]["sql"] == proposal.sql
    assert recorded["details"]["model"] == "fixed-model"
    assert QUESTION not in str(recorded)  # the question's hash, never its words
    result = hr.analytics.run_proposal(ANALYST, proposal)
    assert [row[0] for row in result.rows] == ["Anna Keller", "Ben Ortiz"]
    assert result.masked == ("hr.staff.iban",)  # the model widened nothing
    assert "DE89370400440532013000" not in repr(result.rows)
    assert entries(hr, "analytics.query")[-1]["details"]["masked"] == ["hr.staff.iban"]


@pytest.mark.parametrize("answer", [
    "```sql\nSELECT * FROM read_csv('/etc/passwd')\n```",
    "```sql\nCOPY (SELECT * FROM hr.staff) TO '/tmp/out.csv'\n```",
    "SELECT 1; DROP TABLE hr.staff",
    "```sql\nATTACH '/tmp/x.db' AS x\n```",
])
def test_sql_the_allowlist_refuses_is_refused_with_the_sql_shown(
        hr: Instance, answer: str) -> None:
    proposal = hr.analytics.propose(ANALYST, QUESTION, "fixed-model", answer)
    assert not proposal.allowed and proposal.reason
    recorded = entries(hr, "analytics.nl.propose")[-1]
    assert recorded["outcome"] == "denied" and recorded["details"]["allowed"] is False
    with pytest.raises(InvalidInputError, match="not allowed") as refused:
        hr.analytics.run_proposal(ANALYST, proposal)
    assert proposal.sql in str(refused.value)
    assert not entries(hr, "analytics.query")  # nothing ran


def test_an_answer_without_sql_is_a_refusal() -> None:
    with pytest.raises(InvalidInputError, match="no SQL"):
        extract_sql("I cannot help with that.")
    assert extract_sql("with t as (select 1) select * from t;") == \
        "with t as (select 1) select * from t"


@pytest.mark.slow
def test_the_bundled_model_proposes_and_the_gate_decides(hr: Instance) -> None:
    """Bounded (96 tokens, temperature 0): whatever the small bundled model writes is
    recorded, and runs only if the allowlist accepts it. One profile: the model's answer
    does not depend on it (the deterministic tests above cover the gate on both)."""
    if hr.engine.dialect.name != "sqlite":
        pytest.skip("the model runs once, on the SQLite profile")
    from sovra.ai import register_builtin_models
    from sovra.ai.builtin import SMOLLM2_ID
    from sovra.errors import ModelNotFoundError

    try:
        register_builtin_models(hr.ai)
    except ModelNotFoundError as exc:
        pytest.skip(f"the bundled model is not installed here ({exc})")
    instructions = hr.analytics.question_prompt(ANALYST, "How many people work in sales?",
                                                ["hr"])
    proposer = GatewayProposer(hr.ai, SMOLLM2_ID, max_tokens=96)

    async def ask() -> str:
        try:
            return await proposer.answer(ANALYST, instructions)
        finally:
            await hr.ai.aclose()

    answer = asyncio.run(ask())
    proposal = hr.analytics.propose(ANALYST, "How many people work in sales?", SMOLLM2_ID,
                                    answer)
    assert entries(hr, "analytics.nl.propose")[-1]["details"]["sql"] == proposal.sql
    assert entries(hr, "ai.chat"), "the AI room records the model's request"
    if proposal.allowed:
        try:
            result = hr.analytics.run_proposal(ANALYST, proposal)
        except (InvalidInputError, NotFoundError):
            assert entries(hr, "analytics.query")[-1]["outcome"] == "denied"
        else:
            assert entries(hr, "analytics.query")[-1]["details"]["row_count"] == len(
                result.rows)
    else:
        with pytest.raises(InvalidInputError, match="not allowed"):
            hr.analytics.run_proposal(ANALYST, proposal)
