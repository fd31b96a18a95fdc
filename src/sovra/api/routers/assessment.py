"""The sovereignty readiness assessment over HTTP.

``POST /assessment/run`` assesses the instance and records the run; ``POST
/assessment/report`` renders an assessment (JSON in) as HTML or PDF; ``GET
/assessment/questionnaire`` gives the template. Plain ``def``: the ledger append and the
PDF rendering block, so FastAPI runs them in its thread pool.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from sovra.api.auth import authorized
from sovra.api.deps import get_instance
from sovra.assessment.readiness import check_document as check
from sovra.assessment.readiness import questionnaire_template as template
from sovra.assessment.readiness import render
from sovra.assessment.readiness import run_readiness as run
from sovra.identity import Caller
from sovra.instance import Instance

router = APIRouter(tags=["assessment"])

InstanceDep = Annotated[Instance, Depends(get_instance)]
Assessor = Annotated[Caller, Depends(authorized("assessment.run", "Assessment"))]


class RunIn(BaseModel):
    questionnaire: str | None = Field(default=None, max_length=1_000_000,
                                      description="The filled-in questionnaire (YAML)")


class ReportIn(BaseModel):
    assessment: dict[str, Any] = Field(description="An assessment from POST /assessment/run")
    format: Literal["html", "pdf"] = "html"


@router.post("/assessment/run")
def run_route(body: RunIn, caller: Assessor, instance: InstanceDep) -> dict[str, Any]:
    """Assess the instance now: scores, SEAL level, gaps, plan, answers; recorded."""
    return run(instance, caller, body.questionnaire).document


@router.post("/assessment/report")
def report_route(body: ReportIn, _caller: Assessor) -> Response:
    """Render an assessment as HTML (inline SVG charts) or PDF."""
    doc = check(body.assessment, "assessment")
    if body.format == "pdf":
        return Response(render.pdf(doc), media_type="application/pdf")
    return Response(render.html(doc), media_type="text/html; charset=utf-8")


@router.get("/assessment/questionnaire")
def questionnaire_route(_caller: Assessor) -> dict[str, str]:
    """The questionnaire template to fill in."""
    return {"questionnaire": template()}
