"""One backend per registered model, created on first use after the weights verify."""

from __future__ import annotations

import asyncio

from sovra.ai.backends.base import ChatBackend
from sovra.ai.backends.http1 import Http1Client, Timeouts
from sovra.ai.backends.llama import LlamaCppBackend
from sovra.ai.backends.replicas import PoolRules, ReplicaPool
from sovra.ai.backends.upstream import UpstreamBackend
from sovra.ai.hashing import verify_file
from sovra.ai.models import ModelRecord
from sovra.ai.settings import AISettings


class BackendPool:
    def __init__(self, settings: AISettings) -> None:
        self._settings = settings
        self._backends: dict[tuple[str, str], ChatBackend] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def backend(self, record: ModelRecord) -> ChatBackend:
        key = (record.model_id, record.spec.sha256)
        found = self._backends.get(key)
        if found is not None:
            return found
        lock = self._locks.setdefault(record.model_id, asyncio.Lock())
        async with lock:
            found = self._backends.get(key)
            if found is None:
                found = await self._create(record)
                self._backends[key] = found
        return found

    async def _create(self, record: ModelRecord) -> ChatBackend:
        spec = record.spec
        if spec.locality == "in_process":
            path = spec.weights_path or ""
            # Issue 7: loading verifies the hash and refuses a mismatch.
            await asyncio.to_thread(verify_file, path, spec.sha256)
            backend = LlamaCppBackend(path, n_ctx=self._settings.llama_context,
                                      n_threads=self._settings.llama_threads)
            await backend.load()
            return backend
        timeouts = Timeouts(connect_s=self._settings.upstream_connect_timeout_s,
                            read_s=self._settings.upstream_read_timeout_s)
        extra = self._settings.upstream_replicas.get(spec.model_id, [])
        if extra:
            return ReplicaPool([spec.upstream_url or "", *extra],
                               spec.upstream_model or spec.model_id, timeouts=timeouts,
                               rules=PoolRules(
                                   affinity_chars=self._settings.pool_affinity_chars,
                                   affinity_margin=self._settings.pool_affinity_margin,
                                   health_interval_s=self._settings.pool_health_interval_s,
                                   health_path=self._settings.pool_health_path))
        # One pooled client per upstream model: its connections are to that origin.
        client = Http1Client(spec.upstream_url or "", timeouts=timeouts)
        return UpstreamBackend(client, spec.upstream_model or spec.model_id,
                               retries=self._settings.upstream_retries)

    async def aclose(self) -> None:
        for backend in self._backends.values():
            await backend.aclose()
        self._backends.clear()
