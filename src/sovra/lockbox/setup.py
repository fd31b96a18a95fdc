"""Building the lockbox from settings: limits, notification sinks, the grant source.

Only ``sovra.instance`` calls ``open_lockbox``; tests build ``LockboxService`` directly
with an injected clock.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from sovra.config import Settings
from sovra.lockbox.notify import Notice, Notifier, Sink, SmtpSink, SyslogSink, WebhookSink
from sovra.lockbox.resolvers import DataLookups, KeyLookups, instance_resolvers
from sovra.lockbox.service import LockboxService
from sovra.lockbox.status import DEV_MODE_LOCKBOX_WARNING
from sovra.lockbox.store import RequestStore
from sovra.lockbox.values import HOUR, Limits
from sovra.policy import PolicyService
from sovra.vocabulary import LedgerSink


def limits_from(settings: Settings) -> Limits:
    return Limits(request_ttl_s=settings.lockbox_request_ttl_s,
                  grant_default_s=min(settings.lockbox_grant_default_s,
                                      settings.lockbox_grant_cap_s),
                  grant_cap_s=settings.lockbox_grant_cap_s,
                  breakglass_s=min(HOUR, settings.lockbox_grant_cap_s),
                  denial_ends=settings.lockbox_denial_ends,
                  review_quorum=settings.lockbox_review_quorum,
                  review_window_s=settings.lockbox_review_window_s)


def lockbox_off(*, setting: bool | None, dev_mode: Callable[[], bool | None]
                ) -> Callable[[], bool] | None:
    """When decisions see the lockbox off (``PolicyService.unsafe_lockbox_off``).

    ``dev_mode()`` is None while the instance has no ceremony, else whether its ceremony
    is development mode. Unset setting: off only in development mode, asked per decision
    while that can still change (a fresh instance gets its ceremony from `sovra up`);
    a custodian or HSM ceremony never becomes development mode, so it costs nothing.
    """
    if setting is True:
        return None
    if setting is False:
        return lambda: True
    if dev_mode() is False:
        return None
    return lambda: dev_mode() is True


def open_lockbox(engine: Engine, settings: Settings, ledger: LedgerSink,
                 policy: PolicyService, *, data: DataLookups, keys: KeyLookups,
                 dev_mode: Callable[[], bool | None] = lambda: None) -> LockboxService:
    """The lockbox service, installed as the policy service's grant source, enforced
    for administrators as ``settings.lockbox_enforced`` and ``dev_mode`` say."""
    service = LockboxService(RequestStore(engine), ledger, policy,
                             instance_resolvers(data, keys), limits=limits_from(settings))

    def failed(sink: Sink, notice: Notice, exc: Exception) -> None:
        # A lost notice is itself evidence: recorded, never raised.
        ledger.append("lockbox", "lockbox.notify", f"lockbox/{notice.request_id}", "failure",
                      {"sink": sink.name, "event": notice.event, "error": str(exc)[:500]})

    sinks = sinks_from(settings)
    if sinks:
        service.notifiers.append(Notifier(sinks, on_failure=failed))
    policy.use_grants(service)
    policy.unsafe_lockbox_off(lockbox_off(setting=settings.lockbox_enforced,
                                          dev_mode=dev_mode))
    return service


def sinks_from(settings: Settings) -> list[Sink]:
    """The notification sinks the settings name (``ConfigError`` for a malformed one)."""
    sinks: list[Sink] = []
    if settings.lockbox_syslog:
        sinks.append(SyslogSink(settings.lockbox_syslog))
    if settings.lockbox_webhook_url:
        sinks.append(WebhookSink(settings.lockbox_webhook_url))
    if settings.lockbox_smtp_relay:
        sinks.append(SmtpSink(settings.lockbox_smtp_relay, settings.lockbox_mail_from,
                              list(settings.lockbox_mail_to)))
    return sinks


__all__ = ["DEV_MODE_LOCKBOX_WARNING", "limits_from", "lockbox_off", "open_lockbox",
           "sinks_from"]
