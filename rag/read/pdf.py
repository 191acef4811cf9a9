"""PDF pages to text. pypdf reads the text layer (its layout mode on pages that hold a table);
pages without one are rendered with pypdfium2 and read by Tesseract when it is installed; running
headers, footers and page numbers are dropped. `python -m rag.read.pdf --worker` serves as the worker
process that `rag.parsing` runs each PDF in, under a time and memory limit."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from rag.errors import DocumentError

OCR_DPI = 300
MAX_OCR_PIXELS = 4200
"""Longest side of a rendered page: A4 at 300 dpi is 3508 pixels."""
MIN_PAGE_CHARS = 10
"""A page with fewer non-space characters than this has no usable text layer."""


@dataclass(frozen=True)
class PdfText:
    pages: tuple[str, ...]
    """Text of each page, 1-based page n at pages[n - 1]; running headers and footers removed."""
    title: str | None
    """The title in the PDF's metadata, when it looks like one."""
    ocr_pages: int = 0
    """Pages read by OCR."""
    unread_pages: int = 0
    """Pages without a text layer left out because no OCR was available."""

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> PdfText:
        return cls(**{**data, "pages": tuple(data["pages"])})


def tesseract_path(command: str) -> str | None:
    """The Tesseract binary to run, or None when OCR is switched off (empty) or not installed."""
    return shutil.which(command) if command else None


def read_pdf(path: Path, tesseract: str | None, on_page=None, page_timeout: float = 30.0) -> PdfText:
    """Every page's text. Raises DocumentError with a reason a person understands."""
    _check_header(path)
    pages, blank, title = _text_layer(path, on_page)
    ocr_pages, unread = _read_scanned_pages(path, pages, blank, tesseract, page_timeout, on_page)
    if not any(page.strip() for page in pages):
        if unread:
            raise DocumentError("no text layer (scanned pages) and no OCR: install tesseract-ocr")
        raise DocumentError("no text found" + (" (not even by OCR)" if ocr_pages else " (blank pages)"))
    return PdfText(tuple(drop_running_lines(pages)), title, ocr_pages, unread)


def _check_header(path: Path) -> None:
    """Refuse an empty file, or one that is not a PDF at all, by what it is."""
    with path.open("rb") as handle:
        head = handle.read(1024)
    if not head:
        raise DocumentError("empty file (0 bytes)")
    if b"%PDF-" not in head:
        kind = "PostScript" if head.startswith(b"%!PS") else "no %PDF- header"
        raise DocumentError(f"not a PDF ({kind})")


def _text_layer(path: Path, on_page) -> tuple[list[str], list[int], str | None]:
    """Each page's text layer ("" for a page with next to no text), the numbers of those nearly
    blank pages, and the title the PDF's metadata gives. An encrypted or damaged file is refused;
    one broken page is read as blank."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not _opens_without_password(reader):
            raise DocumentError("encrypted PDF (needs a password)")
        if len(reader.pages) == 0:
            raise DocumentError("empty PDF (no pages)")
        pages: list[str] = []
        blank: list[int] = []
        for number, page in enumerate(reader.pages, start=1):
            text = _page_text(page)
            if len(re.sub(r"\s", "", text)) < MIN_PAGE_CHARS:
                blank.append(number)
                text = ""
            pages.append(text)
            if on_page:
                on_page(number, "page")
        return pages, blank, _metadata_title(reader)
    except DocumentError:
        raise
    except (FileNotDecryptedError, DependencyError):
        raise DocumentError("encrypted PDF (needs a password)") from None
    except RecursionError:
        raise DocumentError("damaged PDF (objects nest without end)") from None
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds on broken files
        raise DocumentError(f"damaged PDF ({type(exc).__name__}: {_short(exc)})") from None


def _page_text(page) -> str:
    try:
        return choose_extraction(page)
    except (RecursionError, MemoryError):
        raise
    except Exception:  # noqa: BLE001 - one broken page: the others are still worth reading
        return ""


def _read_scanned_pages(
    path: Path, pages: list[str], blank: list[int], tesseract: str | None, page_timeout: float, on_page
) -> tuple[int, int]:
    """Read by OCR the blank pages that hold images (scans), in place in `pages`; returns (pages
    read by OCR, scanned pages left unread because there is no Tesseract)."""
    ocr_pages = unread = 0
    for number in _pages_with_images(path, blank) if blank else []:
        if tesseract is None:
            unread += 1
            continue
        try:
            pages[number - 1] = ocr_page(path, number, tesseract, page_timeout)
        except DocumentError:  # this page could not be rendered or read: leave it out
            continue
        ocr_pages += 1
        if on_page:
            on_page(number, "ocr")
    return ocr_pages, unread


def _opens_without_password(reader) -> bool:
    """True for files encrypted with an owner password only: any viewer opens them."""
    try:
        return bool(reader.decrypt(""))
    except Exception:  # noqa: BLE001 - an unsupported scheme counts as locked
        return False


def _metadata_title(reader) -> str | None:
    try:
        title = (reader.metadata.title if reader.metadata else None) or None
    except Exception:  # noqa: BLE001 - unreadable metadata is no title
        return None
    if not isinstance(title, str):
        return None
    title = " ".join(title.split())
    if len(title) < 4 or re.match(r"(?i)microsoft|untitled|\S+\.(docx?|pdf|xlsx?)$", title):
        return None
    return title


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:120]


# --- tables ----------------------------------------------------------------------------------

_NUMBER = re.compile(r"(?<![\w.])[-(£]?\d[\d,]*(?:\.\d+)?%?\)?(?!\w)")
_LETTERS = re.compile(r"[A-Za-z]")


def number_only_lines(text: str) -> int:
    """Lines holding numbers and no letters: the torn-off cells of a table row."""
    return sum(1 for line in text.splitlines() if _NUMBER.search(line) and not _LETTERS.search(line))


def choose_extraction(page) -> str:
    """pypdf's plain extraction, unless the page holds a table that it tears apart (three or
    more lines of bare numbers) and layout extraction keeps more rows whole. Layout text has its
    column gaps closed to one space. The choice is measured in benchmarks/results.md."""
    plain = page.extract_text() or ""
    torn = number_only_lines(plain)
    if torn < 3:
        return plain
    try:
        layout = page.extract_text(extraction_mode="layout") or ""
    except Exception:  # noqa: BLE001 - layout mode fails on some odd fonts: keep plain text
        return plain
    layout = "\n".join(re.sub(r"\s{2,}", " ", line).strip() for line in layout.splitlines())
    if len(re.sub(r"\s", "", layout)) < 0.8 * len(re.sub(r"\s", "", plain)):
        return plain  # layout mode lost text (it returns nothing on some fonts)
    return layout if number_only_lines(layout) < torn else plain


# --- OCR -------------------------------------------------------------------------------------


def _pages_with_images(path: Path, numbers: list[int]) -> list[int]:
    """Of the pages without text, those that show an image (a scan); blank pages are left."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError:
        return []  # pdfium cannot open what pypdf could: nothing to render
    try:
        found = []
        for number in numbers:
            page = document[number - 1]
            if any(True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3)):
                found.append(number)
            page.close()
        return found
    finally:
        document.close()


def ocr_page(path: Path, number: int, tesseract: str, timeout: float = 30.0, dpi: int = OCR_DPI) -> str:
    """Render one page with pypdfium2 and read it with Tesseract (English)."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(path))
        try:
            page = document[number - 1]
            scale = min(dpi / 72, MAX_OCR_PIXELS / max(page.get_size()))  # a poster is not read at 300 dpi
            image = page.render(scale=scale, grayscale=True).to_pil()
        finally:
            document.close()
    except pdfium.PdfiumError as exc:
        raise DocumentError(f"page {number} cannot be rendered for OCR ({exc})") from None
    from io import BytesIO

    png = BytesIO()
    image.save(png, format="PNG")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # one core per worker
    try:
        done = subprocess.run(
            [tesseract, "stdin", "stdout", "-l", "eng", "--psm", "3"],
            input=png.getvalue(),
            capture_output=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DocumentError(f"OCR of page {number} took longer than {timeout:g} s") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
        raise DocumentError(f"OCR of page {number} failed ({message[0]})")
    return done.stdout.decode("utf-8", "replace")


# --- running headers and footers -------------------------------------------------------------

_PAGE_NUMBER = re.compile(
    r"(?i)^[-–—\s]*(page\s*)?\d{1,4}(\s*(of|/)\s*\d{1,4})?[-–—\s]*$|^page\s+[ivxlc]+$|^[ivxlc]{1,6}$"
)
EDGE_LINES = 3
"""Lines at the top and at the bottom of a page where running headers and footers live."""


def _edge_key(line: str) -> str:
    """Lines that differ only in their numbers ("Page 3 of 9", "Page 4 of 9") share a key."""
    return re.sub(r"\d+", "#", " ".join(line.split()).lower())


def drop_running_lines(pages: list[str]) -> list[str]:
    """Remove page numbers and the headers and footers repeated across pages: a line among the
    first or last few of a page that recurs at the edge of three or more pages and of at least
    a fifth of them. A line whose number follows the page ("Page 21", "Page 22") goes from
    every page; of a line repeated word for word the first copy is kept, so a report whose
    title runs at the top of every page still shows it once."""
    lines = [page.split("\n") for page in pages]
    edges = [_edge_indexes(page_lines) for page_lines in lines]
    counts: dict[str, int] = {}  # by the line, and by the line with its numbers blanked
    numbers: dict[str, list[tuple[int, tuple[int, ...]]]] = {}
    for page_number, (page_lines, indexes) in enumerate(zip(lines, edges)):
        for i in indexes:
            line = " ".join(page_lines[i].split())
            key = _edge_key(line)
            for name in {line, key}:
                counts[name] = counts.get(name, 0) + 1
            numbers.setdefault(key, []).append((page_number, tuple(int(n) for n in re.findall(r"\d+", line))))
    needed = max(3, len(pages) // 5)
    seen: set[str] = set()
    result = []
    for page_lines, indexes in zip(lines, edges):
        drop = set()
        for i in indexes:
            line = " ".join(page_lines[i].split())
            key = _edge_key(line)
            if (
                _PAGE_NUMBER.match(line)
                or counts[key] >= needed
                and line != key
                and _counts_pages(numbers[key])
            ):
                drop.add(i)
            elif counts[line] >= needed:
                if line in seen:
                    drop.add(i)
                seen.add(line)
        result.append("\n".join(line for i, line in enumerate(page_lines) if i not in drop))
    return result


def _counts_pages(occurrences: list[tuple[int, tuple[int, ...]]]) -> bool:
    """True when a number in the line goes up with the page ("Page 21", "Page 22", ...)."""
    width = len(occurrences[0][1])
    for position in range(width):
        offsets = {values[position] - page for page, values in occurrences}
        if len(offsets) == 1 and len({values[position] for _, values in occurrences}) > 1:
            return True
    return False


def _edge_indexes(page_lines: list[str]) -> list[int]:
    filled = [i for i, line in enumerate(page_lines) if line.strip()]
    return sorted(set(filled[:EDGE_LINES] + filled[-EDGE_LINES:]))


# --- the worker process ----------------------------------------------------------------------


def _limit_memory(megabytes: int) -> None:
    if megabytes > 0:
        import resource

        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def worker_main() -> None:
    """Read one JSON request a line on stdin ({path, tesseract, page_timeout}); answer with
    {"page": n} after each page read ({"ocr": n} after each page OCR'd), then {"ok": PdfText} or {"error": reason}, one JSON a line."""
    logging.disable(logging.WARNING)  # pypdf warns about every repaired object
    _limit_memory(int(os.environ.get("RAG_WORKER_MEMORY_MB", "0")))
    out = sys.stdout

    def send(message: dict) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    for line in sys.stdin:
        request = json.loads(line)
        try:
            text = read_pdf(
                Path(request["path"]),
                request.get("tesseract"),
                on_page=lambda n, kind: send({kind: n}),
                page_timeout=request.get("page_timeout", 30.0),
            )
            send({"ok": text.to_json()})
        except DocumentError as exc:
            send({"error": str(exc)})
        except MemoryError:
            send({"error": "too large to parse within the memory limit"})
        except Exception as exc:  # noqa: BLE001 - the worker survives any one file
            send({"error": f"damaged PDF ({type(exc).__name__}: {_short(exc)})"})


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    worker_main()
