"""Mentions: every passage of the index that mentions a term (or the glossary's other names for
it), grouped by report and counted by meeting month. Exhaustive, not ranked.

What "mentions" means (the brute-force reference in tests/test_mentions.py follows the same rule):

- A name is matched as a phrase of whole words: its words in order, separated in the text by any
  run of white space (a line break counts), not inside a longer word ("hub" is not in "hubbub";
  "family hub-based" does mention "family hub": a hyphen ends a word, as it does for FTS5).
- Case is ignored, except for acronyms (a name in capitals, or like "CiC" and "DfE", as in the
  glossary): "SEND" matches only "SEND", never the verb "send".
- The last word may be in its regular plural: + "s" ("family hubs"), + "es" after s, x, z, ch or sh
  ("churches"), "y" -> "ies" after a consonant ("local authorities"). An acronym takes only "s"
  ("EHCPs"). Irregular plurals ("children") come only from the glossary's own names.
- The glossary's other names count too: "looked after children" also finds "LAC", "children in
  care", ... (rag/glossary.toml; a term is in a glossary entry when it is one of its names, in any
  case or in its plural). `use_glossary=False` searches the term alone.
- Only the passage's text counts, not its title or heading; a report's count is the number of its
  passages that mention the term, and so is `total` and each month's count.

How: an FTS5 phrase query per form (the name and its plurals), each quoted as an FTS5 string so
nothing the user typed is read as FTS5 syntax (`"`, `*`, `NEAR(`, `AND`, `:`), restricted to the
text column, finds the candidates; each is then confirmed by the rule above on its text, so a
stemmed hit ("hubs" for "hub" is fine, "family-hub" or "hubbing" is not) is not counted. A form the
rule accepts always gives the FTS5 tokens of the form it was searched with, so no mention is missed.
"""

from __future__ import annotations

import csv
import gc
import io
import itertools
import json
import os
import re
import sqlite3
import time
import tomllib
import unicodedata
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from rag.data import data_file
from rag.dates import period_at_end
from rag.errors import QuestionError, RagError
from rag.glossary import glossary
from rag.index.store import TOKENIZER
from rag.read.metadata import council_named_by
from rag.text import either_apostrophe, phrases_pattern, split_sentences
from rag.types import Filters, paragraph_label

MAX_TERM_CHARS = 200
WORD_CHAR = re.compile(r"[^\W_]")
"""A character FTS5's unicode61 tokenizer keeps in a token: a term without one has no words."""


# --- the rule ----------------------------------------------------------------------------------


def is_acronym(name: str) -> bool:
    """The glossary's rule: all capitals ("LAC"), or capitals around small letters ("CiC", "DfE")."""
    return name.isupper() or bool(re.fullmatch(r"[A-Z][A-Za-z]*[A-Z][a-z]?", name))


def plural_endings(word: str, acronym: bool) -> list[str]:
    """The regular plurals of a word (see the module's rule)."""
    if not word[-1:].isalpha():
        return []
    if acronym:
        return [word + "s"]
    lower = word.lower()
    forms = [word + "s"]
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        forms.append(word + "es")
    if len(lower) > 1 and lower.endswith("y") and lower[-2] not in "aeiou":
        forms.append(word[:-1] + "ies")
    return forms


def surface_forms(name: str) -> list[str]:
    """The name and the plurals of its last word: the phrases searched in FTS5."""
    words = name.split()
    if not words:
        return []
    return [name] + [
        " ".join(words[:-1] + [plural]) for plural in plural_endings(words[-1], is_acronym(name))
    ]


def _name_regex(name: str, acronym: bool) -> str:
    """The name and its plurals as one pattern: its words separated by any white space, not inside
    a longer word, the plural endings folded into the last word ("council(?:|s)", "authorit(?:y|ies)"),
    either apostrophe for one ("children's" and "children’s").
    The pattern begins with a literal (the first word, or the part of the last word all its forms
    share), its word boundary checked behind it, so that Python's re scans for it as a string (10
    times faster than an alternation or a leading lookbehind)."""
    words = name.split()
    last = [form.split()[-1] for form in surface_forms(name)]
    shared = os.path.commonprefix(last)
    endings = "|".join(re.escape(word[len(shared) :]) for word in last)
    lead, rest = (words[0], words[1:-1]) if len(words) > 1 else (shared, [])
    before = rf"(?<!\w{re.escape(lead)})" if re.match(r"\w", name) else ""
    after = r"(?!\w)" if re.search(r"\w$", name) else ""
    tail = rf"(?:{endings})" if len(words) == 1 else r"\s+" + re.escape(shared) + rf"(?:{endings})"
    pattern = re.escape(lead) + before + "".join(r"\s+" + re.escape(w) for w in rest) + tail + after
    pattern = either_apostrophe(pattern)
    return pattern if acronym else pattern.lower()


class Matcher:
    """The rule for a list of names: `found(text)` says whether a text mentions one of them,
    `spans(text)` where. Case is ignored by comparing lower case (str.lower) with lower case;
    acronyms are compared as written."""

    def __init__(self, names: list[str]):
        self.names = tuple(names)
        self.lower: list[re.Pattern[str]] = []
        self.exact: list[re.Pattern[str]] = []
        for name in names:
            acronym = is_acronym(name)
            (self.exact if acronym else self.lower).append(re.compile(_name_regex(name, acronym)))

    def found(self, text: str) -> bool:
        if any(p.search(text) for p in self.exact):
            return True
        lower = text.lower()
        return any(p.search(lower) for p in self.lower)

    def which(self, texts: list[str]) -> list[int]:
        """The positions of the texts that mention a name, in order: the same as [i for i, t in
        enumerate(texts) if self.found(t)], found by scanning the texts joined (by a character
        that is neither a word nor a space, so no match runs across two) once per pattern, five
        times faster for a common word's hundreds of thousands of passages."""
        joined = "\x00".join(texts)
        lower = joined.lower()
        if len(lower) != len(joined):  # a letter whose lower case is longer ("İ"): offsets would shift
            return [i for i, text in enumerate(texts) if self.found(text)]
        starts = np.fromiter(itertools.accumulate((len(t) + 1 for t in texts), initial=0), np.int64)
        matched = [
            np.fromiter((m.start() for m in pattern.finditer(scanned)), np.int64)
            for patterns, scanned in ((self.exact, joined), (self.lower, lower))
            for pattern in patterns
        ]
        at = np.concatenate(matched) if matched else np.zeros(0, np.int64)
        return np.unique(np.searchsorted(starts, at, side="right") - 1).tolist()

    def spans(self, text: str) -> tuple[tuple[int, int], ...]:
        """Where the names are, in order, overlapping matches merged."""
        lower = text.lower()
        if len(lower) != len(text):  # a letter whose lower case is longer ("İ"): offsets would shift
            lower_patterns = [re.compile(p.pattern, re.IGNORECASE) for p in self.lower]
            lower = text
        else:
            lower_patterns = self.lower
        found = sorted(
            [m.span() for p in self.exact for m in p.finditer(text)]
            + [m.span() for p in lower_patterns for m in p.finditer(lower)]
        )
        merged: list[tuple[int, int]] = []
        for start, end in found:
            if merged and start < merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return tuple(merged)


@lru_cache(maxsize=32)
def matcher(names: tuple[str, ...]) -> Matcher:
    return Matcher(list(names))


def clean_term(term: str) -> str:
    """The term with its white space collapsed; QuestionError when there is nothing to search."""
    term = " ".join((term or "").split())
    if not term:
        raise QuestionError('the term is empty: give a word or phrase, e.g. rag mentions "family hub"')
    if len(term) > MAX_TERM_CHARS:
        raise QuestionError(
            f"the term is {len(term)} characters long; the limit is {MAX_TERM_CHARS}: give a word or short phrase"
        )
    if not WORD_CHAR.search(term):
        raise QuestionError(
            f"the term {term!r} has no letters or digits to search for: give a word or phrase, "
            'e.g. rag mentions "family hub"'
        )
    return term


def mention_names(term: str, use_glossary: bool = True) -> list[str]:
    """The term and, with `use_glossary`, the other names of every glossary entry it is a name of
    (in any case, or in its plural): "LAC" gives "CLA", "looked after children", ..."""
    term = clean_term(term)
    names = [term]
    if use_glossary:
        for entry in glossary():
            if any(_is_form_of(term, name) for name in entry.names):
                names += entry.names
    unique: dict[str, str] = {}
    for name in names:  # one of each, whatever its case (an acronym keeps its own)
        unique.setdefault(name if is_acronym(name) else name.lower(), name)
    return list(unique.values())


def _is_form_of(term: str, name: str) -> bool:
    """Whether the term is the name or one of its plurals (in any case, but an acronym as written)."""
    if is_acronym(name):
        return term in surface_forms(name)
    return term.lower() in [f.lower() for f in surface_forms(name)]


def fts_query(names: list[str]) -> str:
    """An FTS5 query for every form of the names in the text column: each form is an FTS5 string
    (double quotes doubled), so operators and syntax characters in it are plain text. Forms the
    index's tokenizer reads as the same terms ("family hub", "family hubs") are asked once."""
    forms = [form for name in names for form in surface_forms(name) if WORD_CHAR.search(form)]
    phrases: dict[tuple[str, ...], str] = {}
    for terms, form in zip(_index_terms(forms), forms):
        phrases.setdefault(terms, form)
    return "text : (" + " OR ".join('"' + f.replace('"', '""') + '"' for f in phrases.values()) + ")"


def _index_terms(forms: list[str]) -> list[tuple[str, ...]]:
    """Each form as the index's tokenizer (FTS5, porter) reads it, in a private in-memory database."""
    db = sqlite3.connect(":memory:")
    try:
        db.execute(f"CREATE VIRTUAL TABLE forms USING fts5(form, tokenize='{TOKENIZER}')")
        db.execute("CREATE VIRTUAL TABLE form_terms USING fts5vocab(forms, instance)")
        db.executemany("INSERT INTO forms(rowid, form) VALUES (?, ?)", enumerate(forms))
        terms: list[list[str]] = [[] for _ in forms]
        for position, term in db.execute("SELECT doc, term FROM form_terms ORDER BY doc, offset"):
            terms[position].append(term)
    finally:
        db.close()
    return [tuple(t) for t in terms]


# --- the search --------------------------------------------------------------------------------


class Mention(NamedTuple):
    """A passage that mentions the term (`Mentions.spans` says where). A named tuple, not a
    frozen dataclass: a common word makes hundreds of thousands of them, at a third of the cost."""

    row: int
    page: int | None
    paragraph: str | None
    text: str

    def to_dict(self) -> dict:
        return {"page": self.page, "paragraph": self.paragraph, "text": self.text}


@dataclass(frozen=True)
class ReportMentions:
    doc_id: str
    title: str
    source: str
    council: str | None
    date: str | None
    passages: tuple[Mention, ...]

    @property
    def count(self) -> int:
        return len(self.passages)

    def to_dict(self) -> dict:
        fields = {k: getattr(self, k) for k in ("doc_id", "title", "source", "council", "date")}
        return {**fields, "count": self.count, "passages": [p.to_dict() for p in self.passages]}


@dataclass(frozen=True)
class Mentions:
    term: str
    names: tuple[str, ...]
    reports: tuple[ReportMentions, ...]
    by_month: tuple[tuple[str, int], ...]
    """(YYYY-MM, passages) for each month with a mention, in order."""
    undated: int
    """Passages in reports whose date has no month (or no date)."""
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(r.count for r in self.reports)

    def spans(self, mention: Mention) -> tuple[tuple[int, int], ...]:
        """Where the passage mentions the term or its other names (character offsets)."""
        return matcher(self.names).spans(mention.text)

    @property
    def status(self) -> str:
        return "found" if self.reports else "not_found"

    def to_dict(self) -> dict:
        return {
            "term": self.term,
            "status": self.status,
            "total": self.total,
            "names": list(self.names),
            "reports": [r.to_dict() for r in self.reports],
            "by_month": [{"month": m, "count": c} for m, c in self.by_month],
            "undated": self.undated,
            "timings_ms": self.timings_ms,
        }


def find_mentions(index, term: str, filters: Filters | None = None, use_glossary: bool = True) -> Mentions:
    """Every passage of `index` (an rag.index.store.Index) that mentions `term`, in the reports the
    filters accept: reports in date order (undated last), passages in the report's order.
    QuestionError for a term with nothing to search; RagError when the filters accept no report."""
    with _cyclic_gc_paused():
        return _find_mentions(index, term, filters, use_glossary)


@contextmanager
def _cyclic_gc_paused():
    """Python's cycle collector paused: a common word's result is hundreds of thousands of new
    tuples, none in a cycle, and the collector would walk them again and again as they are made
    (a fifth of the time at 1M passages; benchmarks/results.md). Reference counting still frees
    everything."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _find_mentions(index, term: str, filters: Filters | None, use_glossary: bool) -> Mentions:
    started = time.perf_counter()
    names = mention_names(term, use_glossary)
    filters = filters or Filters()
    documents = {d["doc_id"]: d for d in index.documents() if filters.accepts(d)}
    if not documents:
        chosen = ", ".join(f"{k}={v}" for k, v in asdict(filters).items() if v)
        raise RagError(
            f"no report in the index matches the filters ({chosen}): widen or remove them"
            if filters
            else "the index holds no reports: run `rag index` to add some"
        )
    rule = matcher(tuple(names))
    rows = index.query(
        "SELECT c.row, c.doc_id, c.text, c.page, c.paragraphs FROM chunks_fts JOIN chunks c"
        " ON c.row = chunks_fts.rowid WHERE chunks_fts MATCH ?",
        [fts_query(names)],
    )
    searched = time.perf_counter()
    rows = [r for r in rows if r[1] in documents]
    found: dict[str, list[Mention]] = {}
    labels: dict[str, str | None] = {}  # paragraph lists repeat ("[]" most of all): read each once
    for paragraphs in {r[4] for r in rows}:
        labels[paragraphs] = paragraph_label(json.loads(paragraphs))
    for i in rule.which([r[2] for r in rows]):
        row, doc_id, text, page, paragraphs = rows[i]
        found.setdefault(doc_id, []).append(Mention(row, page, labels[paragraphs], text))
    reports = [
        ReportMentions(
            doc_id=doc_id,
            title=documents[doc_id]["title"],
            source=documents[doc_id]["source"],
            council=documents[doc_id]["council"],
            date=documents[doc_id]["date"],
            passages=tuple(sorted(passages, key=lambda p: p.row)),
        )
        for doc_id, passages in found.items()
    ]
    reports.sort(key=lambda r: (not r.date, r.date or "", r.title, r.source))
    months: Counter[str] = Counter()
    undated = 0
    for report in reports:
        if report.date and re.match(r"\d{4}-\d\d", report.date):
            months[report.date[:7]] += report.count
        else:
            undated += report.count
    return Mentions(
        term=names[0],
        names=tuple(names),
        reports=tuple(reports),
        by_month=tuple(sorted(months.items())),
        undated=undated,
        timings_ms={
            "search": _ms(started, searched),
            "confirm": _ms(searched, time.perf_counter()),
            "total": _ms(started, time.perf_counter()),
            "candidates": len(rows),
        },
    )


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 1)


# --- in the chat ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _question_patterns() -> tuple[tuple[re.Pattern[str], ...], re.Pattern[str], re.Pattern[str]]:
    """The two shapes of a mentions question (rag/data/mentions_cues.toml), the leading words
    that are not part of the term, and the pointers that make a term a follow-up."""
    cue = tomllib.loads(data_file("mentions_cues.toml").read_text(encoding="utf-8"))["question"]

    def any_of(key: str) -> str:
        return f"(?:{phrases_pattern(cue[key])})"

    polite = rf"(?:{any_of('polite')}\s+)?"
    ending = rf"(?:\s*,?\s*(?<![\w-]){any_of('endings')})*\s*[?.!]*\s*"
    term = r"(?P<term>\S.*?)"
    reports = any_of("reports")
    shapes = (  # "Which reports mention X?", "Where is X mentioned?"
        rf"{polite}{any_of('asks')}\s+{reports}\s+(?:{any_of('join')}\s+)?{any_of('mention')}\s+{term}{ending}",
        rf"{polite}(?:{any_of('where')}|{any_of('where_asks')}\s+{reports})\s+{any_of('be')}\s+{term}"
        + rf"\s+{any_of('mentioned')}{ending}",
    )
    return (
        tuple(re.compile(shape, re.IGNORECASE) for shape in shapes),
        re.compile(rf"(?i)^(?:{any_of('leading')}\s+)+"),
        re.compile(rf"(?i){any_of('pointers')}"),
    )


_QUOTES = "\"'“”‘’«»`"


def mentions_question(question: str) -> str | None:
    """The term a chat question asks the mentions of ("Which reports mention family hubs?",
    "Which papers mention SEND, and when?", "Where is the Youth Service mentioned?", "List the
    reports that mention LAC"), as typed (an acronym keeps its capitals); None for any other
    question, and for one whose term is empty, only a pointer ("... mention it?") or has nothing
    to search. Years and a council that end the question ("... in 2019", "since 2017", "... in
    Kent") are not part of the term: `mentions_scope` reads them. The cue words are in
    rag/data/mentions_cues.toml."""
    _, leading, pointer = _question_patterns()
    asked = _asked_term(question)
    if asked is None:
        return None
    term = _scope_at_end(asked)[0]  # "... in Kent in 2019" narrows the reports, it is not the term
    term = term.strip().strip(_QUOTES + ",;:").strip()
    term = leading.sub("", term).strip(_QUOTES).strip()
    if pointer.fullmatch(term):
        return None
    try:
        return clean_term(term)
    except QuestionError:
        return None


def _asked_term(question: str) -> str | None:
    """The words a mentions question asks about, with any years and council that end them."""
    text = " ".join((question or "").split())
    for shape in _question_patterns()[0]:
        found = shape.fullmatch(text)
        if found:
            return found.group("term").strip()
    return None


_BY = r"(?:in|by|from)"  # not "of": "the Mayor of Limerick" is a name
_COUNCIL_AT_END = re.compile(rf"(?i)\s*,?\s+{_BY}\s+(?P<council>(?:(?!\s{_BY}\s)[^,])+?)\s*$")


def _scope_at_end(text: str) -> tuple[str, str | None, str | None, str | None]:
    """`text` without the years and the council that end it, in either order ("family hubs in
    Kent in 2019", "SEND in 2019 by Stockton"): (text, council, first year, last year)."""
    council = first = last = None
    while True:
        rest, since, until = period_at_end(text)
        if rest != text and first is None:
            text, first, last = rest, since, until
            continue
        named = _COUNCIL_AT_END.search(text)
        official = council_named_by(named.group("council")) if named else None
        if named and official and council is None:
            text, council = text[: named.start()], official
            continue
        return text, council, first, last


def mentions_scope(question: str) -> tuple[str | None, str | None, str | None]:
    """The council and the first and last year that end a mentions question's term ("Which
    reports mention family hubs in Kent since 2019?": Kent County Council, 2019, None)."""
    asked = _asked_term(question)
    return _scope_at_end(asked)[1:] if asked else (None, None, None)


def mention_quote(result: Mentions, mention: Mention) -> str:
    """The sentences of the passage that hold its first mention of the term: an exact excerpt of
    the passage's text (a mention split over two lines takes both)."""
    spans = result.spans(mention)
    if not spans:
        return mention.text
    start, end = spans[0]
    sentences = [(a, b) for a, b in split_sentences(mention.text) if a < end and start < b]
    if not sentences:
        return mention.text[start:end]
    return mention.text[sentences[0][0] : sentences[-1][1]]


def mentions_answer(result: Mentions, question: str) -> dict:
    """The mentions as a chat answer (the shape of Answer.to_dict), so that export and follow-ups
    treat it as any other answer: the totals, then one line per report with its count, citing
    the sentence of its first passage that mentions the term."""
    citations, lines = [], []
    for report in result.reports:
        first = report.passages[0]
        citations.append(
            {
                "ref": len(citations) + 1,
                "doc_id": report.doc_id,
                "title": report.title,
                "source": report.source,
                "page": first.page,
                "paragraph": first.paragraph,
                "date": report.date,
                "council": report.council,
                "text": mention_quote(result, first),
                "score": 1.0,
                "passage_rank": 0,
            }
        )
        place = ", ".join(p for p in (report.council, report.date) if p)
        passages = "passage" if report.count == 1 else "passages"
        lines.append(  # one line per report, whatever white space its title has
            " ".join(f"{report.title}".split())
            + (f" ({place})" if place else "")
            + f": {report.count} {passages} [{len(citations)}]"
        )
    if result.undated:
        lines.append(f"{result.undated} of them in reports without a meeting month.")
    text = "\n".join([summary(result) + "."] + lines) if lines else not_found_line(result) + "."
    return {
        "question": question,
        "rewritten_question": None,
        "note": None,
        "answer": text,
        "status": "answered" if result.reports else "not_found",
        "confidence": 1.0 if result.reports else 0.0,
        "citations": citations,
        "passages": [],
        "timings_ms": result.timings_ms,
    }


# --- showing it --------------------------------------------------------------------------------


def every_month(by_month: tuple[tuple[str, int], ...]) -> list[tuple[str, int]]:
    """The months from the first mention to the last, with 0 for those without: a chart of the
    months with mentions alone would draw a gap of years as one step."""
    if not by_month:
        return []
    counts = dict(by_month)
    year, month = map(int, by_month[0][0].split("-"))
    last = by_month[-1][0]
    months = []
    while True:
        key = f"{year:04d}-{month:02d}"
        months.append((key, counts.get(key, 0)))
        if key >= last:
            return months
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def printable(text: str) -> str:
    """`text` on one line for a terminal: white space collapsed, and every control or format
    character (escape sequences, bidi overrides) written as \\xNN or \\uNNNN."""
    text = " ".join(text.split())
    return "".join(
        (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
        if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")
        else c
        for c in text
    )


def excerpt(text: str, span: tuple[int, int], around: int = 60) -> tuple[str, str, str]:
    """(before, the mention, after): up to `around` characters of context either side, cut at
    word boundaries, with "…" where the passage goes on."""
    start, end = span
    before = text[max(0, start - around) : start]
    after = text[end : end + around]
    if start - around > 0:
        before = "…" + before.split(" ", 1)[-1] if " " in before else "…" + before
    if end + around < len(text):
        after = after.rsplit(" ", 1)[0] + "…" if " " in after else after + "…"
    return before, text[start:end], after


CSV_COLUMNS = ("report", "source", "date", "council", "page", "paragraph", "text")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """A text cell a spreadsheet will not run: one that starts like a formula gets a leading '."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


INDENTED_UP_TO = 1000
"""`mentions_json` indents a result of up to this many passages; a larger one is one line, which
Python writes twice as fast (its C encoder does not indent): 0.5 s for 173,587 passages."""


def mentions_json(result: Mentions) -> str:
    """The JSON `rag mentions --json` prints."""
    indent = 2 if result.total <= INDENTED_UP_TO else None
    with _cyclic_gc_paused():
        return json.dumps(result.to_dict(), indent=indent, ensure_ascii=False)


def mentions_csv(result: Mentions) -> str:
    """One row per passage: report, source, date, council, page, paragraph, text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for report in result.reports:
        for p in report.passages:
            writer.writerow(
                [_cell(report.title), _cell(report.source), report.date or "", _cell(report.council)]
                + [p.page if p.page is not None else "", _cell(p.paragraph), _cell(p.text)]
            )
    return out.getvalue()


def summary(result: Mentions) -> str:
    """'"family hub": 212 passages in 14 reports (also searched: ...)', as plain text."""
    also = f" (also searched: {', '.join(result.names[1:])})" if len(result.names) > 1 else ""
    reports = "report" if len(result.reports) == 1 else "reports"
    passages = "passage" if result.total == 1 else "passages"
    return f'"{result.term}": {result.total} {passages} in {len(result.reports)} {reports}{also}'


def where_in_report(mention: Mention) -> str:
    """ "p. 3, para 2.1", or "" where the passage has neither."""
    parts = (
        f"p. {mention.page}" if mention.page else "",
        f"para {mention.paragraph}" if mention.paragraph else "",
    )
    return ", ".join(p for p in parts if p)


def mentions_text(result: Mentions, per_report: int = 3) -> str:
    """For a terminal: the totals, the months, each report with its count and the first
    `per_report` excerpts, the mention in «». Everything from a document goes through printable."""
    if not result.reports:
        return not_found_line(result)
    lines = [printable(summary(result))]
    months = [f"{m} {c}" for m, c in result.by_month] + (
        [f"undated {result.undated}"] if result.undated else []
    )
    lines.append("By month: " + ", ".join(months))
    for report in result.reports:
        lines.append("")
        place = ", ".join(printable(p) for p in (report.council, report.date) if p)
        lines.append(f"{report.count:>5}  {printable(report.title)}" + (f" — {place}" if place else ""))
        lines.append(f"       {printable(report.source)}")
        for p in report.passages[:per_report]:
            where = ", ".join(
                w
                for w in (f"p. {p.page}" if p.page else "", f"para {p.paragraph}" if p.paragraph else "")
                if w
            )
            before, said, after = excerpt(p.text, result.spans(p)[0])
            text = printable(f"{before}«{said}»{after}")
            lines.append(f"       {where + ': ' if where else ''}{text}")
        if report.count > per_report:
            lines.append(f"       … and {report.count - per_report} more (--json or --csv lists every one)")
    return "\n".join(lines)


def not_found_line(result: Mentions) -> str:
    names = ", ".join(f'"{printable(n)}"' for n in result.names)
    return f"no passage mentions {names} in the reports searched"
