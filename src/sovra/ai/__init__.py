"""The governed AI gateway: model registry, backends, governance, the OpenAI surface."""

from __future__ import annotations

from sovra.ai.chat import AdmittedChat, ChatRequest, ChatResult, PreparedChat
from sovra.ai.events import Event, Outcome
from sovra.ai.gateway import Gateway
from sovra.ai.models import Citation, ModelRecord, ModelSpec
from sovra.ai.registry import ModelRegistry
from sovra.ai.service import open_gateway, register_builtin_models
from sovra.ai.settings import AISettings
from sovra.ai.trace import Trace, verify_trace

__all__ = [
    "AISettings",
    "AdmittedChat",
    "ChatRequest",
    "ChatResult",
    "Citation",
    "Event",
    "Gateway",
    "ModelRecord",
    "ModelRegistry",
    "ModelSpec",
    "Outcome",
    "PreparedChat",
    "Trace",
    "open_gateway",
    "register_builtin_models",
    "verify_trace",
]
