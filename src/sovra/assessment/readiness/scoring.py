"""Scores: per layer, per EU Cloud Sovereignty Framework objective, and the SEAL level.

A layer's score is the share of its criteria's weight that is met (Purview's points:
27/9/3/1); NOT_EVIDENCED counts as unmet. An objective's score is the same share over
the criteria mapped to it, and the overall score weighs the objectives 15/10/10/15/20/
15/10/5 %. The SEAL level (0-4) follows from the overall score, then the framework's
weakest-link rule caps it (Sovra's reading, docs/assessment.md): no level above the
weakest objective's level plus one, and none above the cap of any unmet criterion that
carries one (keys in development mode, exposure to extraterritorial law). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sovra.assessment.readiness.criteria import BY_ID, LAYERS, OBJECTIVES, Criterion
from sovra.assessment.readiness.facts import Fact, Status

SEAL_NAMES = ("SEAL-0 no sovereignty", "SEAL-1 jurisdictional sovereignty",
              "SEAL-2 data sovereignty", "SEAL-3 digital resilience",
              "SEAL-4 full digital sovereignty")
# The lowest score (percent) for SEAL-1..SEAL-4.
SEAL_THRESHOLDS = (25.0, 50.0, 75.0, 90.0)


@dataclass(frozen=True)
class Score:
    name: str
    met: int
    total: int

    @property
    def percent(self) -> float:
        return round(100.0 * self.met / self.total, 1) if self.total else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "met_weight": self.met, "total_weight": self.total,
                "percent": self.percent}


@dataclass(frozen=True)
class Seal:
    level: int
    uncapped: int
    overall_percent: float
    caps: tuple[str, ...]  # why the level is lower than the score gives

    @property
    def name(self) -> str:
        return SEAL_NAMES[self.level]

    def as_dict(self) -> dict[str, Any]:
        return {"level": self.level, "name": self.name, "uncapped_level": self.uncapped,
                "overall_percent": self.overall_percent, "caps": list(self.caps)}


def level_of(percent: float) -> int:
    return sum(1 for t in SEAL_THRESHOLDS if percent >= t)


def _score(name: str, pairs: Iterable[tuple[Criterion, Fact]]) -> Score:
    met = total = 0
    for criterion, fact in pairs:
        total += criterion.weight
        met += criterion.weight if fact.status is Status.MET else 0
    return Score(name, met, total)


def _pairs(facts: Iterable[Fact]) -> list[tuple[Criterion, Fact]]:
    return [(BY_ID[fact.criterion], fact) for fact in facts]


def layer_scores(facts: Iterable[Fact]) -> dict[str, Score]:
    pairs = _pairs(facts)
    return {layer: _score(layer, ((c, f) for c, f in pairs if c.layer == layer))
            for layer in LAYERS}


def objective_scores(facts: Iterable[Fact]) -> dict[str, Score]:
    pairs = _pairs(facts)
    return {sov: _score(sov, ((c, f) for c, f in pairs if c.objective == sov))
            for sov in OBJECTIVES}


def seal(facts: Iterable[Fact]) -> Seal:
    pairs = _pairs(facts)
    objectives = objective_scores(f for _, f in pairs)
    overall = round(sum(OBJECTIVES[k][1] * s.percent for k, s in objectives.items())
                    / sum(w for _, w in OBJECTIVES.values()), 1)
    uncapped = level = level_of(overall)
    caps = []
    weakest_key = min(objectives, key=lambda k: objectives[k].percent)
    weakest = level_of(objectives[weakest_key].percent)
    if level > weakest + 1:
        level = weakest + 1
        caps.append(f"weakest link: {weakest_key} ({OBJECTIVES[weakest_key][0]}) scores "
                    f"{objectives[weakest_key].percent}% (SEAL-{weakest}), so the level is "
                    f"at most SEAL-{level}")
    for criterion, fact in pairs:
        cap = criterion.caps_seal_at
        if cap is not None and fact.status is not Status.MET and uncapped > cap:
            level = min(level, cap)
            caps.append(f"{criterion.id} is {fact.status.value} ({fact.observed}): at most "
                        f"SEAL-{cap}")
    return Seal(level, uncapped, overall, tuple(caps))


__all__ = ["SEAL_NAMES", "SEAL_THRESHOLDS", "Score", "Seal", "layer_scores", "level_of",
           "objective_scores", "seal"]
