"""The PDF page behind a source, as an image: rendered with pypdfium2 within a pixel budget, the
sentence the answer quotes marked on it.

The quote comes from the index, whose text pypdf read: its white space, hyphens and quotation
marks can differ from what pdfium reads on the page, so the two are compared on their letters and
digits alone (find_quote)."""

from __future__ import annotations

import ctypes
import io
import math
from dataclasses import dataclass
from pathlib import Path

from rag.errors import DocumentError, RagError
from rag.text import letters_and_digits

MAX_PAGE_PIXELS = 4_000_000
"""Most pixels a page is rendered with (4 Mpx: 16 MB of bitmap). A page of any size in a PDF
(a 72 x 14400 pt strip is valid) would otherwise take the server's memory: it is scaled down."""

PAGE_IMAGES_CACHED = 16
"""Most rendered pages a server keeps (16 x at most 4 Mpx), for the app's cache."""

MIN_QUOTE_CHARS = 24
"""Fewest letters and digits of a quote's beginning that count as finding it on the page (a
sentence that goes on over the page break is marked as far as the page has it)."""

HIGHLIGHT = (255, 213, 0, 96)
"""The marker's colour: a translucent yellow (RGBA), the text stays readable under it."""


@dataclass(frozen=True)
class PageImage:
    png: bytes
    marked: bool
    """Whether the quote asked for was found on the page and marked (False without a quote)."""


def page_scale(width_pt: float, height_pt: float, width: int, max_pixels: int = MAX_PAGE_PIXELS) -> float:
    """Pixels per point to render a page `width` pixels wide, less where that would exceed
    `max_pixels` (each side rounded up, as the renderer does)."""
    scale = min(width / width_pt, math.sqrt(max_pixels / (width_pt * height_pt)))
    while math.ceil(width_pt * scale) * math.ceil(height_pt * scale) > max_pixels:
        scale *= 0.999
    return scale


def page_image(path: Path, page: int, width: int = 1000, quote: str | None = None) -> PageImage:
    """PNG of one page (1-based) of a PDF, `width` pixels wide (narrower for a page so long that
    the image would exceed MAX_PAGE_PIXELS), rendered with pypdfium2; with `quote`, the lines of
    the page that hold it are marked with a translucent highlight."""
    try:
        import pypdfium2 as pdfium
    except ImportError:
        raise RagError("showing PDF pages needs pypdfium2: pip install pypdfium2") from None

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        raise DocumentError(f"cannot open {path} to show the page ({exc})") from None
    try:
        if not 1 <= page <= len(pdf):
            raise DocumentError(f"{path} has {len(pdf)} pages, not {page}")
        sheet = pdf[page - 1]
        width_pt, height_pt = sheet.get_size()
        if width_pt <= 0 or height_pt <= 0:
            raise DocumentError(f"page {page} of {path} has no area ({width_pt:g} x {height_pt:g} pt)")
        image = sheet.render(scale=page_scale(width_pt, height_pt, width)).to_pil()
        boxes = _quote_boxes(sheet, quote, image.size) if quote and quote.strip() else []
        if boxes:
            image = _marked(image, boxes)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
        return PageImage(buffer.getvalue(), bool(boxes))
    finally:
        pdf.close()


def find_quote(page_text: str, quote: str) -> tuple[int, int] | None:
    """Where `quote` is in `page_text`, as (first, last) indexes of `page_text`, comparing letters
    and digits only (case, accents and ligatures folded; white space, hyphens and punctuation
    ignored). When the whole quote is not there, its longest beginning of at least
    MIN_QUOTE_CHARS letters and digits that is (the rest is on the next page)."""
    page_keys, where = letters_and_digits(page_text)
    quote_keys, _ = letters_and_digits(quote)
    if not quote_keys or not page_keys:
        return None
    found = page_keys.find(quote_keys)
    if (
        found < 0
    ):  # the longest beginning on the page: a beginning that is there has every shorter one there too
        shortest = min(MIN_QUOTE_CHARS, len(quote_keys))
        low, high = shortest, len(quote_keys) - 1
        length = 0
        while low <= high:
            middle = (low + high) // 2
            if quote_keys[:middle] in page_keys:
                length, low = middle, middle + 1
            else:
                high = middle - 1
        if not length:
            return None
        quote_keys = quote_keys[:length]
        found = page_keys.find(quote_keys)
    return where[found], where[found + len(quote_keys) - 1]


def _quote_boxes(sheet, quote: str, size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """The rectangles (left, top, right, bottom, in pixels of an image of `size`) of the lines
    of the page that hold `quote`; [] when it is not on the page."""
    import pypdfium2.raw as pdfium_c

    text_page = sheet.get_textpage()
    try:
        chars = "".join(
            chr(code) if 0 < (code := pdfium_c.FPDFText_GetUnicode(text_page, i)) < 0x110000 else " "
            for i in range(text_page.count_chars())
        )
        span = find_quote(chars, quote)
        if span is None:
            return []
        first, last = span
        boxes = []
        for rect in range(text_page.count_rects(first, last - first + 1)):
            left, bottom, right, top = text_page.get_rect(rect)
            corners = [_to_pixels(sheet, size, x, y) for x, y in ((left, top), (right, bottom))]
            xs, ys = [x for x, _ in corners], [y for _, y in corners]
            boxes.append((min(xs), min(ys), max(xs), max(ys)))
        return boxes
    finally:
        text_page.close()


def _to_pixels(sheet, size: tuple[int, int], x: float, y: float) -> tuple[int, int]:
    """A point of the page (PDF units, origin bottom left) in the rendered image (origin top
    left), as pdfium maps it: crop box and page rotation included."""
    import pypdfium2.raw as pdfium_c

    device_x, device_y = ctypes.c_int(), ctypes.c_int()
    pdfium_c.FPDF_PageToDevice(sheet, 0, 0, size[0], size[1], 0, x, y, device_x, device_y)
    return device_x.value, device_y.value


def _marked(image, boxes: list[tuple[int, int, int, int]]):
    """`image` with each box under a translucent highlight, a little larger than the glyphs."""
    from PIL import Image, ImageDraw

    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    pad = max(1, round(image.width / 500))
    for left, top, right, bottom in boxes:
        draw.rectangle((left - pad, top - pad, right + pad, bottom + pad), fill=HIGHLIGHT)
    return Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
