"""The records every stage shares: a Document read from a file, its Chunks, a retrieved Passage,
the Filters that narrow a search, an Answer with its Citations, and the Turn a follow-up looks
back at. Plain frozen dataclasses; the stages that make them live in their own modules."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

from rag.dates import date_range
from rag.errors import SettingsError


@dataclass(frozen=True)
class Citation:
    ref: int
    doc_id: str
    title: str
    source: str
    page: int | None
    paragraph: str | None
    date: str | None
    council: str | None
    text: str
    score: float
    passage_rank: int
    meeting: str | None = None
    author: str | None = None


@dataclass(frozen=True)
class Quote:
    """A sentence quoted from a report, with where it is: a trend point's source."""

    doc_id: str
    title: str
    source: str
    page: int | None
    paragraph: str | None
    date: str | None
    text: str


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    status: str
    """"answered" or "not_found"."""
    citations: list[Citation]
    passages: list[Passage]
    confidence: float
    timings_ms: dict[str, float] = field(default_factory=dict)
    rewritten_question: str | None = None
    """The stand-alone question searched for a follow-up ("And in 2019?"); None otherwise."""
    note: str | None = None
    """Something the reader should know about how the answer was made."""
    candidates: list[Suggestion] = field(default_factory=list)
    """For a refusal: the best sentences, which may answer it; for an extractive answer: the next
    best sentences after its own, which may answer it instead."""

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "rewritten_question": self.rewritten_question,
            "note": self.note,
            "answer": self.answer,
            "status": self.status,
            "confidence": self.confidence,
            "citations": [asdict(c) for c in self.citations],
            "passages": [p.to_dict() for p in self.passages],
            "timings_ms": self.timings_ms,
            **({"candidates": [asdict(c) for c in self.candidates]} if self.candidates else {}),
        }


@dataclass(frozen=True)
class Suggestion:
    """A sentence that may answer a refused question, with its probability and citation."""

    text: str
    score: float
    citation: Citation


@dataclass(frozen=True)
class Passage:
    rank: int
    chunk_id: str
    doc_id: str
    title: str
    source: str
    council: str | None
    date: str | None
    page: int | None
    paragraph: str | None
    heading: str | None
    text: str
    score: float
    """The final score: the reranker's relevance as a probability when reranking is on, else
    the fused rank score (1.0 for a passage ranked first by every retriever)."""
    fused_score: float | None = None
    """Reciprocal-rank fusion of the dense and keyword ranks, scaled so that 1.0 is the best possible."""
    rerank_score: float | None = None
    """Cross-encoder logit (None when reranking is off)."""
    dense_score: float | None = None
    """Cosine similarity to the question (None when outside the dense top list)."""
    keyword_score: float | None = None
    """BM25 score of the question's words (None when outside the keyword top list)."""
    meeting: str | None = None
    """The committee or meeting the report went to, where it says."""
    author: str | None = None
    """Who the report is from, or who decides, where it says."""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Filters:
    """Restrict a search: council (part of the name), source (a glob), since / until
    (ISO dates, inclusive), title (part of the title)."""

    council: str | None = None
    source: str | None = None
    since: str | None = None
    until: str | None = None
    title: str | None = None

    @classmethod
    def parse(cls, pairs: list[str] | None) -> Filters:
        values: dict[str, str] = {}
        for pair in pairs or []:
            key, sep, value = pair.partition("=")
            if not sep or key.strip() not in FILTER_KEYS:
                raise SettingsError(
                    f"bad filter {pair!r}: use KEY=VALUE with KEY one of {', '.join(FILTER_KEYS)}"
                )
            if not value.strip():
                raise SettingsError(
                    f"filter {key.strip()} is empty: give a value ({pair}VALUE) or leave it out"
                )
            values[key.strip()] = value.strip()
        return cls(**values)

    def __post_init__(self) -> None:
        """Dates are real calendar dates (YYYY, YYYY-MM or YYYY-MM-DD) and since is not after until."""
        first = date_range("since", self.since)[0] if self.since is not None else None
        last = date_range("until", self.until)[1] if self.until is not None else None
        if first and last and first > last:
            raise SettingsError(
                f"since {self.since} is after until {self.until}: no meeting is in both; swap them"
            )

    def describe(self) -> str:
        """The filters in one line, e.g. "council = Stockton, 2020 to 2021"."""
        parts = [
            f"{key} = {getattr(self, key)}" for key in ("council", "title", "source") if getattr(self, key)
        ]
        if self.since and self.until:
            parts.append(self.since if self.since == self.until else f"{self.since} to {self.until}")
        elif self.since:
            parts.append(f"from {self.since}")
        elif self.until:
            parts.append(f"until {self.until}")
        return ", ".join(parts)

    def __bool__(self) -> bool:
        return any(asdict(self).values())

    def narrowed(self, since: str | None, until: str | None, council: str | None = None) -> Filters:
        """These filters within `since` and `until` as well (a question's years within the
        sidebar's dates): the later start and the earlier end, never wider; and `council` when
        no council is chosen yet (one chosen in the sidebar stays)."""
        starts = [d for d in (self.since, since) if d]
        ends = [d for d in (self.until, until) if d]
        return replace(
            self,
            since=max(starts, key=lambda d: date_range("since", d)[0]) if starts else None,
            until=min(ends, key=lambda d: date_range("until", d)[1]) if ends else None,
            council=self.council or council,
        )

    def accepts(self, row) -> bool:
        if self.council and self.council.lower() not in (row["council"] or "").lower():
            return False
        if self.title and self.title.lower() not in row["title"].lower():
            return False
        if self.source and not fnmatch.fnmatch(row["source"], self.source):
            return False
        date = row["date"] or ""
        if self.since and (not date or date < self.since[: len(date)]):
            return False
        return not (self.until and (not date or date[: len(self.until)] > self.until))


FILTER_KEYS = ("council", "source", "since", "until", "title")


@dataclass(frozen=True)
class Document:
    id: str
    source: str
    title: str
    council: str | None
    date: str | None
    text: str
    page_starts: tuple[int, ...] = ()
    """Character offset in `text` where each PDF page begins (page n starts at page_starts[n-1])."""
    meeting: str | None = None
    """The committee or meeting the report went to ("Cabinet"), where it says."""
    author: str | None = None
    """Who the report is from or who takes the decision, where it says."""
    ocr_pages: int = 0
    """PDF pages read by OCR."""
    unread_pages: int = 0
    """Scanned PDF pages left out because no OCR was available."""

    def page_at(self, offset: int) -> int | None:
        """1-based page holding the character at `offset`, or None for sources without pages."""
        if not self.page_starts:
            return None
        page = 0
        for page, start in enumerate(self.page_starts, start=1):
            if start > offset:
                return page - 1
        return page


@dataclass(frozen=True)
class Chunk:
    id: str
    doc_id: str
    text: str
    start: int
    end: int
    """`text == document.text[start:end]`."""
    heading: str | None
    page: int | None
    page_end: int | None
    paragraphs: tuple[str, ...]
    tokens: int

    @property
    def paragraph(self) -> str | None:
        return paragraph_label(self.paragraphs)


def paragraph_label(paragraphs: Sequence[str]) -> str | None:
    """The citation form: "21", or "21-23" when a chunk spans several numbered paragraphs."""
    if not paragraphs:
        return None
    return paragraphs[0] if len(paragraphs) == 1 else f"{paragraphs[0]}-{paragraphs[-1]}"


@dataclass(frozen=True)
class Turn:
    """A previous question (as it was searched) and the sources its answer cited."""

    question: str
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class Intent:
    """What a question asks for, read once (rag/question.py) and used by every step of the
    answer stage: whether it may answer, and how each candidate sentence scores."""

    question: str
    answer_type: str
    """count, money, percent, rate, date, person, place, decision, author or description."""
    cues: frozenset[str] = frozenset()
    """Every cue of rag/data/question_cues.toml the question matches ("count", "duration", ...)."""
    measure: str | None = None
    """What is counted or measured ("foster carers"), or the glossary term it names."""
    counted: tuple[str, ...] = ()
    """The stemmed words naming what a "how many" question counts."""
    council: str | None = None
    """The council the question names (its official name), if any."""
    periods: tuple[str, ...] = ()
    """The years and months it names (YYYY or YYYY-MM), in order."""
    asks_author: bool = False

    def wants(self, cue: str) -> bool:
        return cue in self.cues
