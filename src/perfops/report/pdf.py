"""The report's PDF: the same HTML laid out by WeasyPrint (CSS paged media: A4 pages with
running headers, "Page n of N" footers, a table of contents with page numbers through
``target-counter``, PDF bookmarks from the headings, fonts subset and embedded).

WeasyPrint rather than Chromium's print: paged media is what it implements (Chromium has no
``target-counter``, so no page numbers in a table of contents, and its header and footer
templates live outside the document), it needs no browser process, and it fetches nothing:
the page is given as a string and every URL it meets is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from perfops._internal.atomic_file import replace_file
from perfops.errors import PerfopsError

__all__ = ["pdf_bytes", "write_pdf"]


def _refuse(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    raise PerfopsError(f"the report asked for {url!r}: it must need no external resource")


def pdf_bytes(html: str) -> bytes:
    """The PDF of ``html`` (a page from :func:`perfops.report.html.render_html`)."""
    import weasyprint

    doc = weasyprint.HTML(string=html, url_fetcher=_refuse, base_url=".")
    out: bytes = doc.write_pdf(media_type="print", pdf_variant=None)
    return out


def write_pdf(html: str, path: Path) -> None:
    """Write the PDF of ``html`` to ``path`` (replaced atomically: a failure leaves any
    previous file whole)."""
    replace_file(path, pdf_bytes(html))
