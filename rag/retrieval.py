"""Retrieval: the passages of the index nearest to a question, with all their metadata."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TypeVar

from rag.chunking import spoken_date
from rag.dates import parse_dates
from rag.errors import NoMatchError, QuestionError, SettingsError
from rag.glossary import expand_question
from rag.index.store import Index
from rag.models.embeddings import get_embedder
from rag.models.rerank import rerank_scores
from rag.settings import Settings
from rag.text import query_terms, words_of
from rag.types import Filters, Passage, paragraph_label

KEYWORD_THREADS = 8
"""Keyword searches at once (one per concurrent question; more wait their turn)."""
T = TypeVar("T")


def check_filters(index: Index, filters: Filters | None) -> None:
    """Raise NoMatchError, saying so, when the filters exclude every report of the index."""
    if not filters or any(filters.accepts(row) for row in index.documents()):
        return
    raise NoMatchError(
        f"No report matches {filters.describe()}: widen or remove the filters (rag info lists "
        "the councils and dates the index holds)"
    )


def check_k(k: int | None, settings: Settings) -> int:
    """The number of passages asked for: k, or the top_k setting; at least 1."""
    k = settings.top_k if k is None else k
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise SettingsError(f"the number of passages (k, or the top_k setting) must be 1 or more, not {k!r}")
    return k


@dataclass
class SearchResult:
    passages: list[Passage]
    timings_ms: dict[str, float] = field(default_factory=dict)


def check_question(question: str, settings: Settings) -> str:
    question = " ".join(question.split())
    if not question:
        raise QuestionError(
            'the question is empty: ask something, e.g. rag ask "How many children are looked after?"'
        )
    if len(question) > settings.max_question_chars:
        raise QuestionError(
            f"the question is {len(question)} characters long; the limit is "
            f"{settings.max_question_chars} (max_question_chars): ask a shorter question"
        )
    return question


RRF_K = 60
FUSION_DEPTH = 50
"""How deep the dense and keyword rankings are read for fusion (deeper when more than half as
many passages are asked for). It does not grow with every k: reciprocal-rank fusion of deeper
lists orders the first passages differently, and `rag search -k 20` should begin as `-k 5` does."""
NEAR_DUPLICATE = 0.8
"""Two passages whose sets of words overlap this much (Jaccard) are one text: the same report
read from two packs differs only in a header, a hyphen or a page break."""


def search(
    index: Index, question: str, settings: Settings, k: int | None = None, filters: Filters | None = None
) -> SearchResult:
    """The k best passages for the question, best first: dense and keyword rankings fused by
    reciprocal rank (settings.retrieval chooses "hybrid", "dense" or "keyword")."""
    k = check_k(k, settings)
    filters = filters or Filters()
    mode = settings.retrieval
    if mode not in ("hybrid", "dense", "keyword"):
        raise SettingsError(f"retrieval must be hybrid, dense or keyword, not {mode!r}")
    depth = max(FUSION_DEPTH, k * 2, settings.rerank_depth * 2)
    timings: dict[str, float] = {}
    doc_ids, rows_allowed = None, None
    if filters:  # search only the passages of the documents the filters accept
        started = time.perf_counter()
        doc_ids = [d["doc_id"] for d in index.documents() if filters.accepts(d)]
        rows_allowed = index.rows_of(doc_ids)
        timings["filter"] = _ms(started)
        if not len(rows_allowed):
            return SearchResult([], timings)
    searching = time.perf_counter()
    dense, keyword = _rankings(index, question, settings, depth, doc_ids, rows_allowed, timings)
    started = time.perf_counter()
    wanted = max(k, settings.rerank_depth) if settings.rerank else k
    candidates = _fused(index, dense, keyword, wanted, filters)
    timings["fuse"] = _ms(started)
    timings["retrieve"] = _ms(searching)  # embed, dense and keyword side by side, then fuse

    if settings.rerank and candidates:
        started = time.perf_counter()
        best = candidates[: settings.rerank_depth]
        read = best + _of_the_month(index, question, settings, filters, {p.chunk_id for p in best})
        read_ids = {p.chunk_id for p in read}
        head = rerank(question, read, settings.rerank_keep, settings.top_k)
        rest = [p for p in candidates[settings.rerank_depth :] if p.chunk_id not in read_ids]
        tail = [replace(p, rank=len(head) + i + 1) for i, p in enumerate(rest)]
        candidates = head + tail
        timings["rerank"] = _ms(started)
    return SearchResult(candidates[:k], timings)


def month_named(question: str) -> str | None:
    """The one month a question names with its year and no day ("at the annual meeting of June
    2019": "2019-06"), or None."""
    dates = {iso for _, _, iso in parse_dates(question)}
    return next(iter(dates)) if len(dates) == 1 and len(next(iter(dates))) == 7 else None


def _of_the_month(
    index: Index, question: str, settings: Settings, filters: Filters, have: set[str]
) -> list[Passage]:
    """For a question that names a month (and no dates of its own in the filters), the best
    passages of that month's reports not among `have` (the chunk ids the whole index's ranking
    brought up): read by the cross-encoder beside the others. Minutes answer "who was elected Mayor at the annual meeting
    of June 2019" in a line ("declared Councillor Sheahan (M) elected as Mayor") that names neither
    the year nor the meeting; the report's date does. Their fused, dense and keyword scores are
    those of the month's own search (`rag search --explain` shows them as such)."""
    month = month_named(question)
    if not month or filters.since or filters.until:
        return []
    within = replace(filters, since=month, until=month)
    found = search(index, question, settings.replace(rerank=False), k=settings.rerank_depth, filters=within)
    return [p for p in found.passages if p.chunk_id not in have]


Ranking = list[tuple[int, float]]
"""(row, score) pairs, best first."""


def _rankings(
    index: Index,
    question: str,
    settings: Settings,
    depth: int,
    doc_ids: list[str] | None,
    rows_allowed,
    timings: dict[str, float],
) -> tuple[Ranking, Ranking]:
    """The dense and keyword rankings (either empty when settings.retrieval leaves it out)."""
    dense: Ranking = []
    keyword: Ranking = []
    keyword_job = None
    if settings.retrieval != "dense":  # in its own thread: SQLite, the embedder and FAISS let go of the GIL
        terms = query_terms(expand_question(question))
        keyword_job = _keyword_pool().submit(
            _timed, index.keyword_search, terms, depth, doc_ids, settings.keyword_max_postings
        )
    if settings.retrieval != "keyword":
        started = time.perf_counter()
        embedder = get_embedder(settings.embedding_model, settings.embed_batch_size)
        vector = embedder.embed_queries([question])[0]
        timings["embed"] = _ms(started)
        started = time.perf_counter()
        dense = index.dense_search(vector, depth, rows_allowed)
        timings["dense"] = _ms(started)
    if keyword_job is not None:
        keyword, timings["keyword"] = keyword_job.result()
    return dense, keyword


def _fused(index: Index, dense: Ranking, keyword: Ranking, wanted: int, filters: Filters) -> list[Passage]:
    """The `wanted` best passages by reciprocal-rank fusion of the two rankings, each text once."""
    fused: dict[int, float] = {}
    for ranking in (dense, keyword):
        for position, (row, _) in enumerate(ranking):
            fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + position + 1)
    best_possible = sum(1.0 / (RRF_K + 1) for ranking in (dense, keyword) if ranking) or 1.0
    dense_scores, keyword_scores = dict(dense), dict(keyword)
    order = sorted(fused, key=lambda row: -fused[row])
    rows = index.chunk_rows(order[: wanted * 3])
    candidates: list[Passage] = []
    seen: list[frozenset[str]] = []
    for row in order:
        chunk = rows.get(row)
        if chunk is None:
            break
        held = frozenset(words_of(chunk["text"]))
        if not filters.accepts(chunk) or any(_same_text(held, other) for other in seen):
            continue  # the same text attached to two reports is shown once
        seen.append(held)
        fused_score = fused[row] / best_possible
        candidates.append(
            _passage(chunk, len(candidates) + 1, fused_score, dense_scores.get(row), keyword_scores.get(row))
        )
        if len(candidates) == wanted:
            break
    return candidates


def adjacent_passages(
    index: Index, passages: list[Passage], around: int, openings: bool = False
) -> list[Passage]:
    """The passages right before and after the first `around` passages in their reports, not
    already among `passages`: a sentence that answers often continues the passage that matched
    ("New smoke-free spaces were due to launch ..." / "The project was funded by a £1.9 million
    grant"). With `openings`, also the first passage of each report of `passages`, where a
    report says who it is from. Each keeps the score of the passage it comes with and is
    numbered after `passages`."""
    seen = {p.chunk_id for p in passages}
    found: list[Passage] = []

    def add_row(row, passage: Passage) -> None:
        if row["chunk_id"] not in seen:
            seen.add(row["chunk_id"])
            rank = len(passages) + len(found) + 1
            found.append(replace(_passage(row, rank, passage.score, None, None), fused_score=None))

    for passage in passages[:around]:
        for row in index.chunk_rows(index.adjacent_rows(passage.chunk_id)).values():
            add_row(row, passage)
    if openings:  # one query for every report's opening, each kept with its report's first passage
        first = {}
        for passage in passages:
            first.setdefault(passage.doc_id, passage)
        rows = index.chunk_rows(index.opening_rows(list(first)))
        order = list(first)
        for row in sorted(rows.values(), key=lambda r: order.index(r["doc_id"])):
            add_row(row, first[row["doc_id"]])
    return found


@lru_cache(maxsize=1)
def _keyword_pool() -> ThreadPoolExecutor:
    """Threads for keyword searches, run while the question is embedded and searched densely."""
    return ThreadPoolExecutor(max_workers=KEYWORD_THREADS, thread_name_prefix="keyword")


def _timed(function: Callable[..., T], *args) -> tuple[T, float]:
    started = time.perf_counter()
    return function(*args), _ms(started)


def _same_text(a: frozenset[str], b: frozenset[str]) -> bool:
    if NEAR_DUPLICATE * max(len(a), len(b)) > min(len(a), len(b)):
        return False  # too different in length to overlap that much: no need to compare
    return len(a & b) >= NEAR_DUPLICATE * len(a | b)


def rerank(question: str, passages: list[Passage], keep: int = 0, shown: int = 5) -> list[Passage]:
    """Passages reordered by the cross-encoder, which reads each with its context line. The
    first `keep` passages as they arrive (in fused order) stay among the first `shown`: those
    are the `keep` and the cross-encoder's best others, in the cross-encoder's order."""
    texts = [
        f"{p.council or ''} {p.title} {spoken_date(p.date) or ''} {p.heading or ''}\n{p.text}"
        for p in passages
    ]
    logits = rerank_scores(question, texts)
    by_reranker = sorted(range(len(passages)), key=lambda i: -logits[i])
    first = set(range(min(keep, shown)))
    for i in by_reranker:
        if len(first) >= shown:
            break
        first.add(i)
    order = [i for i in by_reranker if i in first] + [i for i in by_reranker if i not in first]
    return [
        replace(
            passages[i],
            rank=rank,
            score=round(float(1 / (1 + math.exp(-logits[i]))), 4),
            rerank_score=round(float(logits[i]), 3),
        )
        for rank, i in enumerate(order, start=1)
    ]


def _passage(chunk, rank: int, score: float, dense: float | None, keyword: float | None) -> Passage:
    return Passage(
        rank=rank,
        chunk_id=chunk["chunk_id"],
        doc_id=chunk["doc_id"],
        title=chunk["title"],
        source=chunk["source"],
        council=chunk["council"],
        date=chunk["date"],
        page=chunk["page"],
        paragraph=paragraph_label(json.loads(chunk["paragraphs"])),
        heading=chunk["heading"],
        text=chunk["text"],
        score=round(score, 4),
        fused_score=round(score, 4),
        dense_score=None if dense is None else round(dense, 4),
        keyword_score=None if keyword is None else round(keyword, 4),
        meeting=chunk["meeting"],
        author=chunk["author"],
    )


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
