"""The first administrator's API key, the one credential most tests start from.

``admin_key`` is for a test that holds the ``instance`` open; ``cli_admin_key`` is for a
test that drives the CLI against the ``sqlite_settings`` data directory, so the key is
made (after a development-mode ceremony, as ``sovra up`` does on a fresh directory) and
the instance closed again before the command opens it.
"""

from __future__ import annotations

import pytest

from sovra.config import Settings
from sovra.identity import ensure_first_admin
from sovra.instance import Instance, open_instance
from sovra.keys import start_for_up


def first_admin_key(instance: Instance) -> str:
    """The key ``ensure_first_admin`` prints once on a fresh instance."""
    token = ensure_first_admin(instance)
    assert token is not None, "the instance already had an administrator"
    return token


@pytest.fixture
def admin_key(instance: Instance) -> str:
    return first_admin_key(instance)


def prepared_admin_key(settings: Settings) -> str:
    """Open a fresh data directory as ``sovra up`` would (development-mode ceremony), make
    the first administrator's key, and close it again so a CLI command can open it."""
    opened = open_instance(settings)
    try:
        start_for_up(opened.keys)  # a fresh data dir gets a development-mode ceremony
        return first_admin_key(opened)
    finally:
        opened.close()


@pytest.fixture
def cli_admin_key(sqlite_settings: Settings) -> str:
    return prepared_admin_key(sqlite_settings)


def bearer(instance: Instance, principal: str, role: str,
           clearance: str = "secret") -> dict[str, str]:
    """Create ``principal`` with ``role`` (as the machine owner) and its API key's header."""
    instance.identity.create_principal("system", principal, roles=[role], clearance=clearance)
    token = instance.identity.create_api_key("system", principal).token
    return {"Authorization": f"Bearer {token}"}
