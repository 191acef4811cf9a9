"""Question analysis, once per question: what kind of answer it wants, what it measures, the
council and the period it names, whether it asks who wrote a report. The cues are data, in
rag/data/question_cues.toml; the answer stage reads the `Intent` and nothing else of the
question's wording."""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache

from rag.data import data_file
from rag.dates import YEAR, parse_dates
from rag.glossary import terms_named
from rag.read.metadata import find_council_names
from rag.text import STOPWORDS, stem
from rag.types import Intent

_YEAR = re.compile(rf"\b{YEAR}\b")


@lru_cache(maxsize=1)
def cue_table() -> dict:
    """The cue table, its patterns compiled."""
    data = tomllib.loads(data_file("question_cues.toml").read_text(encoding="utf-8"))
    data["patterns"] = {
        name: tuple(re.compile(p, re.IGNORECASE) for p in patterns) for name, patterns in data["cue"].items()
    }
    return data


@lru_cache(maxsize=256)
def analyse(question: str) -> Intent:
    """The question's `Intent`, from the cue table."""
    table = cue_table()
    cues = frozenset(
        name for name, patterns in table["patterns"].items() if any(p.search(question) for p in patterns)
    )
    types = table["answer_type"]
    unless = types.get("unless", {})
    answer_type = next(
        (
            kind
            for kind in types["order"]
            if kind != "description"
            and any(c in cues for c in types.get(kind, ()))
            and not any(c in cues for c in unless.get(kind, ()))
        ),
        "description",
    )
    counted = _counted(question) if "count" in cues else ()
    terms = terms_named(question)
    measure = terms[0] if terms else (" ".join(counted) or None)
    councils = find_council_names(question)
    periods = [iso[:7] for _, _, iso in parse_dates(question)]
    periods += _YEAR.findall(question)
    return Intent(
        question=question,
        answer_type=answer_type,
        cues=cues,
        measure=measure,
        counted=counted,
        council=councils[0] if councils else None,
        periods=tuple(dict.fromkeys(periods)),
        asks_author="author" in cues,
    )


def _counted(question: str) -> tuple[str, ...]:
    """What a "how many" question counts: the words after "how many", up to the verb, less
    words that name nothing in particular, stemmed."""
    table = cue_table()["counted"]
    stop, generic = set(table["stop"]), set(table["generic"])
    parts = re.split(r"(?i)\bhow many\b", question, maxsplit=1)
    counted = []
    for word in re.findall(r"[a-z0-9']+", parts[1].lower() if len(parts) > 1 else ""):
        if word in STOPWORDS or word in stop:
            break
        if word not in generic:
            counted.append(stem(word))
    return tuple(counted)
