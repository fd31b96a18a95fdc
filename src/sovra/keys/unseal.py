"""Collecting custodian shares, one at a time, until the threshold is met.

In-memory state of one process (the server's, or a CLI command's own): which shares have
arrived. Each share is checked against the ceremony record as it arrives, so a wrong,
foreign, corrupted or duplicate share is refused at once with a message naming the
problem, not only when the threshold is reached.
"""

from __future__ import annotations

import hmac
import threading

from sovra.errors import ShareError
from sovra.keys.ceremony import Ceremony
from sovra.keys.shares import Share, combine_shares


def check_share(ceremony: Ceremony, share: Share) -> None:
    """Refuse a share that does not belong to this ceremony (ShareError says why)."""
    if share.ceremony_id != ceremony.ceremony_id:
        raise ShareError(f"share is from another ceremony ({share.ceremony_id}); this "
                         f"instance was initialised by ceremony {ceremony.ceremony_id}")
    if share.threshold != ceremony.threshold or not 1 <= share.index <= ceremony.share_count:
        raise ShareError(f"share #{share.index} does not fit ceremony {ceremony.ceremony_id} "
                         f"({ceremony.threshold} of {ceremony.share_count}): it is corrupted")
    registered = ceremony.fingerprints[share.index - 1]
    if not hmac.compare_digest(registered, share.fingerprint):
        raise ShareError(f"wrong share: share #{share.index} does not match the fingerprint "
                         f"registered at the ceremony ({registered})")


class UnsealProgress:
    """Shares received so far; thread-safe; discarded on reset, success or seal."""

    def __init__(self, ceremony: Ceremony) -> None:
        self.ceremony = ceremony
        self._shares: dict[int, Share] = {}
        self._lock = threading.Lock()

    @property
    def received(self) -> int:
        return len(self._shares)

    @property
    def indices(self) -> tuple[int, ...]:
        return tuple(sorted(self._shares))

    def add(self, share: Share) -> bytearray | None:
        """Accept one share; return the rebuilt root once the threshold is met."""
        check_share(self.ceremony, share)
        with self._lock:
            if share.index in self._shares:
                raise ShareError(f"duplicate share: share #{share.index} was already entered "
                                 f"({self.received} of {self.ceremony.threshold} so far)")
            self._shares[share.index] = share
            if len(self._shares) < self.ceremony.threshold:
                return None
            try:
                return combine_shares(list(self._shares.values()))
            finally:
                self._shares.clear()

    def would_accept(self, share: Share) -> None:
        """Every check of :meth:`add` without changing anything (to record before acting)."""
        check_share(self.ceremony, share)
        with self._lock:
            if share.index in self._shares:
                raise ShareError(f"duplicate share: share #{share.index} was already entered "
                                 f"({self.received} of {self.ceremony.threshold} so far)")

    def reset(self) -> int:
        with self._lock:
            dropped = len(self._shares)
            self._shares.clear()
            return dropped
