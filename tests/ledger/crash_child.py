"""Child process for test_crash.py: append from several threads until killed.

Settings come from the SOVRA_* environment. After each ``append`` returns, the child
writes ``<seq> <leaf hash hex>`` to stdout with one ``os.write`` (atomic on a pipe), so
the parent knows exactly which entries were acknowledged before the SIGKILL.
"""

from __future__ import annotations

import os
import threading

from sovra.config import load_settings
from sovra.ledger import Ledger
from sovra.store import make_engine


def main() -> None:
    settings = load_settings()
    engine = make_engine(settings.effective_database_url)
    ledger = Ledger.open(engine, settings)
    os.write(1, b"ready\n")

    def writer(w: int) -> None:
        i = 0
        while True:
            receipt = ledger.append(f"user:w{w}", "data.ingest", "collection:c", "success",
                                    {"writer": w, "i": i})
            os.write(1, b"%d %s\n" % (receipt.seq, receipt.leaf_hash.hex().encode()))
            i += 1

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
