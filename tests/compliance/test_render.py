"""The human report: HTML with inline SVG and the embedded signed JSON; the PDF renders
(pages turned to images with pdftoppm) and its text carries the key claims."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sovra.compliance.check import check_report
from sovra.compliance.render import to_html, to_pdf
from tests.compliance.conftest import Seeded

needs_poppler = pytest.mark.skipif(shutil.which("pdftoppm") is None,
                                   reason="poppler-utils (scripts/install-system-deps.sh)")


def test_html_embeds_the_signed_report_and_fetches_nothing(seeded: Seeded) -> None:
    page = to_html(seeded.report)
    assert "<svg" in page and "sov-lbx-1/reviews/lockbox/bg-late" in page
    found = re.search(r'<script type="application/json" id="sovra-report">(.*?)</script>',
                      page, re.S)
    assert found is not None
    embedded = json.loads(found.group(1))
    assert embedded == seeded.report
    assert check_report(embedded).valid
    assert not re.search(r'(src|href)="(https?:)?//', page)


@needs_poppler
def test_pdf_renders_with_the_key_claims(seeded: Seeded, tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(to_pdf(seeded.report))
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")],
                   check=True, timeout=120)
    pages = sorted(tmp_path.glob("page*.png"))
    assert pages and all(p.stat().st_size > 1000 for p in pages)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                          capture_output=True, text=True, timeout=120).stdout
    assert "Compliance evidence" in text
    assert f"{len(seeded.report['findings'])} findings over" in text
    squeezed = re.sub(r"\s+", "", text)  # table cells wrap long identifiers
    for finding in ("sov-pol-1/self-approved/policy:7", "sov-drl-1/drills"):
        assert finding in squeezed
    assert "policy:7 approved by its proposer" in text
    attached = tmp_path / "attached.json"
    subprocess.run(["pdfdetach", "-save", "1", "-o", str(attached), str(pdf)], check=True,
                   timeout=60)
    assert check_report(json.loads(attached.read_text())).valid
