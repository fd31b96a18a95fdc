"""The governed AI gateway: model registry, backends, governance, the OpenAI surface."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sovra._lazy import load_export
from sovra.ai.chat import AdmittedChat, ChatRequest, ChatResult, PreparedChat
from sovra.ai.events import Event, Outcome
from sovra.ai.gateway import Gateway
from sovra.ai.models import Citation, Delta, ModelRecord, ModelSpec
from sovra.ai.registry import ModelRegistry
from sovra.ai.service import open_gateway, register_builtin_models
from sovra.ai.settings import AISettings
from sovra.ai.trace import Trace, verify_trace

if TYPE_CHECKING:
    from sovra.ai.admission import AdmissionMiddleware
    from sovra.ai.builtin import SMOLLM2_ID
    from sovra.ai.demo import EXAMPLE as DEMO_EXAMPLE
    from sovra.ai.demo import demo_caller, load_demo
    from sovra.ai.kept_text import ERASER_NAME
    from sovra.ai.models import ChatMessage, GenerationParams
    from sovra.ai.ports import EntryFields
    from sovra.ai.ports import Principal as GatewayPrincipal
    from sovra.ai.service import kept_text_eraser
    from sovra.ai.shared_quota import SharedQuotas
    from sovra.ai.trace import TracedEntry

# Loaded on first use (sovra._lazy): these bring the room's services, which a caller
# importing the room for the names above should not pay for.
_HOMES = {
    "AdmissionMiddleware": "sovra.ai.admission",
    "SMOLLM2_ID": "sovra.ai.builtin",
    "ERASER_NAME": "sovra.ai.kept_text",
    "ChatMessage": "sovra.ai.models",
    "GenerationParams": "sovra.ai.models",
    "EntryFields": "sovra.ai.ports",
    "kept_text_eraser": "sovra.ai.service",
    "SharedQuotas": "sovra.ai.shared_quota",
    "TracedEntry": "sovra.ai.trace",
    "load_demo": "sovra.ai.demo",
    "demo_caller": "sovra.ai.demo",
    "DEMO_EXAMPLE": "sovra.ai.demo:EXAMPLE",
    "GatewayPrincipal": "sovra.ai.ports:Principal",
}


def __getattr__(name: str) -> Any:
    return load_export(__name__, _HOMES, name)


__all__ = [
    "DEMO_EXAMPLE",
    "ERASER_NAME",
    "SMOLLM2_ID",
    "AISettings",
    "AdmissionMiddleware",
    "AdmittedChat",
    "ChatMessage",
    "ChatRequest",
    "ChatResult",
    "Citation",
    "Delta",
    "EntryFields",
    "Event",
    "Gateway",
    "GatewayPrincipal",
    "GenerationParams",
    "ModelRecord",
    "ModelRegistry",
    "ModelSpec",
    "Outcome",
    "PreparedChat",
    "SharedQuotas",
    "Trace",
    "TracedEntry",
    "demo_caller",
    "kept_text_eraser",
    "load_demo",
    "open_gateway",
    "register_builtin_models",
    "verify_trace",
]
