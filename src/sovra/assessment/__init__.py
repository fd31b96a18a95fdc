"""Sovereignty readiness assessment and workload placement.

``sovra.assessment.placement`` places an organisation's workloads (public cloud,
sovereign public cloud, partner-operated sovereign cloud, on-premises, disconnected)
by rules that are data the organisation owns and tests. This package imports nothing
heavy; the service that records advice in the ledger lives in ``placement.service``.
"""

from __future__ import annotations

__all__: list[str] = []
