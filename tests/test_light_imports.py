"""The pure cores import light: an auditor's offline verifier must not carry the server.

Each core is imported in a fresh interpreter (``sys.modules`` of this test process already
holds everything), and the heavy stacks it must not load are looked up by name.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PURE_CORES = ["sovra.ledger.merkle", "sovra.ledger.note", "sovra.data.classify",
              "sovra.transfer.verify", "sovra.threat.events"]
# (python-pkcs11 is not listed: tuf's signer module, which transfer.verify needs, loads it.)
HEAVY = ["sqlalchemy", "alembic", "fastapi", "starlette", "numpy", "cedarpy"]


def _loaded_after_import(module: str) -> set[str]:
    script = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                         text=True, timeout=120)
    return set(json.loads(out.stdout))


@pytest.mark.parametrize("module", PURE_CORES)
def test_pure_core_imports_without_database_web_or_numpy(module: str) -> None:
    loaded = _loaded_after_import(module)
    assert module in loaded  # the probe really imported it
    heavy = sorted({name.partition(".")[0] for name in loaded}.intersection(HEAVY))
    assert heavy == [], f"importing {module} loads {heavy}"


def test_room_surface_still_resolves_lazily() -> None:
    """The lazy room ``__init__`` still hands out the service on first use."""
    loaded = _loaded_after_import("sovra.ledger")
    assert "sqlalchemy" not in loaded
    script = "import sovra.ledger, sys; sovra.ledger.Ledger; print('sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.strip() == "True"


def test_reading_a_table_does_not_load_the_migrations() -> None:
    """``sovra ledger tail`` reads the ledger table through the store's engine and tables;
    Alembic (the migrations, ~0.17 s) loads only when something asks for them."""
    loaded = _loaded_after_import("sovra.store.tables.ledger")
    assert "sqlalchemy" in loaded  # the probe really reached the store
    assert "alembic" not in loaded
    script = "import sovra.store, sys; sovra.store.upgrade; print('alembic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.strip() == "True"
