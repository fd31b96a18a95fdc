"""The questionnaire: answers for what Sovra cannot see from itself.

Physical access, staff vetting, supplier contracts, exposure to extraterritorial laws,
hardware supply and the rest are answered by people; ``template()`` writes the file to
fill in and ``load()`` validates it strictly (unknown keys, missing answers, answers
that are not yes/no/partial: an error naming the line and the fix). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from sovra.assessment.placement._sources import yaml_document
from sovra.assessment.readiness.criteria import CRITERIA, Source
from sovra.assessment.readiness.facts import Fact, Status
from sovra.errors import InvalidInputError

ANSWERS = ("yes", "no", "partial")
_FIELDS = frozenset({"answer", "evidence"})

# The question each questionnaire criterion asks, by its key in the file.
QUESTIONS: dict[str, tuple[str, str]] = {
    "physical_access": ("infrastructure.physical-access",
                        "Is physical access to the servers controlled and logged?"),
    "staff_vetting": ("operation.staff-vetting",
                      "Are all staff with privileged access security-vetted?"),
    "operator_location": ("operation.operator-location",
                          "Is the platform operated only from the EU by EU-resident staff?"),
    "supplier_contracts": ("compliance.supplier-contracts",
                           ("Do supplier contracts give audit rights, EU governing law and "
                           "an exit?")),
    "extraterritorial_exposure": ("compliance.extraterritorial",
                                  ("Are provider and operators free of extraterritorial laws "
                                  "(US CLOUD Act, FISA 702 and the like)?")),
    "hardware_supply": ("infrastructure.hardware-supply",
                        ("Does the hardware come from suppliers of known origin, with "
                        "firmware verified at installation?")),
    "exit_plan": ("continuity.exit-plan", "Is there a tested exit plan for every supplier?"),
    "energy_reporting": ("compliance.energy",
                         ("Are the platform's energy use and emissions measured and "
                         "reported?")),
}

# Every questionnaire criterion has exactly one question (checked at import).
_ASKED = {criterion for criterion, _ in QUESTIONS.values()}
if {c.id for c in CRITERIA if c.source is Source.QUESTIONNAIRE} != _ASKED:
    raise RuntimeError("sovra.assessment.readiness: questions and criteria disagree")


@dataclass(frozen=True)
class Answer:
    key: str
    answer: str
    evidence: str

    def fact(self) -> Fact:
        criterion, _ = QUESTIONS[self.key]
        said = f"questionnaire: {self.answer}" + (f" ({self.evidence})" if self.evidence
                                                   else "")
        # 'partial' is not met: a criterion is met or it is a gap with a remedy.
        return Fact(criterion, Status.MET if self.answer == "yes" else Status.UNMET, said)


def template() -> str:
    """The questionnaire to fill in: every key, its question, answer left empty."""
    lines = ["# Sovra readiness questionnaire: what Sovra cannot read from itself.",
             "# Answer each with yes, no or partial; evidence says where it is shown.",
             "# Validate and score with: sovra assess run --questionnaire THIS_FILE", ""]
    for key, (criterion, question) in QUESTIONS.items():
        lines += [f"# {question}  [{criterion}]", f"{key}:", "  answer:    # yes | no | partial",
                  '  evidence: ""', ""]
    return "\n".join(lines)


def _line(node: yaml.Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 1


def _document(text: str, name: str) -> tuple[Any, yaml.Node | None]:
    return yaml_document(text, name, fix="; start from `sovra assess questionnaire`")


def _children(node: yaml.Node | None) -> dict[str, yaml.Node]:
    """Each key of a mapping node with its value node."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): v for k, v in node.value}


def _keys(node: yaml.Node | None) -> dict[str, yaml.Node]:
    """Each key of a mapping node with its own node (the line the key is written on)."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): k for k, _ in node.value}


def load(text: str, name: str = "questionnaire") -> list[Answer]:
    """Every answer of a filled-in questionnaire, or an error naming the line to fix."""
    value, node = _document(text, name)
    if not isinstance(value, dict):
        raise InvalidInputError(f"{name}:1: the questionnaire must be a mapping of questions; "
                                "start from `sovra assess questionnaire`")
    nodes, keys = _children(node), _keys(node)
    answers = []
    for key, entry in value.items():
        where = f"{name}:{_line(keys.get(str(key)))}"
        if key not in QUESTIONS:
            raise InvalidInputError(f"{where}: unknown question {key!r}; the questions are "
                                    f"{', '.join(QUESTIONS)}")
        answers.append(_answer(str(key), entry, where, _children(nodes.get(str(key)))))
    missing = [k for k in QUESTIONS if k not in value]
    if missing:
        raise InvalidInputError(f"{name}: missing answers for {', '.join(missing)}; add each "
                                "with 'answer: yes|no|partial' (see `sovra assess "
                                "questionnaire`)")
    return answers


def _answer(key: str, entry: Any, where: str, nodes: dict[str, yaml.Node]) -> Answer:
    if not isinstance(entry, dict):
        raise InvalidInputError(f"{where}: {key} needs 'answer: yes|no|partial' under it")
    unknown = sorted(str(k) for k in entry if k not in _FIELDS)
    if unknown:
        line = _line(nodes.get(unknown[0]))
        raise InvalidInputError(f"{where.rsplit(':', 1)[0]}:{line}: unknown key "
                                f"{unknown[0]!r} under {key}; only 'answer' and 'evidence'")
    raw = entry.get("answer")
    # YAML 1.1 reads a bare yes/no as a boolean: accept both spellings.
    answer = {True: "yes", False: "no"}.get(raw, raw) if isinstance(raw, bool) else raw
    if answer is None:
        raise InvalidInputError(f"{where}: {key} has no answer; write 'answer: yes', 'no' or "
                                "'partial'")
    if answer not in ANSWERS:
        line = _line(nodes.get("answer"))
        raise InvalidInputError(f"{where.rsplit(':', 1)[0]}:{line}: {key}: answer "
                                f"{answer!r} is not one of yes, no, partial")
    evidence = entry.get("evidence") or ""
    if not isinstance(evidence, str):
        raise InvalidInputError(f"{where}: {key}: evidence must be text")
    return Answer(key, str(answer), evidence.strip())


def facts(answers: list[Answer] | None) -> list[Fact]:
    """A fact per questionnaire criterion; without a questionnaire, not evidenced."""
    if answers is None:
        return [Fact(c, Status.NOT_EVIDENCED, "no questionnaire was given")
                for c, _ in QUESTIONS.values()]
    return [a.fact() for a in answers]


__all__ = ["ANSWERS", "QUESTIONS", "Answer", "facts", "load", "template"]
