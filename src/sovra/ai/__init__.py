"""The governed AI gateway: model registry, backends, governance, the OpenAI surface."""

from __future__ import annotations

from sovra.ai.gateway import ChatRequest, ChatResult, Gateway, PreparedChat
from sovra.ai.models import Citation, ModelRecord, ModelSpec
from sovra.ai.registry import ModelRegistry
from sovra.ai.service import open_gateway, register_builtin_models
from sovra.ai.settings import AISettings
from sovra.ai.trace import Trace, verify_trace

__all__ = [
    "AISettings",
    "ChatRequest",
    "ChatResult",
    "Citation",
    "Gateway",
    "ModelRecord",
    "ModelRegistry",
    "ModelSpec",
    "PreparedChat",
    "Trace",
    "open_gateway",
    "register_builtin_models",
    "verify_trace",
]
