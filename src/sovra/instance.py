"""One running Sovra instance: settings, database, and the room services wired together.

``open_instance`` is the only place services are constructed; the API app and the CLI
both receive an ``Instance`` and never build services themselves. Rooms add their
service here as a field when they arrive.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from sovra.ai import ERASER_NAME as AI_KEPT_TEXT
from sovra.ai import Gateway, SharedQuotas, kept_text_eraser, open_gateway
from sovra.analytics import (
    AnalyticsService,
    ExportService,
    open_analytics,
    open_exports,
    room_sources,
)
from sovra.config import Settings
from sovra.data import DataService, open_data
from sovra.identity import IdentityService, open_identity
from sovra.keys import KeyService
from sovra.ledger import Ledger
from sovra.lockbox import LockboxService, open_lockbox
from sovra.policy import PolicyService, open_policy
from sovra.store import ChangeFeed, make_engine, mark_external_database, upgrade
from sovra.threat import ThreatService
from sovra.transfer import TransferService


@dataclass
class Instance:
    """The services of one instance. Close it to stop background work and the engine."""

    settings: Settings
    engine: Engine
    ledger: Ledger
    identity: IdentityService
    policy: PolicyService
    keys: KeyService
    ai: Gateway
    transfer: TransferService
    data: DataService
    lockbox: LockboxService
    threat: ThreatService
    analytics: AnalyticsService
    exports: ExportService
    # Cache drops shared with the other processes of a cluster's database (issue 22).
    changes: ChangeFeed | None = None
    # Quota usage exchanged with the other processes: global quotas (ADR 2203).
    quotas: SharedQuotas | None = None

    def close(self) -> None:
        if self.quotas is not None:
            self.quotas.close()
        if self.changes is not None:
            self.changes.close()
        self.lockbox.close()  # first: queued notices (break-glass alerts) go out
        self.threat.close()
        self.data.close()
        self.ai.close()
        self.keys.close()
        self.ledger.close()
        self.engine.dispose()


def open_instance(settings: Settings, *, migrate: bool = True,
                  record_dev_unseal: bool = True) -> Instance:
    """Open (and by default migrate) the database and start every room's service.

    ``record_dev_unseal=False`` for CLI commands: see ``sovra.keys.devmode.auto_unseal``.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if settings.database_url and settings.profile == "cluster":  # database elsewhere
        mark_external_database(settings.data_dir, settings.database_url)
    engine = make_engine(settings.effective_database_url,
                         busy_timeout_s=settings.db_busy_timeout_s)
    if migrate:
        upgrade(engine)
    ledger = Ledger.open(engine, settings)
    identity = open_identity(engine, settings, ledger)
    policy = open_policy(engine, ledger)
    keys = KeyService.open(engine, settings, ledger, record_dev_unseal=record_dev_unseal)
    transfer = TransferService(engine, settings, ledger, policy)
    data = open_data(engine, settings, ledger, keys, policy)
    ai = open_gateway(engine, ledger, policy, keys=keys, data=data,
                      bundled=transfer.activated_models)
    # Subject erasure reaches the prompts and answers the gateway kept (docs/data.md).
    data.erasers.register(AI_KEPT_TEXT, kept_text_eraser(ai))
    # Every decision from here on sees live lockbox grants (policy.use_grants).
    # Administrators need grants too, unless development mode turns that off (ADR 0700).
    lockbox = open_lockbox(engine, settings, ledger, policy, data=data, keys=keys,
                           dev_mode=lambda: (None if (c := keys.custody.ceremony) is None
                                             else c.dev_mode))
    # Every ingested file is scanned (YARA, hash indicators) before it is indexed.
    threat = ThreatService(engine, ledger, policy,
                           stale_after_s=settings.threat_stale_after_days * 86400.0)
    data.use_screen(threat.screen)
    transfer.use_screen(threat.screen_file)  # and every bundle payload before activation
    changes = ChangeFeed(engine)
    identity.use_changes(changes)
    policy.use_changes(changes)
    ai.registry.use_changes(changes)
    changes.start()
    quotas = SharedQuotas(engine, ai.limits)
    quotas.start()
    opened = Instance(changes=changes, quotas=quotas, settings=settings, engine=engine,
                      ledger=ledger, identity=identity,
                      policy=policy, keys=keys, ai=ai, transfer=transfer, data=data,
                      lockbox=lockbox, threat=threat,
                      analytics=open_analytics(data, policy, ledger,
                                               data.core.config.mapping),
                      exports=open_exports(engine, settings, ledger=ledger, policy=policy,
                                           keys=keys, data=data))
    # The compliance report and threat sightings leave only through the diode.
    opened.exports.use_sources(room_sources(opened))
    return opened
