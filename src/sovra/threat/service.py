"""The threat service (``instance.threat``): hunts, screening, alerts, pack status.

One use case, one method: the API route, the CLI command and the scheduler in
``sovra up`` call the same function. Every state change is recorded in the ledger
before it is made (alerts, triage, quarantine); a scheduled pass that finds nothing
records nothing, so detection does not fill the ledger with its own heartbeat.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yara_x
from sqlalchemy import Engine, insert, select, text

from sovra.errors import QuarantinedError
from sovra.policy import PolicyService, Resource
from sovra.store.tables.threat import threat_quarantine
from sovra.threat.alerts import Alert, AlertStore
from sovra.threat.baseline import Departure, daily_metrics, judge
from sovra.threat.feed import EventFeed, read_cursor, write_cursor
from sovra.threat.hunt import Match, run_pass
from sovra.threat.packs import (
    DEFAULT_STALE_AFTER_S,
    LoadedPacks,
    Pack,
    PackStatus,
    active_packs,
    load_packs,
    pack_status,
)
from sovra.threat.scanning import YaraMatch
from sovra.threat.sigma import RuleProblem
from sovra.vocabulary import Caller, LedgerSink

HUNT_CURSOR = "hunt"
BASELINE_CURSOR = "baseline"
PACKS_CURSOR = "packs"  # a digest of the pack set last recorded in the ledger
BASELINE_EVERY_S = 3600.0
# pg_advisory_lock key of the hunt pass: the first 8 bytes of sha256("sovra.threat.hunt").
HUNT_LOCK_KEY = int.from_bytes(hashlib.sha256(b"sovra.threat.hunt").digest()[:8], "big",
                               signed=True)
BASELINE_WINDOW_DAYS = 28
_log = logging.getLogger(__name__)
ACTOR = "sovra.threat"


@dataclass(frozen=True)
class HuntResult:
    events_projected: int
    evaluated_from: int
    evaluated_to: int
    alerts: tuple[str, ...]
    problems: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"events_projected": self.events_projected,
                "evaluated": [self.evaluated_from, self.evaluated_to],
                "alerts": list(self.alerts), "problems": list(self.problems)}


@dataclass(frozen=True)
class ThreatStatus:
    packs: tuple[PackStatus, ...]
    problems: tuple[str, ...]
    events: int
    open_alerts: int
    rules: int
    indicators: int
    yara_files: int
    warnings: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {"packs": [p.as_dict() for p in self.packs], "problems": list(self.problems),
                "events": self.events, "open_alerts": self.open_alerts, "rules": self.rules,
                "indicators": self.indicators, "yara_files": self.yara_files,
                "warnings": list(self.warnings)}


class ThreatService:
    def __init__(self, engine: Engine, ledger: LedgerSink, policy: PolicyService, *,
                 clock: Callable[[], float] = time.time,
                 stale_after_s: float = DEFAULT_STALE_AFTER_S) -> None:
        self._engine = engine
        self._ledger = ledger
        self._policy = policy
        self._clock = clock
        self._stale_after_s = stale_after_s
        self.feed = EventFeed(engine)
        self.alerts = AlertStore(engine, ledger, clock)
        self._loaded = LoadedPacks()
        self._packs_lock = threading.Lock()
        self._hunt_lock = threading.Lock()
        self._stop = threading.Event()
        self._scheduler: threading.Thread | None = None

    # -- schedule ------------------------------------------------------------------

    def schedule(self, interval_s: float) -> None:
        """Hunt every ``interval_s`` seconds in a background thread until ``close``.

        A failing pass is logged and retried at the next tick: detection must never take
        the server down, and every alert it did raise is already recorded.
        """
        if interval_s <= 0 or self._scheduler is not None:
            return
        self._stop.clear()
        self._scheduler = threading.Thread(target=self._run_schedule, args=(interval_s,),
                                           name="sovra-threat-hunt", daemon=True)
        self._scheduler.start()

    def _run_schedule(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            try:
                self.hunt()
            except Exception:  # noqa: BLE001 - logged; the next tick tries again
                _log.exception("scheduled threat hunt failed")

    def close(self) -> None:
        self._stop.set()
        if self._scheduler is not None:
            self._scheduler.join(timeout=30)
            self._scheduler = None

    # -- packs ---------------------------------------------------------------------

    def packs(self) -> LoadedPacks:
        """The active packs, reloaded when a bundle activated a new version."""
        current = active_packs(self._engine)
        fingerprint = tuple(sorted(p.target_id for p in current))
        with self._packs_lock:
            if fingerprint != self._loaded.fingerprint:
                loaded = load_packs(current, self._engine.dialect.name)
                self._record_load(current, loaded)
                self._loaded = loaded
            return self._loaded

    def _record_load(self, current: list[Pack], loaded: LoadedPacks) -> None:
        """Record a pack set once, when it changes: not again in every process that
        loads it (a read-only CLI command appends nothing, issue 15)."""
        mark = int(hashlib.sha256(repr(loaded.fingerprint).encode()).hexdigest()[:15], 16)
        with self._engine.connect() as conn:
            if read_cursor(conn, PACKS_CURSOR) == mark:
                return
        self._ledger.append(ACTOR, "threat.pack.load", "threat:packs", "success", {
            "packs": [p.label for p in current],
            "rules": len(loaded.sigma.singles) + len(loaded.sigma.correlations),
            "problems": loaded.problems[:50]})
        with self._engine.begin() as conn:
            write_cursor(conn, PACKS_CURSOR, mark)

    def status(self, caller: Caller) -> ThreatStatus:
        self._policy.require(caller, "threat.read", Resource("Threat", "status"))
        loaded = self.packs()
        now = datetime.fromtimestamp(self._clock(), UTC)
        packs = tuple(pack_status(active_packs(self._engine), now, self._stale_after_s))
        warnings = tuple(f"{p.kind} pack {p.component} is {p.age_s / 86400:.0f} days old "
                         f"(over {self._stale_after_s / 86400:.0f}); import a newer bundle"
                         for p in packs if p.stale)
        if not packs:
            warnings += (("no threat pack is active: import a bundle with sigma, stix, "
                          "misp or yara targets"),)
        with self._engine.connect() as conn:
            events = int(conn.execute(text("SELECT COUNT(*) FROM threat_events")).scalar_one())
        return ThreatStatus(packs, tuple(loaded.problems), events,
                            len(self.alerts.list("open")),
                            len(loaded.sigma.singles) + len(loaded.sigma.correlations),
                            len(loaded.indicators), len(loaded.yara.sources), warnings)

    # -- hunting -------------------------------------------------------------------

    def hunt(self, caller: Caller | None = None) -> HuntResult:
        """Project new ledger entries, run every rule over the new events, raise alerts.

        ``caller`` None is the scheduler inside ``sovra up``; an on-demand hunt is
        authorised and recorded.
        """
        if caller is not None:
            self._policy.require(caller, "threat.hunt", Resource("Threat", "hunt"))
        with self._hunt_lock, self._one_pass_at_a_time():
            loaded = self.packs()
            projected = self.feed.catch_up()
            hi = self.feed.position()
            problems: list[RuleProblem] = []
            with self._engine.begin() as conn:  # run_pass keeps the base rules' matches
                lo = read_cursor(conn, HUNT_CURSOR)
                matches = run_pass(conn, loaded.sigma, lo, hi, problems)
                matches += _indicator_matches(conn, loaded, lo, hi)
            alerts = self.alerts.raise_matches(matches)
            with self._engine.begin() as conn:
                write_cursor(conn, HUNT_CURSOR, hi)
            if self._baselines_due():
                alerts += self.baselines()
        result = HuntResult(projected, lo, hi, tuple(dict.fromkeys(alerts)),
                            tuple(str(p) for p in problems))
        if caller is not None:
            self._ledger.append(caller.principal_id, "threat.hunt", "threat:hunt", "success",
                                {"from": lo, "to": hi, "alerts": list(result.alerts)[:50],
                                 "problems": list(result.problems)[:20]})
        return result

    @contextlib.contextmanager
    def _one_pass_at_a_time(self) -> Iterator[None]:
        """Across processes: two ``sovra up`` on one PostgreSQL would otherwise both read
        the same cursor, judge the same events and raise every alert twice. A session
        advisory lock, held on its own connection for the pass, makes the second wait
        and then start from the first's new cursor, so it finds nothing left to judge.
        (One SQLite file is one process's: its ``_hunt_lock`` already serialises.)"""
        if self._engine.dialect.name != "postgresql":
            yield
            return
        with self._engine.connect() as lock:
            lock.execute(text("SELECT pg_advisory_lock(:k)"), {"k": HUNT_LOCK_KEY})
            lock.commit()
            try:
                yield
            finally:
                lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": HUNT_LOCK_KEY})
                lock.commit()

    # -- insider baselines ---------------------------------------------------------

    def baselines(self, caller: Caller | None = None, *,
                  window_days: int = BASELINE_WINDOW_DAYS) -> list[str]:
        """Judge the last 24 hours of every principal against its own previous
        ``window_days`` days and its peers; one alert per principal that departs."""
        if caller is not None:
            self._policy.require(caller, "threat.hunt", Resource("Threat", "baselines"))
        self.feed.catch_up()
        now = self._clock()
        start = now - (window_days + 1) * 86400.0
        with self._engine.connect() as conn:
            series, roles = daily_metrics(conn, start, window_days + 1)
            departures = judge(series, roles)
            by_principal: dict[str, list[Departure]] = {}
            for d in departures:
                by_principal.setdefault(d.principal, []).append(d)
            matches = [_baseline_match(conn, p, found, now)
                       for p, found in sorted(by_principal.items())]
        with self._engine.begin() as conn:
            write_cursor(conn, BASELINE_CURSOR, int(now))
        return self.alerts.raise_matches(matches)

    def _baselines_due(self) -> bool:
        with self._engine.connect() as conn:
            last = read_cursor(conn, BASELINE_CURSOR)
        return self._clock() - last >= BASELINE_EVERY_S

    # -- screening -----------------------------------------------------------------

    def screen(self, actor: str, origin: str, name: str, data: bytes) -> None:
        """Refuse ``data`` if a YARA rule or a hash indicator matches: quarantined."""
        loaded = self.packs()
        self._check(actor, origin, name, hashlib.sha256(data).hexdigest(),
                    lambda: loaded.yara.scan(data), loaded)

    def screen_file(self, actor: str, origin: str, name: str, path: Path,
                    sha256: str) -> None:
        """``screen`` for a bundle payload before activation: the file is scanned where
        it is staged, and its SHA-256 is the one the signed metadata verified."""
        loaded = self.packs()
        self._check(actor, origin, name, sha256, lambda: loaded.yara.scan_file(path), loaded)

    def _check(self, actor: str, origin: str, name: str, digest: str,  # noqa: PLR0917
               scan: Callable[[], list[YaraMatch]], loaded: LoadedPacks) -> None:
        found: list[str] = []
        indicator = loaded.indicators.sha256.get(digest)
        if indicator is not None:
            found.append(f"indicator {indicator}")
        try:
            found += [f"yara {m.namespace}.{m.rule}" for m in scan()]
        except (yara_x.TimeoutError, yara_x.ScanError) as exc:
            found.append(f"yara scan failed, so the file is held (fail closed): {exc}")
        if found:
            self._quarantine(actor, origin, name, digest, found)

    def _quarantine(self, actor: str, origin: str, name: str, digest: str,
                    found: list[str]) -> None:
        receipt = self._ledger.append(actor, "threat.quarantine", origin[:512], "denied", {
            "sha256": digest, "name": name[:200], "matches": found[:20]})
        now = self._clock()
        with self._engine.begin() as conn:
            conn.execute(insert(threat_quarantine).values(
                sha256=digest, name=name, origin=origin[:512], principal=actor,
                matches_json=json.dumps(found), created_at=now))
        seq = int(getattr(receipt, "seq", -1))
        alert_ids = self.alerts.raise_matches([Match(
            f"quarantine:{found[0]}", f"Quarantined {name}: {found[0]}", "high",
            (("sha256", digest),), (seq,) if seq >= 0 else (), now, now)])
        raise QuarantinedError(
            f"{name}: quarantined, not indexed: matched {'; '.join(found)} "
            f"(alert {alert_ids[0]}); see `sovra alerts show {alert_ids[0]}`")

    def quarantined(self) -> list[dict[str, Any]]:
        with self._engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(
                select(threat_quarantine).order_by(threat_quarantine.c.id))]

    # -- alerts --------------------------------------------------------------------

    def list_alerts(self, caller: Caller, status: str | None = None) -> list[Alert]:
        self._policy.require(caller, "threat.read", Resource("Threat", "alerts"))
        return self.alerts.list(status)

    def show_alert(self, caller: Caller, alert_id: str) -> Alert:
        self._policy.require(caller, "threat.read", Resource("Threat", alert_id))
        return self.alerts.get(alert_id)

    def ack(self, caller: Caller, alert_id: str) -> Alert:
        self._policy.require(caller, "threat.triage", Resource("Threat", alert_id))
        return self.alerts.ack(caller.principal_id, alert_id)

    def assign(self, caller: Caller, alert_id: str, assignee: str) -> Alert:
        self._policy.require(caller, "threat.triage", Resource("Threat", alert_id))
        return self.alerts.assign(caller.principal_id, alert_id, assignee)

    def close_alert(self, caller: Caller, alert_id: str, reason: str) -> Alert:
        self._policy.require(caller, "threat.triage", Resource("Threat", alert_id))
        return self.alerts.close(caller.principal_id, alert_id, reason)

    def open_incident(self, caller: Caller, alert_id: str) -> Alert:
        self._policy.require(caller, "threat.triage", Resource("Threat", alert_id))
        return self.alerts.open_incident(caller.principal_id, alert_id)


def _baseline_match(conn: Any, principal: str, found: list[Departure], now: float) -> Match:
    metrics = [d.metric for d in found]
    rows = conn.execute(text(
        "SELECT seq, ts FROM threat_events WHERE principal = :p AND ts >= :t0 AND ts < :t1 "
        "ORDER BY seq DESC LIMIT 200"), {"p": principal, "t0": now - 86400.0, "t1": now}).all()
    seqs = tuple(sorted(int(r[0]) for r in rows))
    stamps = [float(r[1]) for r in rows] or [now]
    severe = {"secret_chunks", "exports", "new_collections"} & set(metrics)
    title = (f"{principal} departs from its own baseline and its peers: "
             + ", ".join(f"{d.metric} {d.value:g} (usual {d.own.median:g})" for d in found))
    return Match("baseline:insider", title[:500], "high" if severe else "medium",
                 (("principal", principal),), seqs, min(stamps), max(stamps))


def _indicator_matches(conn: Any, loaded: LoadedPacks, lo: int, hi: int) -> list[Match]:
    """Request metadata of new events against the indicators: source addresses, the
    domain a request named or came from (a listed domain or any parent of it) and the
    user agent (exact, as STIX equality is)."""
    found = loaded.indicators
    if not (found.ip or found.domain or found.user_agent):
        return []
    rows = conn.execute(text(
        "SELECT seq, ts, source_ip, domain, user_agent FROM threat_events WHERE seq >= :lo "
        "AND seq < :hi AND (source_ip IS NOT NULL OR domain IS NOT NULL "
        "OR user_agent IS NOT NULL)"), {"lo": lo, "hi": hi}).all()
    hits: dict[tuple[str, str, str], list[tuple[int, float]]] = {}
    for seq, ts, ip, domain, agent in rows:
        for field_, value, origin in (
                ("source_ip", ip, found.ip.get(ip) if ip else None),
                ("domain", domain, found.match_domain(domain) if domain else None),
                ("user_agent", agent, found.user_agent.get(agent) if agent else None)):
            if origin is not None:
                hits.setdefault((field_, str(value), origin), []).append(
                    (int(seq), float(ts)))
    return [Match(f"indicator:{_KINDS[f]}:{v}", f"{_TITLES[f]} {v} ({origin})", "high",
                  ((f, v),), tuple(s for s, _ in ev), min(t for _, t in ev),
                  max(t for _, t in ev)) for (f, v, origin), ev in hits.items()]


_KINDS = {"source_ip": "ip", "domain": "domain", "user_agent": "user_agent"}
_TITLES = {"source_ip": "Request from listed address", "domain": "Request naming listed domain",
           "user_agent": "Request with listed user agent"}


__all__ = ["HuntResult", "ThreatService", "ThreatStatus"]
