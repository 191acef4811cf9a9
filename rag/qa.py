"""A question's way to its answer, in one place: check the question and the filters, rewrite a
follow-up, search (once, and once per period a question compares), and hand the passages to the
extractive answerer or the language model. The CLI and the app both call `ask`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from rag.answer.extractive import (
    ADJACENT_OF,
    ANSWER_PASSAGES,
    answer_from_passages,
    asks_author,
    periods_compared,
)
from rag.answer.llm import llm_answer
from rag.answer.verify import verified
from rag.errors import SettingsError
from rag.followup import rewrite
from rag.index.store import Index
from rag.retrieval import (
    SearchResult,
    adjacent_passages,
    check_filters,
    check_k,
    check_question,
    search,
)
from rag.settings import Settings
from rag.types import Answer, Filters, Passage, Turn


def ask(
    index: Index,
    question: str,
    settings: Settings,
    k: int | None = None,
    filters: Filters | None = None,
    history: list[Turn] | None = None,
    on_text: Callable[[str], None] | None = None,
) -> Answer:
    """Retrieve passages for the question (rewritten first when it follows up the previous
    turn) and answer from them, with timings per stage. The answer's passages are the first k
    retrieved (k: settings.top_k when None) and any cited beyond them. Filters that exclude every
    report raise NoMatchError."""
    started = time.perf_counter()
    question = check_question(question, settings)
    k = check_k(k, settings)
    check_filters(index, filters)
    found = gather(index, question, settings, k, filters, history)
    result = found.result
    if settings.answer_mode == "llm":
        answer = llm_answer(
            found.question,
            result.passages,
            settings,
            on_text=on_text,
            adjacent=found.adjacent,
            by_period=found.by_period,
        )
    elif settings.answer_mode == "extractive":
        answer = answer_from_passages(
            found.question, result.passages, settings, found.adjacent, found.by_period
        )
        answer = verified(answer, settings)
    else:
        raise SettingsError(f"answer_mode must be extractive or llm, not {settings.answer_mode!r}")
    timings = {**result.timings_ms, **answer.timings_ms}
    timings["total"] = round((time.perf_counter() - started) * 1000, 1)
    cited = {c.passage_rank for c in answer.citations}
    return replace(
        answer,
        passages=[p for p in answer.passages if p.rank <= k or p.rank in cited],
        question=question,
        timings_ms=timings,
        rewritten_question=found.question if found.rewritten else None,
    )


@dataclass(frozen=True)
class Gathered:
    """What the answer stage reads: the question as searched, its passages, the passages around
    the first ones, and each compared period's own question and passages."""

    question: str
    rewritten: bool
    result: SearchResult
    adjacent: list[Passage]
    by_period: dict[str, tuple[str, list[Passage]]]


def gather(
    index: Index,
    question: str,
    settings: Settings,
    k: int,
    filters: Filters | None = None,
    history: list[Turn] | None = None,
) -> Gathered:
    """The retrieval half of `ask`: rewrite a follow-up, search, read the adjacent passages and
    search each period the question compares. Deterministic for a given index."""
    follow = rewrite(question, history or [])
    if follow.filters and not filters:
        filters = follow.filters
    result = search(index, follow.question, settings, k=max(k, ANSWER_PASSAGES), filters=filters)
    adjacent = adjacent_passages(index, result.passages, ADJACENT_OF, openings=asks_author(follow.question))
    by_period: dict[str, tuple[str, list[Passage]]] = {}
    if not (
        filters and (filters.since or filters.until)
    ):  # "between January 2025 and March 2025": each in its month
        periods_started = time.perf_counter()
        for period, asked in periods_compared(follow.question):
            within = replace(filters or Filters(), since=period, until=period)
            by_period[period] = (
                asked,
                search(index, asked, settings, k=ANSWER_PASSAGES, filters=within).passages,
            )
        if by_period:
            result.timings_ms["periods"] = round((time.perf_counter() - periods_started) * 1000, 1)
    return Gathered(follow.question, follow.rewritten, result, adjacent, by_period)


def turn_of(answer: Answer) -> Turn:
    """What a later follow-up needs to know of this answer."""
    return Turn(
        answer.rewritten_question or answer.question, tuple(dict.fromkeys(c.source for c in answer.citations))
    )
