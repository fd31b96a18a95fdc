"""Gateway settings (environment ``SOVRA_AI_*``). Defaults are the safe ones."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from sovra.ai.limits import LimitSettings
from sovra.ai.rag import RELEVANCE_THRESHOLD


class AISettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOVRA_AI_", extra="forbid", frozen=True)

    # What to do when data is above the model's ceiling: refuse (default) or redact the
    # personal data the detectors found and go on if that brings it within the ceiling.
    classification_mode: Literal["refuse", "redact"] = "refuse"
    # External providers are off unless an operator turns them on; even then policy
    # decides per request and nothing above "internal" leaves (issue 7, Backends).
    allow_external: bool = False
    # The bundled in-process model never sends data anywhere, but it is small and
    # general: by default it is approved up to "confidential", so secrets (keys,
    # passwords, tokens) are refused or redacted before it sees them.
    builtin_ceiling: Literal["public", "internal", "confidential", "secret"] = "confidential"
    default_model: str = "SmolLM2-135M-Instruct"

    requests_per_minute: int = Field(default=6000, ge=1)
    tokens_per_minute: int = Field(default=2_000_000, ge=1)
    concurrent_per_principal: int = Field(default=128, ge=1)
    # Requests admitted on /v1/ at once (the rest get 503 + Retry-After immediately):
    # the instance's one in-flight limit, held by ``Gateway.door`` (ADR 0609).
    max_in_flight: int = Field(default=128, ge=1)

    max_prompt_chars: int = Field(default=32_000, ge=1)
    max_tokens_limit: int = Field(default=2048, ge=1)
    default_max_tokens: int = Field(default=256, ge=1)
    top_k_limit: int = Field(default=20, ge=1)
    # Retrieved chunks less similar to the question than this (cosine, -1..1) are not
    # given to the model; with none left Sovra answers "The documents do not say."
    # itself (sovra.ai.rag, ADR 0610). -1 gives every retrieved chunk to the model.
    relevance_threshold: float = Field(default=RELEVANCE_THRESHOLD, ge=-1.0, le=1.0)

    upstream_connect_timeout_s: float = Field(default=2.0, gt=0)
    upstream_read_timeout_s: float = Field(default=60.0, gt=0)
    upstream_retries: int = Field(default=2, ge=0, le=10)
    # Extra OpenAI-compatible servers serving the same registered model (a pool, see
    # docs/cluster-models.md): {"model-id": ["http://gpu2:8000/v1", ...]}. The model's
    # registered upstream_url is always the pool's first member.
    upstream_replicas: dict[str, list[str]] = Field(default_factory=dict)
    pool_affinity_chars: int = Field(default=256, ge=0)
    pool_affinity_margin: int = Field(default=2, ge=0)
    pool_health_interval_s: float = Field(default=2.0, gt=0)
    # None probes with a TCP connect; "/health" suits vLLM and llama.cpp's C++ server.
    pool_health_path: str | None = None
    llama_threads: int | None = Field(default=None, ge=1)
    llama_context: int = Field(default=2048, ge=256)

    def limits(self) -> LimitSettings:
        return LimitSettings(self.requests_per_minute, self.tokens_per_minute,
                             self.concurrent_per_principal)
