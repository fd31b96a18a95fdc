"""The governed AI gateway: model registry, backends, governance, the OpenAI surface."""

from __future__ import annotations

from sovra.ai.gateway import ChatRequest, ChatResult, Gateway, PreparedChat
from sovra.ai.models import Citation, ModelRecord, ModelSpec
from sovra.ai.registry import ModelRegistry
from sovra.ai.settings import AISettings

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
]
