"""The lockbox's public surface, and that it imports without SQLAlchemy or FastAPI."""

from __future__ import annotations

import subprocess
import sys

import sovra.lockbox


def test_exported_names_are_pinned() -> None:
    # The service, its opener, the watch and the report are loaded on first use
    # (sovra._lazy), so other rooms reach them through this surface (ADR 0003).
    assert set(sovra.lockbox.__all__) == {
        "DEV_MODE_LOCKBOX_WARNING", "PRIVILEGED_ACTIONS", "SCOPE_KINDS", "AccessRequest",
        "Limits", "LockboxService", "RequestSpec", "Scope", "State", "Status", "Watch",
        "open_lockbox", "report_json"}


def test_the_pure_core_imports_nothing_heavy() -> None:
    code = ("import sys, sovra.lockbox, sovra.lockbox.lifecycle; "
            "print(sorted(m for m in ('sqlalchemy', 'fastapi', 'numpy') if m in sys.modules))")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True)
    assert shown.stdout.strip() == "[]"


def test_the_catalogue_agrees_with_the_action_table() -> None:
    from sovra.lockbox.catalogue import ACTION_TYPES, PRIVILEGED_ACTIONS
    from sovra.policy import ACTIONS

    assert set(ACTION_TYPES) == set(PRIVILEGED_ACTIONS)
    assert {a: ACTIONS[a] for a in ACTION_TYPES} == dict(ACTION_TYPES)
