"""Where other rooms (the AI gateway's answer cache) plug into erasure.

An eraser is called after the data layer has erased a subject's documents, with the
subject's identifier and the erased document ids; it removes whatever it holds that
mentions them (cached answers, traces) and says how many items it removed. The count and
the eraser's name go into the erasure certificate.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from sovra.errors import ConflictError


@dataclass(frozen=True)
class ErasureRequest:
    subject: str  # as the requester gave it
    normalized: str  # the detector's canonical form, or the case-folded value
    document_ids: tuple[str, ...]
    # Who asked, and the certificate that will count the result (for the eraser's own
    # ledger entry: record, then act).
    actor: str = "sovra.erasure"
    certificate_id: str = ""


Eraser = Callable[[ErasureRequest], int]


class EraserRegistry:
    """Named erasers; thread-safe. Registered once per name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._erasers: dict[str, Eraser] = {}

    def register(self, name: str, eraser: Eraser) -> None:
        with self._lock:
            if name in self._erasers:
                raise ConflictError(f"an eraser named {name!r} is registered already")
            self._erasers[name] = eraser

    def unregister(self, name: str) -> None:
        with self._lock:
            self._erasers.pop(name, None)

    def run(self, request: ErasureRequest) -> dict[str, int | str]:
        """Call every eraser; a failing one is reported (as text), the others still run."""
        with self._lock:
            erasers = dict(self._erasers)
        results: dict[str, int | str] = {}
        for name, eraser in sorted(erasers.items()):
            try:
                results[name] = int(eraser(request))
            except Exception as exc:  # noqa: BLE001 - another room's failure is reported
                results[name] = f"failed: {type(exc).__name__}: {exc}"
        return results


__all__ = ["Eraser", "EraserRegistry", "ErasureRequest"]
