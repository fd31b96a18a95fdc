"""A fallback model when a model's upstream is down (issue 17): only one policy names.

The policy names a fallback by permitting ``models.fallback`` on that model, for example
``permit(principal, action == Action::"models.fallback", resource == Model::"local");``
(the default pack names none, so a chat whose upstream is down answers 503 with
``Retry-After``). Only an upstream that is *down* (``UpstreamUnavailableError``: nothing
listens) falls back, and only before any output, so no answer is ever spliced from two
models; a streamed chat too: the OpenAI edge awaits the stream's first delta before it
sends a byte, so its chunks name the fallback model from the first (``AdmittedChat``).
The candidates are the approved chat models other than the failed one, on-site
ones first; each candidate's decision is recorded by the policy room, the choice as an
``ai.fallback`` entry naming both requests, and the fallback request is then governed
and recorded like any other (``Gateway.prepare``: approval, classification ceiling).
Kept out of ``gateway.py``: ``sovra.ai.chat`` calls ``choose`` and ``record`` only.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from sovra.ai.models import ModelRecord
from sovra.ai.ports import Principal
from sovra.errors import PermissionDeniedError

if TYPE_CHECKING:
    from sovra.ai.gateway import Gateway

ACTION = "models.fallback"
_LOCALITY_ORDER = {"in_process": 0, "on_premises": 1, "external": 2}


def candidates(records: list[ModelRecord], failed_model_id: str) -> list[ModelRecord]:
    """Approved chat models other than the failed one, on-site before external, by id."""
    usable = [r for r in records if r.approved and r.spec.kind == "chat"
              and r.model_id != failed_model_id]
    return sorted(usable, key=lambda r: (_LOCALITY_ORDER.get(r.spec.locality, 3),
                                         r.model_id))


async def choose(gateway: Gateway, caller: Principal, failed_model_id: str) -> str | None:
    """The first candidate the policy permits ``models.fallback`` on, or None."""
    if gateway.policy is None:
        return None
    records = await asyncio.to_thread(gateway.registry.list, approved_only=True)
    for record in candidates(records, failed_model_id):
        try:
            await gateway.policy.require_async(
                caller, ACTION, "Model", record.model_id,
                {"max_classification": gateway.ceiling(record), "approved": True})
        except PermissionDeniedError:
            continue
        return record.model_id
    return None


async def record(gateway: Gateway, caller: Principal, *, failed_request: str,
                 failed_model: str, fallback_model: str, reason: str) -> None:
    """The switch, before the fallback request is prepared (no record, no answer)."""
    await gateway.ledger.append_async(
        caller.principal_id, "ai.fallback", f"ai/request/{failed_request}", "success",
        {"failed_model": failed_model, "fallback_model": fallback_model, "reason": reason})
