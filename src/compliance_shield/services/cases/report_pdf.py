"""A printable PDF of a rendered report (fpdf2, the PDF core fonts).

The core fonts cover Latin-1 only: other text (a name in Devanagari, say) is transliterated with
``anyascii`` in the PDF, and the JSON keeps it exactly. The PDF names the report's content hash,
so a printed copy can be matched with the filed JSON.
"""

from __future__ import annotations

from typing import Any

from anyascii import anyascii
from fpdf import FPDF


def _latin1(text: str) -> str:
    return "".join(ch if ord(ch) < 256 else anyascii(ch) for ch in text)


def _lines(value: Any, indent: int = 0) -> list[tuple[int, str, str]]:
    """(indent, label, text) rows of a nested JSON value."""
    rows: list[tuple[int, str, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            label = str(key).replace("_", " ")
            if isinstance(item, dict | list) and item:
                rows.append((indent, label, ""))
                rows += _lines(item, indent + 1)
            else:
                rows.append((indent, label, "" if item is None else str(item) if item != [] else "none"))
    elif isinstance(value, list):
        for i, item in enumerate(value, 1):
            if isinstance(item, dict | list):
                rows.append((indent, f"#{i}", ""))
                rows += _lines(item, indent + 1)
            else:
                rows.append((indent, f"#{i}", str(item)))
    return rows


def render_pdf(title: str, rendered: dict[str, Any], *, status: str, content_sha256: str | None) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title(_latin1(title))
    pdf.set_creator("ComplianceShield")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.multi_cell(0, 8, _latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    stamp = f"Status: {status}" + (f" - content SHA-256 {content_sha256}" if content_sha256 else " - DRAFT, not filed")
    pdf.multi_cell(0, 5, stamp, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    width = pdf.w - pdf.l_margin - pdf.r_margin
    for indent, label, text in _lines(rendered):
        pdf.set_x(pdf.l_margin + indent * 6)
        available = width - indent * 6
        if text:
            pdf.set_font("Helvetica", "B", 9)
            pdf.multi_cell(available, 5, _latin1(label), new_x="LMARGIN", new_y="NEXT")
            pdf.set_x(pdf.l_margin + indent * 6 + 4)
            pdf.set_font("Helvetica", "", 9)
            pdf.multi_cell(available - 4, 5, _latin1(text), new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.set_font("Helvetica", "B", 10 if indent == 0 else 9)
            pdf.multi_cell(
                available, 6, _latin1(label.capitalize() if indent == 0 else label), new_x="LMARGIN", new_y="NEXT"
            )
    return bytes(pdf.output())
