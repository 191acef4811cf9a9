"""The chat's side of trends: which questions ask how a measure changed, and the trend as an answer."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from rag.dates import YEAR
from rag.glossary import glossary
from rag.read.metadata import council_names, find_council_names
from rag.text import phrases_pattern
from rag.trends.cues import cues
from rag.trends.measures import name_pattern
from rag.trends.trend import Trend


@dataclass(frozen=True)
class TrendQuestion:
    measure: str
    since: str | None = None
    council: str | None = None
    """The one council the question names ("... in Stockton since 2017"), by its official name."""


def trend_question(question: str) -> TrendQuestion | None:
    """A question about change over time ("How has the number of children looked after changed?",
    "children in care since 2017", "child protection plans over time"), as the measure it asks
    about, the year it starts from and the one council it names; None for any other question. The
    cue phrases are in trend_cues.toml."""
    cue = cues()["question"]
    text = " ".join(question.split())
    phrases = rf"(?i)(?<![\w-])(?:{phrases_pattern(cue['phrases'])})(?![\w-])"
    years = rf"(?i)(?<![\w-])(?:{phrases_pattern(cue['before_a_year'])})\s+(?:\w+\s+)?{YEAR}\b"
    if not re.search(phrases, text) and not re.search(years, text):
        return None
    since = re.search(rf"(?i)\bsince\s+(?:\w+\s+)?({YEAR})\b", text)
    since = since.group(1) if since else None
    councils = find_council_names(text)
    council = councils[0] if len(councils) == 1 else None
    for term in glossary():
        for name in sorted(term.names, key=len, reverse=True):
            if re.search(rf"(?<![\w-]){name_pattern(name)}s?(?![\w-])", text):
                return TrendQuestion(name, since, council)
    names = council_names()[1]
    words = names.sub(" ", text) if council else text  # "potholes in Kent": the measure is potholes
    words = re.sub(rf"(?i)\b{YEAR}\b|[^\w\s'-]", " ", words)
    filler = re.compile(rf"(?i)(?<![\w-])(?:{phrases_pattern(cue['filler'])})(?![\w-])")
    measure = " ".join(filler.sub(" ", words).split())
    measure = re.sub(r"(?i)\s+(?:in|for|by|of)$", "", measure)
    return TrendQuestion(measure, since, council) if len(measure) >= 3 else None


def trend_answer(result: Trend, question: str) -> dict:
    """The trend as a chat answer (the shape of Answer.to_dict), so that export and follow-ups
    treat it as any other answer: one sentence per council, each point cited."""
    citations, parts = [], []
    for council in dict.fromkeys(p.council for p in result.points):
        stated = []
        for point in (p for p in result.points if p.council == council):
            citations.append(
                {
                    "ref": len(citations) + 1,
                    **asdict(point.citation),
                    "council": council,
                    "score": 1.0,
                    "passage_rank": 0,
                }
            )
            unit = "" if point.unit in ("count", "%", "£") else f" ({point.unit})"
            stated.append(f"{point.value_text}{unit} in {point.period} [{len(citations)}]")
        parts.append(f"{council or 'Unknown council'}: " + ", ".join(stated) + ".")
    text = (
        f"{result.measure}, as the reports state it over time. " + " ".join(parts)
        if parts
        else (result.message or "The indexed reports state no value of this measure.")
    )
    return {
        "question": question,
        "rewritten_question": None,
        "note": None,
        "answer": text,
        "status": "answered" if result.points else "not_found",  # an answer's status, not the trend's
        "confidence": 1.0 if result.points else 0.0,
        "citations": citations,
        "passages": [],
        "timings_ms": result.timings_ms,
        # sentences that name it with a figure the reader did not take, then those a search for it
        # finds: shown and exported as an answer's next best sentences are
        **({"candidates": result.candidates()} if result.offered or result.searched else {}),
    }
