"""The report for people: HTML (charts as inline SVG) and PDF (WeasyPrint).

Both embed the signed JSON report and the checkpoint, so the document a supervisor
reads carries what ``sovra audit check`` verifies (the PDF as an attached file
``sovra-report.json``). Nothing is fetched: no external URL, fonts from the system's
local fontconfig (DejaVu, scripts/install-system-deps.sh), and WeasyPrint's URL fetcher
refuses every URL.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any, NoReturn

from sovra.compliance.catalog import control
from sovra.errors import InvalidInputError

_COLOURS = {"satisfied": "#2e7d32", "finding": "#c62828", "not-evidenced": "#757575"}
_CSS = """
@page { size: A4; margin: 18mm 15mm; @bottom-right { content: counter(page) " / "
  counter(pages); font-size: 8pt; } }
body { font-family: "DejaVu Sans", sans-serif; font-size: 9.5pt; color: #111; }
h1 { font-size: 16pt; margin: 0 0 4pt; } h2 { font-size: 12pt; margin-top: 14pt; }
table { border-collapse: collapse; width: 100%; margin: 4pt 0; }
th, td { border: 0.5pt solid #999; padding: 2pt 4pt; text-align: left;
  vertical-align: top; }
th { background: #eee; } .satisfied { color: #2e7d32; } .finding { color: #c62828; }
.not-evidenced { color: #757575; } pre { font-size: 7pt; white-space: pre-wrap;
  word-break: break-all; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def status_chart(controls: list[Mapping[str, Any]]) -> str:
    """One horizontal bar per status, counts as labels (inline SVG)."""
    counts = {s: sum(1 for c in controls if c["status"] == s) for s in _COLOURS}
    total = max(1, len(controls))
    rows = []
    for i, (status, n) in enumerate(counts.items()):
        width = 300 * n / total
        rows.append(f'<text x="0" y="{18 + 24 * i}" font-size="11">{_e(status)}</text>'
                    f'<rect x="110" y="{6 + 24 * i}" width="{width:.1f}" height="16" '
                    f'fill="{_COLOURS[status]}"/>'
                    f'<text x="{116 + width:.1f}" y="{18 + 24 * i}" font-size="11">{n}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="460" height="{24 * len(counts)}" '
            f'role="img" aria-label="controls by status">{"".join(rows)}</svg>')


def to_html(report: Mapping[str, Any]) -> str:
    controls = list(report["controls"])
    claims = {c["id"]: c for c in report["claims"]}
    period = report["period"]
    rows = "".join(
        f'<tr><td>{_e(c["id"])}</td><td>{_e(control(c["id"]).title)}</td>'
        f'<td class="{_e(c["status"])}">{_e(c["status"])}</td><td>{_e(c["summary"])}</td></tr>'
        for c in controls)
    findings = "".join(
        f'<tr><td>{_e(f["id"])}</td><td>{_e(f["title"])}</td><td>{_e(f["description"])}'
        "</td><td>" + ", ".join(
            f'{_e(cid)}: {claims[cid]["count"]} entries' for cid in f["claims"]
            if cid in claims) + "</td></tr>"
        for f in report["findings"]) or '<tr><td colspan="4">No findings.</td></tr>'
    articles = "".join(
        f"<tr><td>{_e(regime)}</td><td>{_e(article)}</td><td>{_e(', '.join(ids))}</td></tr>"
        for regime, mapping in report["regimes"].items() for article, ids in mapping.items())
    evidence = "".join(
        f'<tr><td>{_e(c["id"])}</td><td>{_e(c["statement"])}</td><td>{c["count"]}</td>'
        f'<td>{_e(", ".join(map(str, c["cites"][:20])))}'
        f'{" …" if len(c["cites"]) > 20 else ""}</td></tr>' for c in claims.values())
    embedded = json.dumps(report, ensure_ascii=True).replace("</", "<\\/")
    cp = report["checkpoint"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sovra compliance evidence</title>
<style>{_CSS}</style></head><body>
<h1>Compliance evidence</h1>
<p>Instance <b>{_e(report["origin"])}</b>, period {_e(period["since"])} to
{_e(period["until"])}, generated {_e(report["generated_at"])}. Every claim cites ledger
entries proven against checkpoint {cp["size"]} (root {_e(cp["root_hash"])}). Verify
offline: <code>sovra audit check report.json</code>.</p>
<p>{len(report["findings"])} findings over {len(controls)} controls.</p>
{status_chart(controls)}
<h2>Controls</h2><table><tr><th>control</th><th>title</th><th>status</th>
<th>summary</th></tr>{rows}</table>
<h2>Findings</h2><table><tr><th>finding</th><th>title</th><th>description</th>
<th>evidence</th></tr>{findings}</table>
<h2>Regulation articles</h2><table><tr><th>regime</th><th>article</th>
<th>controls</th></tr>{articles}</table>
<h2>Claims</h2><table><tr><th>claim</th><th>statement</th><th>entries</th>
<th>cited (first 20)</th></tr>{evidence}</table>
<h2>Checkpoint</h2><pre>{_e(cp["note"])}</pre>
<h2>Signature</h2><pre>{_e(report["signature"]["key"])}
{_e(report["signature"]["note"])}</pre>
<script type="application/json" id="sovra-report">{embedded}</script>
</body></html>
"""


def draft_html(draft: Mapping[str, Any]) -> str:
    """A notification draft as a form: every template field, blank where still to fill."""
    rows = "".join(
        f"<tr><th>{_e(k.replace('_', ' '))}</th><td>"
        f"{_e(json.dumps(v) if isinstance(v, dict | list) else ('' if v is None else v))}"
        "</td></tr>" for k, v in draft.items())
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>'
            f'{_e(draft["notification"])}</title><style>{_CSS}</style></head><body>'
            f'<h1>Draft: {_e(draft["notification"])}</h1><p>Incident '
            f'{_e(draft["incident_reference_code"])}, due {_e(draft["deadline"])} '
            f'({_e(draft["deadline_state"])}).</p><table>{rows}</table></body></html>')


def _pdf(page: str) -> bytes:
    import weasyprint  # heavy (pango): imported only when a PDF is asked for

    pdf = weasyprint.HTML(string=page, url_fetcher=_no_fetch).write_pdf()
    if not isinstance(pdf, bytes):
        raise InvalidInputError("WeasyPrint produced no PDF")
    return pdf


def draft_pdf(draft: Mapping[str, Any]) -> bytes:
    return _pdf(draft_html(draft))


def _no_fetch(url: str, *_args: object, **_kwargs: object) -> NoReturn:
    raise InvalidInputError(f"the report must not fetch {url!r}: every asset is inline")


def to_pdf(report: Mapping[str, Any]) -> bytes:
    """The HTML rendered by WeasyPrint, with the signed JSON attached."""
    import weasyprint  # heavy (pango): imported only when a PDF is asked for

    attachment = weasyprint.Attachment(
        string=json.dumps(report, indent=1), name="sovra-report.json",
        description="the signed report: sovra audit check sovra-report.json",
        url_fetcher=_no_fetch)
    document = weasyprint.HTML(string=to_html(report), url_fetcher=_no_fetch)
    pdf = document.write_pdf(attachments=[attachment])
    if not isinstance(pdf, bytes):
        raise InvalidInputError("WeasyPrint produced no PDF")
    return pdf


__all__ = ["draft_html", "draft_pdf", "status_chart", "to_html", "to_pdf"]
