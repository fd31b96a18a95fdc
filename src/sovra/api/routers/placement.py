"""Workload placement advice over HTTP (``POST /placement/advise``).

Plain ``def``: the durable ledger append blocks, so FastAPI runs it in its thread pool.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from sovra.api.auth import authorized
from sovra.api.deps import get_instance
from sovra.assessment.placement import advise, default_rules_text
from sovra.identity import Caller
from sovra.instance import Instance

router = APIRouter(tags=["placement"])

InstanceDep = Annotated[Instance, Depends(get_instance)]
Adviser = Annotated[Caller, Depends(authorized("placement.advise", "Assessment"))]


class AdviseIn(BaseModel):
    inventory: str = Field(min_length=1, max_length=4_000_000,
                           description="The workload inventory, as YAML or CSV text")
    format: Literal["yaml", "csv"] = "yaml"
    rules: str | None = Field(default=None, max_length=1_000_000,
                              description="A rules file (YAML); the default set if absent")


@router.post("/placement/advise")
def advise_route(body: AdviseIn, caller: Adviser, instance: InstanceDep) -> dict[str, Any]:
    """Place every workload; each placement names the rules that decided it."""
    advice = advise(instance.ledger, caller, body.inventory, inventory_name="inventory",
                    fmt=body.format, rules=body.rules, rules_name="rules")
    return advice.as_dict()


@router.get("/placement/rules")
def default_rules_route(_caller: Adviser) -> dict[str, str]:
    """The default rules file, to copy and adapt."""
    return {"rules": default_rules_text()}
