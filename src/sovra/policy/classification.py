"""Classification levels, ordered: public < internal < confidential < secret.

The enum lives in the leaf ``sovra.vocabulary`` so that every room (``sovra.data.classify``,
the AI gateway, identity, the policy engine) shares one ordering without importing each
other; this module keeps the name where the policy room's modules look for it.
"""

from __future__ import annotations

from sovra.vocabulary import Classification

__all__ = ["Classification"]
