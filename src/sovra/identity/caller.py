"""Who is asking: the authenticated identity every decision and ledger entry names.

``Caller`` lives in the leaf ``sovra.vocabulary`` so that the policy room can decide
about a caller without importing identity (that import made a cycle); this module keeps
the name where identity's own modules look for it.
"""

from __future__ import annotations

from sovra.vocabulary import PRINCIPAL_KINDS, Caller

__all__ = ["PRINCIPAL_KINDS", "Caller"]
