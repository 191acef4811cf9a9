"""Documents: read a file (text, Markdown, HTML, PDF), clean conversion debris, find title,
council, meeting, date and author. PDF pages come from rag.read.pdf."""

from __future__ import annotations

import hashlib
import html
import re
from html.parser import HTMLParser
from pathlib import Path

from rag.errors import DocumentError
from rag.read.metadata import (
    council_from_path,
    date_from_path,
    find_author,
    find_council,
    find_date,
    find_meeting,
    find_subject,
    find_title,
    is_letter,
    is_useful_title,
    meeting_from_path,
)
from rag.read.pdf import PdfText, read_pdf
from rag.types import Document

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_document(
    path: Path,
    source: str | None = None,
    sha256: str | None = None,
    pdf: PdfText | None = None,
    tesseract: str | None = None,
) -> Document:
    """Read one file into a Document; raise DocumentError with a reason a person understands.
    A PDF is parsed here unless its pages are given (`pdf`, parsed by a worker process)."""
    source = source or str(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(f"unsupported file type {suffix or '(none)'}")
    if suffix == ".pdf":
        pdf = pdf or read_pdf(path, tesseract)
        pages, pdf_title = [unwrap_lines(page) for page in pdf.pages], pdf.title
        ocr = (pdf.ocr_pages, pdf.unread_pages)
    elif suffix in (".html", ".htm"):
        pages, pdf_title, ocr = [_html_to_text(_read_text(path))], None, (0, 0)
    else:
        pages, pdf_title, ocr = [_read_text(path)], None, (0, 0)

    cleaned = [clean_text(page) for page in pages]
    text, page_starts = _join_pages(cleaned) if suffix == ".pdf" else (cleaned[0], ())
    if not text.strip():
        raise DocumentError("no text found" if suffix == ".pdf" else "empty file")

    sha256 = sha256 or file_sha256(path)
    return Document(
        id=hashlib.sha256(f"{source}\0{sha256}".encode()).hexdigest()[:16],
        source=source,
        title=_with_subject_from_name(
            next((t for t in (find_subject(text), pdf_title) if t and is_useful_title(t)), None)
            or _letter_title(text)
            or find_title(text, any_line=not _names_a_report(path))
            or _title_from_name(path),
            path,
        ),
        council=council_from_path(path) or find_council(text),
        date=find_date(text, date_from_path(path)),
        text=text,
        page_starts=page_starts,
        meeting=find_meeting(text) or meeting_from_path(path),
        author=find_author(text),
        ocr_pages=ocr[0],
        unread_pages=ocr[1],
    )


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            f"not UTF-8 text (bad byte at offset {exc.start}); save the file as UTF-8"
        ) from None


def _join_pages(pages: list[str]) -> tuple[str, tuple[int, ...]]:
    starts, parts, offset = [], [], 0
    for page in pages:
        starts.append(offset)
        parts.append(page)
        offset += len(page) + 2
    return "\n\n".join(parts), tuple(starts)


def _letter_title(text: str) -> str | None:
    """A letter without a subject line is titled by its sender, the first line of its letterhead
    ("Letter from Jim McMahon OBE MP"), not by that name alone as if it were a report."""
    if not is_letter(text):
        return None
    first = next((line.strip() for line in text.split("\n") if line.strip()), "")
    looks_like_a_name = (
        2 <= len(first.split()) <= 6
        and all(w[:1].isupper() for w in first.split())
        and not first.isupper()  # "OFFICIAL SENSITIVE", a protective marking
        and not re.search(r"[\d:@]", first)  # "Our ref: JM/2025/01", a date, an address
    )
    return f"Letter from {first}" if looks_like_a_name else None


def _names_a_report(path: Path) -> bool:
    """Whether the file's name says what it is ("Agenda frontsheet 30th-Jan-2025 10.00 Cabinet")
    rather than only where it sits in a pack ("Appendix 1"): then it is a better title than the
    first line of text that happens to look like one."""
    words = [w for w in re.findall(r"[A-Za-z]{3,}", path.stem) if w.lower() not in _PACK_WORDS]
    return len(words) >= 2


_PACK_WORDS = {"appendix", "annex", "annexe", "item", "final", "draft", "version", "copy", "scan", "document"}


_KIND_WORDS = frozenset(
    {
        "record",
        "decision",
        "decisions",
        "form",
        "amendment",
        "budget",
        "written",
        "report",
        "summary",
        "discussion",
        "note",
        "notes",
        "update",
        "paper",
        "briefing",
        "cover",
        "sheet",
        "proforma",
        "template",
        "of",
        "the",
        "a",
    }
)
"""Words that say only what kind of document a title names ("Record of Decision", "Budget
Amendment Form", "Written Report"), not what it is about."""
_PACK_PLACE = re.compile(
    r"(?i)^(?:(?:appendix|annex|annexe|item)\s+\w{1,3}|\d{2}-\d{5}|\d{1,3}(?:\.\d{1,3})*)(?=\s)\s*[-–:]?\s*"
)
"""Where a file sits in a pack, before its subject: "Appendix 6 - ", "3 - ", a decision number
"24-00093 "; not a year or a financial year ("2024-25 to 2026-27 ...")."""


def _with_subject_from_name(title: str, path: Path) -> str:
    """A title that says only what kind of document it is ("Budget Amendment Form", "Written
    Report"), or is one word ("Spending"), with what the file's name adds about its subject:
    "Budget Amendment Form: Liberal Democrats - LEVI capital funding". Ten amendment forms are
    otherwise ten citations of the same title."""
    words = re.findall(r"[a-z]+", title.lower())
    if not _names_a_report(path) or not (len(words) == 1 or all(w in _KIND_WORDS for w in words)):
        return title
    subject = " ".join(
        re.sub(r"(?<!\d{4})_\d{1,2}$", "", path.stem).replace("_", " ").split()
    )  # "..._1": a copy
    while (cut := _PACK_PLACE.sub("", subject, count=1)) != subject:
        subject = cut
    tokens = subject.split()
    while tokens and (tokens[0] in "-–" or tokens[0].lower() in words):
        tokens.pop(0)  # "Amendment - " after "Budget Amendment Form", "Record of Decision" after itself
    return f"{title}: {' '.join(tokens)}" if tokens else title


def _title_from_name(path: Path) -> str:
    words = " ".join(
        re.sub(r"(?<!\d)[-_]+|[-_]+(?!\d)", " ", path.stem).split()
    )  # "30th-Jan-2025" too; "2025-26" stays
    return words[:1].upper() + words[1:]


# --- cleaning -------------------------------------------------------------------------------

_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_BREAK_TAG = re.compile(r"(?i)<br\s*/?>")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^<>\s]+)>")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*{1,3}|_{2,3})(?=\S)(.+?)(?<=\S)\1")
_STRAY_STARS = re.compile(r"\*{2,}")
_HEADING_MARK = re.compile(r"^\s{0,3}#{1,6}\s+", re.MULTILINE)
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def clean_text(raw: str) -> str:
    """Remove conversion debris (bold markers, HTML tags, heading marks, table pipes, tabs)
    while keeping the words, numbers and line structure a reader needs."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    text = _BREAK_TAG.sub("\n", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _TAG.sub("", text)
    text = html.unescape(text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _HEADING_MARK.sub("", text)
    lines = []
    for line in text.split("\n"):
        if _TABLE_RULE.match(line) and "-" in line:
            continue
        line = _EMPHASIS.sub(r"\2", line)
        line = _EMPHASIS.sub(r"\2", line)
        line = _STRAY_STARS.sub("", line)
        if line.strip().startswith("|") and line.strip().endswith("|"):
            line = " | ".join(cell.strip() for cell in line.strip().strip("|").split("|"))
        line = re.sub(r"[ \t]*\t[ \t]*", " ", line)
        line = re.sub(r"(?<=\S) {2,}", " ", line.rstrip())
        lines.append(line)
    text = "\n".join(_drop_repeated_lines(lines))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def _drop_repeated_lines(lines: list[str]) -> list[str]:
    """Running headers and footers: a line of several words that occurs three or more times
    is kept once."""
    counts: dict[str, int] = {}
    for line in lines:
        key = line.strip()
        if len(key.split()) >= 3:
            counts[key] = counts.get(key, 0) + 1
    seen: set[str] = set()
    kept = []
    for line in lines:
        key = line.strip()
        if counts.get(key, 0) >= 3:
            if key in seen:
                continue
            seen.add(key)
        kept.append(line)
    return kept


_ENDS_WITH_NUMBER = re.compile(r"\d[%)]?$")
_STARTS_A_ROW = re.compile(r"[A-Z0-9£(-]")  # a table row ends with a number; the next row starts anew
_LIST_START = re.compile(r"^\s*(?:[-•*▪●]|\(?[0-9]{1,3}(?:\.[0-9]{1,3})*[.)]|\(?[a-z]{1,4}[.)])\s")


def unwrap_lines(page: str) -> str:
    """Join the lines a PDF wrapped inside a paragraph: a long line that does not close a
    sentence runs on into the next line unless that one starts a list item or a table row."""
    lines = [line.rstrip() for line in page.replace("\r", "").split("\n")]
    width = max((len(line) for line in lines), default=0)
    out: list[str] = []
    for line in lines:
        previous = out[-1] if out else ""
        runs_on = (
            previous.strip()
            and line.strip()
            and len(previous) >= 0.6 * width
            and not previous.rstrip().endswith((".", ":", ";", "!", "?"))
            and not _LIST_START.match(line)
            and not (_ENDS_WITH_NUMBER.search(previous) and _STARTS_A_ROW.match(line.strip()))
        )
        if runs_on:
            out[-1] = previous.rstrip() + " " + line.strip()
        else:
            out.append(line)
    return "\n".join(out)


class _HtmlText(HTMLParser):
    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "section"})
    SKIP = frozenset({"script", "style", "head", "noscript", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def _html_to_text(markup: str) -> str:
    parser = _HtmlText()
    parser.feed(markup)
    lines = [re.sub(r"\s+", " ", line).strip(" |") for line in "".join(parser.parts).split("\n")]
    return "\n".join(lines)
