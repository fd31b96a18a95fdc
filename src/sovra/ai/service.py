"""Constructing the gateway for an instance, and registering the built-in models."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Engine

from sovra.ai.adapters import (
    DataEmbedder,
    DataRetriever,
    DetectorClassifier,
    KeysAdapter,
    PolicyAdapter,
)
from sovra.ai.builtin import smollm2_spec
from sovra.ai.gateway import TEXT_KEYRING, Gateway
from sovra.ai.kept_text import KeptTextEraser
from sovra.ai.models import ModelRecord
from sovra.ai.ports import ClassifierPort, EmbedderPort, KeysPort, LedgerPort, RetrieverPort
from sovra.ai.registry import ModelRegistry
from sovra.ai.request_index import RequestIndex
from sovra.ai.settings import AISettings
from sovra.ai.text_policy import TextPolicies
from sovra.data import DataService
from sovra.keys import KeyService
from sovra.policy import PolicyService
from sovra.transfer import ActivatedModel


def open_gateway(engine: Engine, ledger: LedgerPort, policy: PolicyService, *,
                 settings: AISettings | None = None, keys: KeyService | KeysPort | None = None,
                 data: DataService | None = None,
                 classifier: ClassifierPort | None = None,
                 retriever: RetrieverPort | None = None,
                 embedder: EmbedderPort | None = None,
                 bundled: Callable[[], Sequence[ActivatedModel]] | None = None) -> Gateway:
    """The gateway over the instance's services; ``data`` supplies retrieval and
    embeddings (explicit ports override it, for tests of one part)."""
    settings = settings or AISettings()
    adapter = PolicyAdapter(policy)
    registry = ModelRegistry(engine, ledger, adapter, bundled=bundled)
    keys_port = KeysAdapter(keys) if isinstance(keys, KeyService) else keys
    if data is not None:
        retriever = retriever or DataRetriever(data)
        embedder = embedder or DataEmbedder(data)
    return Gateway(settings, registry, ledger, policy=adapter, keys=keys_port,
                   classifier=classifier or DetectorClassifier(), retriever=retriever,
                   embedder=embedder, index=RequestIndex(engine),
                   text_policies=TextPolicies(engine, ledger))


def kept_text_eraser(gateway: Gateway) -> KeptTextEraser:
    """The eraser the data room's subject erasure calls for the gateway's kept text."""
    return KeptTextEraser(gateway.index, gateway.ledger, gateway.keys, TEXT_KEYRING)


def register_builtin_models(gateway: Gateway) -> list[ModelRecord]:
    """Register the models shipped with Sovra (idempotent; a ledger entry the first time)."""
    records = [gateway.registry.register_builtin(
        smollm2_spec(gateway.settings.builtin_ceiling))]
    records += gateway.registry.sync_bundled()
    embedder = gateway.embedder
    spec = getattr(embedder, "model_spec", None)
    if embedder is not None and spec is not None:
        records.append(gateway.registry.register_builtin(spec))
    return records
