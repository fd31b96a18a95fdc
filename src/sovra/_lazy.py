"""Lazy room surfaces: a room's ``__init__`` names its exports without importing them.

A pure core (``sovra.ledger.merkle``, ``sovra.data.classify``) is imported through its
room's package, so an eager ``__init__`` would make an auditor's offline verifier load
SQLAlchemy, Alembic and the whole server. Each room's ``__init__`` maps an exported name
to the module that defines it and loads that module on first use (PEP 562 module
``__getattr__``); type checkers see the same names through ``TYPE_CHECKING`` imports.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any


def load_export(package: str, homes: Mapping[str, str], name: str) -> Any:
    """The attribute ``name`` of ``package``, imported from its home module and cached.

    A home is a module (``"sovra.ledger.log"``: the attribute of the same name) or
    ``"module:attribute"``, so a room can export a name that says which room it is from
    (``sovra.compliance.generate_report`` for ``sovra.compliance.report.generate``).
    """
    home = homes.get(name)
    if home is None:
        msg = f"module {package!r} has no attribute {name!r}"
        raise AttributeError(msg)
    module, _, attribute = home.partition(":")
    value = getattr(importlib.import_module(module), attribute or name)
    # Cache on the package so the next access is a plain attribute lookup.
    setattr(importlib.import_module(package), name, value)
    return value
