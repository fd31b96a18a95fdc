"""The assessment as HTML (charts as inline SVG) and as PDF (WeasyPrint).

The HTML is self-contained: no script, no remote font or image, so it renders the same
on a disconnected site. The PDF uses only fonts installed on the machine (DejaVu Sans
from Debian's fonts-dejavu-core, which pango finds through fontconfig).
"""

from __future__ import annotations

from html import escape
from typing import Any

from sovra.assessment.readiness.plan import PHASES
from sovra.errors import InvalidInputError

_CSS = """
@page { size: A4; margin: 16mm 14mm; }
body { font-family: 'DejaVu Sans', sans-serif; font-size: 9.5pt; color: #1b1f24; }
h1 { font-size: 17pt; margin: 0 0 4pt 0; } h2 { font-size: 12.5pt; margin: 14pt 0 4pt 0;
  border-bottom: 1px solid #ccd; } table { border-collapse: collapse; width: 100%; }
table { table-layout: fixed; }
td, th { border: 1px solid #d4d8de; padding: 3pt 4pt; vertical-align: top; text-align: left;
  overflow-wrap: break-word; word-wrap: break-word; }
th { background: #eef1f5; } .met { color: #146c2e; } .unmet { color: #a4161a; }
.not-evidenced { color: #8a6d00; } .small { font-size: 8pt; color: #555; }
"""


def _bar_chart(rows: list[tuple[str, float]], *, width: int = 520) -> str:
    """Horizontal bars, 0-100 %, one per row, with the value written at the bar's end."""
    label_w, bar_w, h = 150, width - 200, 22
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{h * len(rows) + 10}" role="img">')]
    for i, (label, pct) in enumerate(rows):
        y = 5 + i * h
        fill = "#146c2e" if pct >= 75 else "#c77c02" if pct >= 50 else "#a4161a"
        length = max(0.0, min(100.0, pct)) * bar_w / 100
        parts += [f'<text x="0" y="{y + 14}" font-size="11">{escape(label)}</text>',
                  (f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="14" '
                  'fill="#eef1f5"/>'),
                  (f'<rect x="{label_w}" y="{y + 3}" width="{length:.1f}" height="14" '
                  f'fill="{fill}"/>'),
                  (f'<text x="{label_w + bar_w + 6}" y="{y + 14}" font-size="11">'
                  f'{pct:.1f} %</text>')]
    parts.append("</svg>")
    return "".join(parts)


def _seal_gauge(level: int) -> str:
    """Five boxes, SEAL-0..SEAL-4, the reached ones filled."""
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="420" height="46" role="img">']
    for i in range(5):
        fill = "#1f4e9c" if i <= level else "#eef1f5"
        colour = "#fff" if i <= level else "#555"
        parts += [f'<rect x="{i * 82}" y="4" width="78" height="34" fill="{fill}"/>',
                  (f'<text x="{i * 82 + 20}" y="26" font-size="12" fill="{colour}">'
                  f'SEAL-{i}</text>')]
    parts.append("</svg>")
    return "".join(parts)


def _rows(cells: list[list[str]], head: list[str]) -> str:
    out = ["<table><tr>", *(f"<th>{escape(h)}</th>" for h in head), "</tr>"]
    out += ["<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in cells]
    out.append("</table>")
    return "".join(out)


def _refs(seqs: list[int]) -> str:
    return ", ".join(str(s) for s in seqs) if seqs else "-"


def _plan(gaps: list[dict[str, Any]]) -> str:
    """Each phase with its gaps, heaviest first (the JSON's ``plan`` is the OSCAL form)."""
    rows = []
    for phase in PHASES:
        named = [f"{escape(g['criterion'])} ({g['weight']})" for g in gaps
                 if g["phase"] == phase]
        rows.append([escape(phase), str(len(named)), ", ".join(named) or "-"])
    return _rows(rows, ["phase", "gaps", "criteria (weight)"])


def html(doc: dict[str, Any]) -> str:
    seal = doc["seal"]
    e = escape
    sections = [
        (f"<h1>Sovereignty readiness assessment</h1><p class='small'>{e(doc['id'])} - "
        f"generated {e(doc['generated_at'])} - recorded in the ledger as entry "
        f"{e(str(doc.get('ledger_seq')))}</p>"),
        f"<h2>SEAL level: {e(seal['name'])}</h2>", _seal_gauge(int(seal["level"])),
        (f"<p>Overall score {seal['overall_percent']} % (EU Cloud Sovereignty Framework "
        f"weights); the score alone gives SEAL-{seal['uncapped_level']}.</p>"),
        "".join(f"<p>Capped: {e(c)}</p>" for c in seal["caps"]),
        "<h2>The seven layers</h2>",
        _bar_chart([(k, float(v["percent"])) for k, v in doc["layers"].items()]),
        "<h2>Framework objectives</h2>",
        _bar_chart([(f"{k} {v['framework_weight_percent']}%", float(v["percent"]))
                    for k, v in doc["objectives"].items()]),
        _rows([[e(k), e(v["title"]), f"{v['percent']} %", f"SEAL-{v['seal_level']}"]
               for k, v in doc["objectives"].items()],
              ["objective", "title", "score", "level"]),
        "<h2>Phased plan</h2>", _plan(doc["gaps"]),
        "<h2>Gaps</h2>",
        _rows([[e(g["criterion"]),
                (f"{e(g['observed'])}<br><span class='small'>ledger: "
                f"{_refs(g['ledger_entries'])}</span>"), e(g["why"]), e(g["remedy"]),
                (f"{e(g['phase'])}<br><span class='small'>effort {e(g['effort'])}, weight "
                f"{g['weight']}</span>")] for g in doc["gaps"]],
              ["criterion", "observed", "why it matters", "remedy", "phase"]),
        "<h2>Buyer's questions</h2>",
        _rows([[e(q["question"]), e(q["answer"]), _refs(q["ledger_entries"])]
               for q in doc["questions"]], ["question", "answer", "ledger"]),
        "<h2>Criteria</h2>",
        _rows([[e(c["id"]), e(c["title"]),
                f"<span class='{e(c['status'])}'>{e(c['status'])}</span>",
                (f"{e(c['observed'])}<br><span class='small'>ledger: "
                f"{_refs(c['ledger_entries'])}</span>"),
                f"{c['weight']} ({e(c['objective'])})"] for c in doc["criteria"]],
              ["criterion", "title", "status", "observed", "weight (objective)"]),
        "<h2>Dependencies</h2>",
        _rows([[e(d["component"]), e(d["kind"]), e(d["supplier"]), e(d["operator"]),
                e(d["jurisdiction"])] for d in doc["dependencies"]],
              ["component", "kind", "supplier", "operator", "jurisdiction"])
        if doc["dependencies"] else "<p>No dependency recorded.</p>",
    ]
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Sovra "
            f"readiness {e(doc['id'])}</title><style>{_CSS}</style></head><body>"
            + "".join(sections) + "</body></html>")


def pdf(doc: dict[str, Any]) -> bytes:
    """The HTML rendered to PDF; nothing is fetched (the HTML has no external resource)."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: pango missing from the system
        raise InvalidInputError(f"PDF output needs WeasyPrint and pango ({exc}): run "
                                "scripts/install-system-deps.sh, or use --format html") from exc

    def refuse(url: str) -> dict[str, Any]:
        raise ValueError(f"no external resource may be fetched ({url})")

    data = HTML(string=html(doc), url_fetcher=refuse).write_pdf()
    return bytes(data) if data is not None else b""


__all__ = ["html", "pdf"]
