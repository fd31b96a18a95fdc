"""Place each workload: the least sovereign offered target that every rule allows.

Pure: workloads and rules in, placements (with the rules that decided them) out. A
workload whose floor is above its ceiling, or whose allowed range holds no target the
organisation offers, is an error that names the workload's line and the rules that
set the bounds, so the owner knows which fact or which rule to change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sovra.assessment.placement.inventory import Workload
from sovra.assessment.placement.rules import Rule, RuleSet
from sovra.assessment.placement.targets import Target
from sovra.errors import InvalidInputError


@dataclass(frozen=True)
class Placement:
    """The advice for one workload, with its reasons."""

    workload: Workload
    target: Target
    floor: Target
    ceiling: Target
    fired: tuple[Rule, ...]        # every rule whose conditions held
    deciding: tuple[Rule, ...]     # the rules that set the floor the target sits on
    controls: tuple[str, ...]
    residual_risks: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "workload": self.workload.name, "line": self.workload.where,
            "target": self.target.label, "target_title": self.target.title,
            "allowed": {"at_least": self.floor.label, "at_most": self.ceiling.label},
            "decided_by": [{"rule": r.rule_id, "reason": r.reason} for r in self.deciding],
            "rules_applied": [r.rule_id for r in self.fired],
            "controls": list(self.controls), "residual_risks": list(self.residual_risks),
        }


def _bounds(fired: Sequence[Rule]) -> tuple[Target, Rule | None, Target, Rule | None]:
    floor, ceiling = Target.PUBLIC_CLOUD, Target.DISCONNECTED
    floor_rule = ceiling_rule = None
    for rule in fired:
        if rule.at_least is not None and rule.at_least > floor:
            floor, floor_rule = rule.at_least, rule
        if rule.at_most is not None and rule.at_most < ceiling:
            ceiling, ceiling_rule = rule.at_most, rule
    return floor, floor_rule, ceiling, ceiling_rule


def _named(rule: Rule | None) -> str:
    return f"rule {rule.rule_id} ({rule.where})" if rule is not None else "no rule"


def _dedupe(items: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def place(workload: Workload, rules: RuleSet) -> Placement:
    fired = tuple(r for r in rules.rules if r.applies(workload))
    floor, floor_rule, ceiling, ceiling_rule = _bounds(fired)
    if floor > ceiling:
        raise InvalidInputError(
            f"{workload.where}: workload {workload.name!r} cannot be placed: "
            f"{_named(floor_rule)} requires at least {floor.label} but "
            f"{_named(ceiling_rule)} allows at most {ceiling.label}; correct the "
            "workload's facts (for instance its connectivity) or one of the rules")
    offered = [t for t in sorted(rules.targets) if floor <= t <= ceiling]
    if not offered:
        raise InvalidInputError(
            f"{workload.where}: workload {workload.name!r} is left unplaced: it may run from "
            f"{floor.label} to {ceiling.label}, and {rules.name} offers none of those "
            f"(it offers {', '.join(t.label for t in sorted(rules.targets))}); add a target "
            "to the rules or change the rules that bound it")
    target = offered[0]
    deciding = tuple(r for r in fired if r.at_least == floor and floor > Target.PUBLIC_CLOUD)
    profile = rules.targets[target]
    return Placement(
        workload, target, floor, ceiling, fired, deciding,
        _dedupe([*profile.controls, *(c for r in fired for c in r.controls)]),
        _dedupe([*profile.residual_risks, *(k for r in fired for k in r.risks)]))


def place_all(workloads: Sequence[Workload], rules: RuleSet) -> list[Placement]:
    """Every workload placed, or one error listing every workload that cannot be."""
    placed: list[Placement] = []
    problems: list[str] = []
    for w in workloads:
        try:
            placed.append(place(w, rules))
        except InvalidInputError as exc:
            problems.append(str(exc))
    if problems:
        raise InvalidInputError("\n".join(problems))
    return placed


__all__ = ["Placement", "place", "place_all"]
