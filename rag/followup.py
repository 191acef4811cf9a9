"""Follow-up questions: "And in 2019?", "What about Stockton?", "Who wrote it?" are rewritten
with the previous turn's subject, council and dates into questions that stand alone."""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass

from rag.dates import YEAR, parse_dates
from rag.read.metadata import council_names
from rag.text import STOPWORDS
from rag.types import Filters, Turn

_CONNECTOR = re.compile(
    r"(?i)^\s*(and|but|also|what about|how about|what of|same for|and what about|and how about)\b[\s,]*"
)
_POINTER = re.compile(
    r"(?i)\b(it|its|they|them|their|that|this|those|these|the report|that report|this report|he|she)\b"
)
_YEAR = re.compile(rf"\b{YEAR}(?:[/-]\d\d)?\b")


@dataclass(frozen=True)
class Rewrite:
    question: str
    """The question to search with: the original, or the rewritten follow-up."""
    rewritten: bool
    filters: Filters | None = None
    """Set when the follow-up points at the previous answer's report ("Who wrote it?")."""


def turn_from_json(item: dict) -> Turn:
    """A Turn from an answer as `rag ask --json` prints it (or any object with a question and
    citations or sources)."""
    question = item.get("rewritten_question") or item["question"]
    sources = item.get("sources") or [c["source"] for c in item.get("citations") or [] if "source" in c]
    return Turn(question, tuple(dict.fromkeys(sources)))


def _dates(text: str) -> list[tuple[int, int]]:
    """Spans of the dates and years written in `text`."""
    spans = [(start, end) for start, end, _ in parse_dates(text)]
    for match in _YEAR.finditer(text):
        if not any(a <= match.start() < b for a, b in spans):
            spans.append(match.span())
    return sorted(spans)


def _councils(text: str) -> list[tuple[int, int]]:
    _, pattern = council_names()
    return [m.span() for m in pattern.finditer(text)]


def _replace(text: str, spans: list[tuple[int, int]], value: str) -> str:
    """Replace the first span with `value` and drop the others."""
    for position, (start, end) in enumerate(reversed(spans)):
        text = text[:start] + (value if position == len(spans) - 1 else "") + text[end:]
    return re.sub(r"\s{2,}", " ", text).replace(" ,", ",").strip()


def _topic_words(text: str, slots: list[tuple[int, int]]) -> list[str]:
    kept = "".join(c if not any(a <= i < b for a, b in slots) else " " for i, c in enumerate(text))
    words = re.findall(r"[a-z]+", _CONNECTOR.sub("", kept).lower())
    return [
        w
        for w in words
        if w not in STOPWORDS and not _POINTER.fullmatch(w) and w not in {"about", "in", "for"}
    ]


def rewrite(question: str, history: list[Turn]) -> Rewrite:
    """The follow-up rewritten to stand alone, or the question unchanged when it already does."""
    question = " ".join(question.split())
    if not history:
        return Rewrite(question, False)
    previous = history[-1].question
    dates, councils = _dates(question), _councils(question)
    topic = _topic_words(question, dates + councils)
    connector = bool(_CONNECTOR.match(question))
    pointer = bool(_POINTER.search(question)) and len(question.split()) <= 10

    if not topic and (dates or councils):  # "And in 2019?", "What about Stockton?"
        result = previous.rstrip("?")
        if dates:
            old = _dates(result)
            value = question[dates[0][0] : dates[0][1]]
            result = _replace(result, old, value) if old else f"{result} in {value}"
        if councils:
            old = _councils(result)
            value = question[councils[0][0] : councils[0][1]]
            result = _replace(result, old, value) if old else f"{result} in {value}"
        return Rewrite(result + "?", True)

    if pointer and history[-1].sources:  # "Who wrote it?": ask the report the last answer cited
        carried = _carry_slots(question, previous)
        source = history[-1].sources[0]
        return Rewrite(carried, carried != question, Filters(source=glob.escape(source)))

    if connector:  # "And the number in need?": the new topic with the old council and dates
        return Rewrite(_carry_slots(_CONNECTOR.sub("", question), previous), True)
    return Rewrite(question, False)


def _carry_slots(question: str, previous: str) -> str:
    """The question with the previous question's council and dates added where it has none."""
    extra = []
    if not _councils(question):
        extra += [previous[a:b] for a, b in _councils(previous)[:1]]
    if not _dates(question):
        extra += [previous[a:b] for a, b in _dates(previous)[:1]]
    body = question.rstrip("?").strip()
    body = body[:1].upper() + body[1:]
    return f"{body} ({', '.join(extra)})?" if extra else f"{body}?"
