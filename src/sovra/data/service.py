"""The data service: collections, ingest, retrieval, lifecycle, behind one object.

Constructed only by ``sovra.instance.open_instance`` (``instance.data``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from sovra.config import Settings
from sovra.data._core import Core, DataConfig
from sovra.data._engine import data_engine
from sovra.data.certificates import CertificateSigner
from sovra.data.classify import LevelMapping
from sovra.data.embed import Embedder
from sovra.data.hooks import EraserRegistry
from sovra.data.ingest import CollectionsAndIngest
from sovra.data.lifecycle import Lifecycle
from sovra.data.parsers import ParseLimits
from sovra.data.retrieval import Retrieval
from sovra.keys import KeyService
from sovra.ledger import Ledger
from sovra.policy import PolicyService


class DataService(CollectionsAndIngest, Retrieval, Lifecycle):
    """Everything ``sovra.data`` does; edges call one method per request."""

    def __init__(self, engine: Engine, ledger: Ledger, keys: KeyService, policy: PolicyService,
                 *, config: DataConfig | None = None,
                 embedder: Callable[[], Embedder] = Embedder,
                 clock: Callable[[], float] = time.time,
                 upload_dir: Path | None = None) -> None:
        self.upload_dir = upload_dir
        config = config or DataConfig()
        self._data_engine = data_engine(engine, busy_timeout_s=config.busy_timeout_s)
        self.core = Core(engine, data_engine=self._data_engine, ledger=ledger, keys=keys,
                         policy=policy, config=config, embedder=embedder,
                         clock=clock)
        self.signer = CertificateSigner(self._data_engine, keys, clock)

    @property
    def embedder(self) -> Embedder:
        """The shared embedding model (loaded on first use); the AI gateway uses it too."""
        return self.core.embedder

    def use_embedder(self, embedder: Embedder) -> None:
        """Share an already loaded model (another service's, or a test session's)."""
        self.core.set_embedder(embedder)

    @property
    def erasers(self) -> EraserRegistry:
        """Register callbacks that erase cached answers mentioning an erased subject."""
        return self.core.erasers

    def use_screen(self, screen: Callable[[str, str, str, bytes], None] | None) -> None:
        """Scan every file before it is parsed or indexed (``sovra.threat``)."""
        self.core.screen = screen

    def close(self) -> None:
        self.core.close()
        if self._data_engine is not self.core.main_engine:
            self._data_engine.dispose()


def open_data(engine: Engine, settings: Settings, ledger: Ledger, keys: KeyService,
              policy: PolicyService) -> DataService:
    """The data service configured from ``settings``."""
    config = DataConfig(limits=ParseLimits(max_bytes=settings.data_max_file_bytes),
                        mapping=LevelMapping.from_config(settings.data_classification_mapping),
                        busy_timeout_s=settings.db_busy_timeout_s)
    # Uploads are spooled, encrypted, inside the data directory and nowhere else (ADR 0406).
    return DataService(engine, ledger, keys, policy, config=config,
                       upload_dir=settings.data_dir / "uploads")


__all__ = ["DataService", "open_data"]
