"""Placement rules as data: conditions on a workload, and what follows when they hold.

A rules file (YAML) lists the targets the organisation offers, each with the controls
it requires and the risks that remain there, and rules. A rule's ``when`` is a mapping
of conditions that must all hold (several rules express "or"); its effects are a floor
(``at_least``), a ceiling (``at_most``), controls and risks. The default set ships as
``default_rules.yaml`` beside this module and is documented in docs/placement.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from sovra.assessment.placement._sources import (
    Record,
    mapping_child,
    yaml_document,
    yaml_records,
)
from sovra.assessment.placement.inventory import Workload
from sovra.assessment.placement.targets import Target
from sovra.assessment.placement.vocabulary import (
    AI_USES,
    CONNECTIVITY,
    DATA_CLASSES,
    REGIMES,
    criticality,
    words,
)
from sovra.errors import InvalidInputError
from sovra.vocabulary import Classification

Test = Callable[[Workload], bool]


def _level_test(value: object, where: str) -> Test:
    try:
        level = Classification.parse(value)  # type: ignore[arg-type]
    except InvalidInputError:
        raise InvalidInputError(f"{where}: unknown classification {value!r}") from None
    return lambda w: w.classification >= level


def _flag_test(value: object, where: str) -> Test:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{where}: personal_data must be true or false")
    return lambda w: w.personal_data is value


def _number(value: object, where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(f"{where}: {key} must be a number")
    return float(value)


def _condition(key: str, value: object, where: str) -> Test:  # noqa: PLR0911 one per key
    """Compile one condition; an unknown key is an error naming the known ones."""
    if key == "classification_at_least":
        return _level_test(value, where)
    if key == "personal_data":
        return _flag_test(value, where)
    if key == "data_classes_any":
        classes = words(value, DATA_CLASSES, "data class", where)
        return lambda w: bool(w.data_classes & classes)
    if key == "regimes_any":
        regimes = words(value, REGIMES, "regime", where)
        return lambda w: bool(w.regimes & regimes)
    if key == "ai_use_any":
        uses = words(value, AI_USES, "ai_use", where)
        return lambda w: w.ai_use in uses
    if key == "connectivity_any":
        needs = words(value, CONNECTIVITY, "connectivity", where)
        return lambda w: w.connectivity in needs
    if key == "criticality_at_least":
        floor = criticality(value, where)
        return lambda w: w.criticality >= floor
    if key in _NUMERIC:
        field, at_most = _NUMERIC[key]
        bound = _number(value, where, key)

        def numeric(w: Workload) -> bool:
            got = getattr(w, field)
            return got is not None and (got <= bound if at_most else got >= bound)
        return numeric
    raise InvalidInputError(f"{where}: unknown condition {key!r}; use one of "
                            f"{', '.join(sorted(CONDITIONS))}")


_NUMERIC = {"rto_hours_at_most": ("rto_hours", True),
            "latency_ms_at_most": ("latency_ms", True),
            "volume_gb_at_least": ("volume_gb", False)}
CONDITIONS = frozenset({"classification_at_least", "personal_data", "data_classes_any",
                        "regimes_any", "ai_use_any", "connectivity_any",
                        "criticality_at_least", *_NUMERIC})


@dataclass(frozen=True)
class Rule:
    rule_id: str
    where: str
    reason: str
    tests: tuple[Test, ...]
    at_least: Target | None
    at_most: Target | None
    controls: tuple[str, ...]
    risks: tuple[str, ...]

    def applies(self, workload: Workload) -> bool:
        return all(test(workload) for test in self.tests)


@dataclass(frozen=True)
class TargetProfile:
    """A target the organisation offers, with what it demands and what it leaves."""

    target: Target
    controls: tuple[str, ...]
    residual_risks: tuple[str, ...]


@dataclass(frozen=True)
class RuleSet:
    name: str
    targets: dict[Target, TargetProfile]
    rules: tuple[Rule, ...]


def _texts(value: object, key: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidInputError(f"{where}: {key} must be a list of texts")
    return tuple(value)


RULE_KEYS = frozenset({"id", "reason", "when", "at_least", "at_most", "controls", "risks"})


def _rule(record: Record) -> Rule:
    f, where = record.fields, record.where
    unknown = sorted(set(f) - RULE_KEYS)
    if unknown:
        raise InvalidInputError(f"{where}: unknown key(s) {', '.join(unknown)} in a rule; "
                                f"a rule has {', '.join(sorted(RULE_KEYS))}")
    rule_id, reason, when = f.get("id"), f.get("reason"), f.get("when", {})
    if not isinstance(rule_id, str) or not rule_id:
        raise InvalidInputError(f"{where}: every rule needs an 'id'")
    if not isinstance(reason, str) or not reason:
        raise InvalidInputError(f"{where}: rule {rule_id!r} needs a 'reason' (it is shown "
                                "with every placement it decides)")
    if not isinstance(when, dict):
        raise InvalidInputError(f"{where}: 'when' of rule {rule_id!r} must be a mapping")
    at_least = Target.parse(f["at_least"], where) if "at_least" in f else None
    at_most = Target.parse(f["at_most"], where) if "at_most" in f else None
    if at_least is not None and at_most is not None and at_least > at_most:
        raise InvalidInputError(f"{where}: rule {rule_id!r} sets at_least {at_least.label} "
                                f"above its own at_most {at_most.label}")
    rule = Rule(rule_id, where, reason,
                tuple(_condition(str(k), v, where) for k, v in when.items()),
                at_least, at_most, _texts(f.get("controls"), "controls", where),
                _texts(f.get("risks"), "risks", where))
    if not (rule.at_least or rule.at_most or rule.controls or rule.risks):
        raise InvalidInputError(f"{where}: rule {rule_id!r} has no effect; give it at_least, "
                                "at_most, controls or risks")
    return rule


def _profile(record: Record) -> TargetProfile:
    f, where = record.fields, record.where
    unknown = sorted(set(f) - {"id", "controls", "residual_risks"})
    if unknown:
        raise InvalidInputError(f"{where}: unknown key(s) {', '.join(unknown)} in a target")
    return TargetProfile(Target.parse(f.get("id"), where),
                         _texts(f.get("controls"), "controls", where),
                         _texts(f.get("residual_risks"), "residual_risks", where))


def load_rules(text: str, name: str = "rules") -> RuleSet:
    """Parse and check a rules file; errors name the line and the fix."""
    value, node = yaml_document(text, name)
    if not isinstance(value, dict):
        raise InvalidInputError(f"{name}: a rules file is a mapping with 'targets' and 'rules'")
    extra = sorted(set(value) - {"version", "targets", "rules"})
    if extra:
        raise InvalidInputError(f"{name}: unknown top-level key(s) {', '.join(extra)}")
    if value.get("version") != 1:
        raise InvalidInputError(f"{name}: 'version: 1' is the only rules format")
    targets: dict[Target, TargetProfile] = {}
    for record in yaml_records(value.get("targets"), mapping_child(node, "targets"), name,
                               "targets"):
        profile = _profile(record)
        if profile.target in targets:
            raise InvalidInputError(f"{record.where}: target {profile.target.label} twice")
        targets[profile.target] = profile
    if not targets:
        raise InvalidInputError(f"{name}: offer at least one target")
    rules: list[Rule] = []
    for record in yaml_records(value.get("rules"), mapping_child(node, "rules"), name,
                               "rules"):
        rule = _rule(record)
        if any(r.rule_id == rule.rule_id for r in rules):
            raise InvalidInputError(f"{record.where}: rule id {rule.rule_id!r} is used twice")
        rules.append(rule)
    return RuleSet(name, targets, tuple(rules))


def default_rules_text() -> str:
    return resources.files(__package__).joinpath("default_rules.yaml").read_text("utf-8")


def default_rules() -> RuleSet:
    return load_rules(default_rules_text(), "default_rules.yaml")


__all__ = ["CONDITIONS", "Rule", "RuleSet", "TargetProfile", "default_rules",
           "default_rules_text", "load_rules"]
