"""Scoring by the criteria's weights, the SEAL level and its weakest-link caps (pure)."""

from __future__ import annotations

from sovra.assessment.readiness.criteria import CRITERIA, OBJECTIVES
from sovra.assessment.readiness.facts import Fact, Status
from sovra.assessment.readiness.plan import gaps, phase_of
from sovra.assessment.readiness.scoring import layer_scores, level_of, objective_scores, seal


def _all(status: Status, **override: Status) -> list[Fact]:
    return [Fact(c.id, override.get(c.id.replace(".", "_").replace("-", "_"), status), "x")
            for c in CRITERIA]


def test_everything_met_is_seal_4_and_nothing_is_a_gap() -> None:
    facts = _all(Status.MET)
    assert all(s.percent == 100.0 for s in layer_scores(facts).values())
    result = seal(facts)
    assert result.level == 4 and result.overall_percent == 100.0 and not result.caps
    assert gaps(facts) == []


def test_not_evidenced_counts_as_unmet() -> None:
    unmet, unknown = seal(_all(Status.UNMET)), seal(_all(Status.NOT_EVIDENCED))
    assert unmet.level == unknown.level == 0
    assert unknown.overall_percent == 0.0


def test_dev_mode_keys_cap_the_level_at_1_whatever_the_score() -> None:
    facts = _all(Status.MET, data_custody=Status.UNMET)
    result = seal(facts)
    assert result.uncapped == 4 and result.level == 1
    assert any("data.custody" in c for c in result.caps)


def test_the_weakest_objective_holds_the_level_to_one_above_it() -> None:
    # Everything met except SOV-5 (supply chain): its criteria all unmet.
    facts = [Fact(c.id, Status.UNMET if c.objective == "SOV-5" else Status.MET, "x")
             for c in CRITERIA]
    objectives = objective_scores(facts)
    assert objectives["SOV-5"].percent == 0.0
    result = seal(facts)
    # 80 % overall is SEAL-3 by score; SOV-5 at SEAL-0 holds it to SEAL-1.
    assert result.overall_percent == 80.0 and result.uncapped == 3
    assert result.level == 1 and "SOV-5" in result.caps[0]


def test_layer_score_is_met_weight_over_total_weight() -> None:
    facts = _all(Status.UNMET, data_custody=Status.MET)
    data = layer_scores(facts)["data"]
    total = sum(c.weight for c in CRITERIA if c.layer == "data")
    assert (data.met, data.total) == (27, total)
    assert data.percent == round(100 * 27 / total, 1)


def test_levels_and_phases() -> None:
    assert [level_of(p) for p in (0, 24.9, 25, 50, 75, 89.9, 90, 100)] == [0, 0, 1, 2, 3, 3,
                                                                          4, 4]
    assert sum(w for _, w in OBJECTIVES.values()) == 100
    by_id = {c.id: c for c in CRITERIA}
    assert phase_of(by_id["data.custody"]) == "immediate"  # 27, medium effort
    assert phase_of(by_id["compliance.extraterritorial"]) == "90 days"  # 27, high
    assert phase_of(by_id["data.hsm"]) == "12 months"  # 9, high
    assert phase_of(by_id["continuity.drill"]) == "immediate"  # low effort
