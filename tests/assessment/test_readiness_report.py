"""The report renders: HTML with inline SVG charts and nothing external, and a PDF whose
pages rasterise (pdftoppm) and whose text carries the key claims (pypdf)."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from sovra.assessment.readiness.render import html, pdf
from sovra.assessment.readiness.service import run
from tests.assessment.readiness_support import ASSESSOR, FILLED, dev_instance


@pytest.fixture(scope="module")
def assessed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    inst = dev_instance(tmp_path_factory.mktemp("report") / "data")
    try:
        yield run(inst, ASSESSOR, FILLED).document
    finally:
        inst.close()


def test_the_html_is_self_contained_with_svg_charts(assessed: dict[str, Any]) -> None:
    page = html(assessed)
    assert page.count("<svg") == 3  # SEAL gauge, seven layers, eight objectives
    for layer in assessed["layers"]:
        assert f">{layer}</text>" in page
    assert not re.search(r"""(src|href)=["']?https?:""", page)
    assert "<script" not in page
    assert "development mode" in page  # the custody gap's observed fact


def test_the_html_escapes_what_it_was_given(assessed: dict[str, Any]) -> None:
    doc = {**assessed, "id": "<script>alert(1)</script>"}
    page = html(doc)
    assert "<script>alert" not in page and "&lt;script&gt;" in page


@pytest.mark.skipif(shutil.which("pdftoppm") is None,
                    reason="pdftoppm (poppler-utils) is installed by "
                           "scripts/install-system-deps.sh")
def test_the_pdf_renders_and_states_the_key_claims(assessed: dict[str, Any],
                                                   tmp_path: Path) -> None:
    data = pdf(assessed)
    assert data.startswith(b"%PDF-")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    flat = " ".join(text.split())
    assert "Sovereignty readiness assessment" in flat
    assert assessed["seal"]["name"] in flat
    assert "data.custody" in flat and "development mode" in flat
    assert "Who can access the data?" in flat and "How is recovery validated?" in flat
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(path),
                    str(tmp_path / "page")], check=True, timeout=120)
    png = next(tmp_path.glob("page*.png")).read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000  # a drawn page, not a blank one
