"""The questionnaire: the template validates once filled in; bad input names the line."""

from __future__ import annotations

import pytest

from sovra.assessment.readiness.questionnaire import QUESTIONS, load, template
from sovra.errors import InvalidInputError
from tests.assessment.readiness_support import FILLED


def test_the_template_lists_every_question_and_is_refused_until_answered() -> None:
    text = template()
    for key in QUESTIONS:
        assert f"\n{key}:\n" in text
    with pytest.raises(InvalidInputError, match="physical_access has no answer"):
        load(text, "q.yaml")


def test_a_filled_template_loads() -> None:
    filled = template()
    for i, key in enumerate(QUESTIONS):
        answer = ("yes", "no", "partial")[i % 3]
        filled = filled.replace(f"{key}:\n  answer:    # yes | no | partial",
                                f"{key}:\n  answer: {answer}")
    answers = load(filled, "q.yaml")
    assert [a.key for a in answers] == list(QUESTIONS)
    assert {a.answer for a in answers} == {"yes", "no", "partial"}


def test_an_unknown_question_names_its_line() -> None:
    bad = FILLED + "moon_base:\n  answer: yes\n"
    with pytest.raises(InvalidInputError, match=r"q\.yaml:18: unknown question 'moon_base'"):
        load(bad, "q.yaml")


def test_an_unknown_key_under_a_question_names_its_line() -> None:
    bad = FILLED.replace("  evidence: badge logs of room B2\n",
                         "  evidence: badge logs of room B2\n  evidense: typo\n")
    with pytest.raises(InvalidInputError, match=r"q\.yaml:4: unknown key 'evidense' under "
                                                r"physical_access"):
        load(bad, "q.yaml")


def test_missing_answers_are_named_with_the_fix() -> None:
    bad = FILLED.replace("exit_plan:\n  answer: no\n", "")
    with pytest.raises(InvalidInputError, match="missing answers for exit_plan; add each with"):
        load(bad, "q.yaml")


def test_an_answer_that_is_not_yes_no_partial_names_its_line() -> None:
    bad = FILLED.replace("hardware_supply:\n  answer: yes", "hardware_supply:\n  answer: maybe")
    with pytest.raises(InvalidInputError, match=r"q\.yaml:13: hardware_supply: answer 'maybe' "
                                                "is not one of yes, no, partial"):
        load(bad, "q.yaml")


def test_not_yaml_and_not_a_mapping() -> None:
    with pytest.raises(InvalidInputError, match=r"q\.yaml:2: not valid YAML"):
        load("a: [1,\nb: }\n", "q.yaml")
    with pytest.raises(InvalidInputError, match="must be a mapping of questions"):
        load("- yes\n", "q.yaml")


def test_hostile_nesting_is_refused_not_a_crash() -> None:
    with pytest.raises(InvalidInputError, match="nested too deeply"):
        load("[" * 100_000 + "]" * 100_000, "q.yaml")


def test_characters_yaml_does_not_allow_are_a_clear_error() -> None:
    # Found by schemathesis against POST /assessment/run: PyYAML's reader refuses
    # control characters when the loader is built, before parsing starts.
    with pytest.raises(InvalidInputError, match=r"q\.yaml:1: not valid YAML"):
        load("physical_access:\x10", "q.yaml")
