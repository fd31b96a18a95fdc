"""How long a readiness assessment takes to run, and to render as HTML and as PDF.

Prints JSON. A fresh development-mode instance in a temporary directory, with the
questionnaire filled in; the PDF is rendered three times and the fastest is reported
(the first render loads fonts). ADR 1200 records the figures.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.assessment.readiness_support import ASSESSOR, FILLED, dev_instance

from sovra.assessment.readiness.render import html, pdf
from sovra.assessment.readiness.service import run


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        inst = dev_instance(Path(tmp) / "data")
        try:
            t = time.perf_counter()
            doc = run(inst, ASSESSOR, FILLED).document
            run_s = time.perf_counter() - t
        finally:
            inst.close()
    t = time.perf_counter()
    for _ in range(20):
        page = html(doc)
    html_ms = (time.perf_counter() - t) / 20 * 1000
    pdf(doc)  # fonts loaded once
    times = []
    for _ in range(3):
        t = time.perf_counter()
        data = pdf(doc)
        times.append(time.perf_counter() - t)
    print(json.dumps({"run_s": round(run_s, 3), "html_ms": round(html_ms, 2),
                      "html_bytes": len(page), "pdf_s_min": round(min(times), 3),
                      "pdf_bytes": len(data)}))


if __name__ == "__main__":
    main()
