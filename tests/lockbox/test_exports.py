"""The lockbox's public surface, and that it imports without SQLAlchemy or FastAPI."""

from __future__ import annotations

import subprocess
import sys

import sovra.lockbox


def test_exported_names_are_pinned() -> None:
    assert set(sovra.lockbox.__all__) == {
        "PRIVILEGED_ACTIONS", "SCOPE_KINDS", "AccessRequest", "Limits", "RequestSpec",
        "Scope", "State", "Status"}


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
