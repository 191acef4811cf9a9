"""Sentences offered beside a trend: those that name the measure's words and hold a figure, which
the reader did not take as points. The reader keeps to a measure's names as the glossary or the
user gives them, and to values it can date; a report that puts the name's words apart ("15 FTE
Social Worker vacancies" for social worker vacancies), dates a value in a way the reader does not
parse ("12 months ago"), or gives it on the line after the name (a dashboard's "Latest: 33,550"),
is in one of these sentences instead: the reader of the trend sees them, each cited, and judges.

Where the reports call the measure something else altogether ("mandated universal health and
wellbeing reviews" for health visitor checks), no sentence holds the name's words: the sentences
with a figure of the passages an ordinary search for the name finds (dense and keyword, fused) are
offered as well, after those, best first by the cross-encoder's reading of each (`searched`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from rag.dates import YEAR, periods
from rag.index.store import Index
from rag.models.rerank import rerank_scores
from rag.retrieval import search
from rag.settings import Settings
from rag.text import AMOUNT, split_sentences, words_of
from rag.trends.measures import Measure, content_words, singular_key
from rag.types import Filters, Passage

OFFERED = 10
"""How many sentences a trend offers at most."""
PASSAGES_READ = 300
"""How many passages (those the keyword index ranks best for the measure's words) are read for them."""
LONGEST = 400
"""The longest excerpt offered, in characters: a longer sentence (a table read as one) is cut
around the measure's words."""

_WORD = re.compile(r"[\w'’]+")
"""A word of a sentence, each part of a hyphenated one too ("self-harm": self, harm)."""

SEARCHED = 10
"""How many sentences found by a search for the measure a trend offers at most."""
SEARCH_PASSAGES = 10
"""How many passages of that search are read for them."""

PAIRED = 1000
"""Added to the words a pair of sentences spans: a pair ranks after every single sentence."""


def _same_word(word: str, wanted: str) -> bool:
    """The same word, or one a longer form of the other ("overspend", "overspending")."""
    return word == wanted or (
        min(len(word), len(wanted)) >= 5 and (word.startswith(wanted) or wanted.startswith(word))
    )


def name_keys(measure: Measure) -> list[str]:
    """The words of the measure's name as asked that say what it counts, compared as `singular_key` does."""
    return list(dict.fromkeys(singular_key(w) for w in content_words(measure.asked)))


def fts_query(measure: Measure) -> str | None:
    """Every word of the asked name that says what it counts, in any order (the keyword index's
    stemmer takes "carers" for "carer")."""
    wanted = name_keys(measure)
    words = [w for w in re.findall(r"\w+", measure.asked) if singular_key(w) in wanted]
    return " AND ".join(f'"{w}"' for w in dict.fromkeys(words)) or None


def _figures(sentence: str) -> list[tuple[int, int]]:
    """Where the sentence writes a number that is no date or year."""
    dated = [(a, b) for a, b, _ in periods(sentence)]
    spans = []
    for match in AMOUNT.finditer(sentence):
        start, end = match.span()
        if not any(a <= start < b for a, b in dated) and not re.fullmatch(YEAR, match.group(0).strip()):
            spans.append((start, end))
    return spans


def closeness(sentence: str, wanted: list[str]) -> tuple[int, int] | None:
    """How closely a sentence ties the name's words to a figure: the fewest words a stretch holding
    every one of them spans, and the characters from that stretch to the nearest figure; None when
    the sentence lacks a word or a figure."""
    figures = _figures(sentence)
    if not figures or not wanted:
        return None
    words = [(m.start(), m.end(), singular_key(m.group(0))) for m in _WORD.finditer(sentence)]
    best: tuple[int, int, int] | None = None  # (words spanned, start, end)
    for first in range(len(words)):
        if not any(_same_word(words[first][2], w) for w in wanted):
            continue
        missing = set(wanted)
        for last in range(first, min(len(words), first + 40)):
            missing -= {w for w in missing if _same_word(words[last][2], w)}
            if not missing:
                span = (last - first + 1, words[first][0], words[last][1])
                best = span if best is None or span[0] < best[0] else best
                break
    if best is None:
        return None
    _, start, end = best
    distance = min(max(0, start - b, a - end) for a, b in figures)
    return best[0], distance


def _excerpt(sentence: str, wanted: list[str]) -> str:
    """The sentence, or where it is longer than LONGEST, the stretch of it around the name's first word."""
    if len(sentence) <= LONGEST:
        return sentence
    first = next(
        (
            m.start()
            for m in _WORD.finditer(sentence)
            if any(_same_word(singular_key(m.group(0)), w) for w in wanted)
        ),
        0,
    )
    return _around(sentence, first)


def offered(
    measure: Measure, rows_of: Callable[[str, int], list], cited: set[tuple[str, str]]
) -> list[tuple[object, int, str]]:
    """Up to OFFERED sentences that name the measure's words and hold a figure, most closely tied
    first, each as (passage row, start in its text, excerpt); not those in `cited` ((doc_id, text)
    of the trend's points). `rows_of(query, limit)` gives the passages (of the chosen reports) the
    keyword index matches, best first."""
    query, wanted = fts_query(measure), name_keys(measure)
    if query is None:
        return []
    ranked: list[tuple[tuple[int, int], int, str, tuple[object, int, str]]] = []
    for row in rows_of(query, PASSAGES_READ):
        text = row["text"]
        previous = None
        for own_begin, finish in split_sentences(text):
            begin, sentence = own_begin, text[own_begin:finish].strip()
            tie = closeness(sentence, wanted)
            if tie is None and previous is not None and _figures(sentence):
                # the name in the sentence before, the figure in this one ("Number of ... Health
                # Check (Rolling 12 months) GREEN" / "Latest: 33,550 ... Previous: 33,194"): the
                # two offered together, after every sentence that holds both
                pair = text[previous:finish].strip()
                joined = closeness(pair, wanted)
                if joined is not None:
                    begin, sentence, tie = previous, pair, (PAIRED + joined[0], joined[1])
            previous = own_begin
            if tie is None:
                continue
            excerpt = _excerpt(sentence, wanted)
            if any(excerpt in c or c in excerpt for d, c in cited if d == row["doc_id"]):
                continue  # a point's own sentence, or a pair that holds it
            year = (row["date"] or "")[:4]
            at = begin + text[begin:finish].find(excerpt)
            ranked.append(
                (
                    tie,
                    -int(year) if year.isdigit() else 0,
                    " ".join(excerpt.lower().split()),
                    (row, at, excerpt),
                )
            )
    ranked.sort(key=lambda item: item[:2])  # the closest tie first, then the latest report
    chosen: list[tuple[object, int, str]] = []
    seen: set[str] = set()
    for _, _, plain, found in ranked:
        if plain in seen:
            continue  # the same sentence in another pack of the same papers
        seen.add(plain)
        chosen.append(found)
        if len(chosen) == OFFERED:
            break
    return chosen


def searched(
    index: Index,
    name: str,
    settings: Settings,
    filters: Filters,
    shown: list[str],
    keep: Callable[[Passage], bool] = lambda passage: True,
) -> list[tuple[str, int, str]]:
    """Up to SEARCHED sentences holding a figure (no date, year or paragraph number alone) from the
    first SEARCH_PASSAGES passages `keep` accepts (of twice as many) that a search for `name` finds
    within `filters` (`rag.retrieval.search`'s dense and keyword ranks fused), best first by the
    cross-encoder's reading of the name and each sentence (in the passages' order when
    `settings.rerank` is off), each as (chunk id, start in its passage, excerpt); not one whose
    words are in `shown` (the points' and offered sentences' texts) or in a sentence chosen before
    it, or hold them."""
    # the fused ranking's passages: the cross-encoder reads their sentences, not them (as fast, or
    # faster, as reading both, and as many values offered on the dev cases)
    fused = replace(settings, rerank=False)
    found = search(index, name, fused, k=2 * SEARCH_PASSAGES, filters=filters).passages
    passages = [p for p in found if keep(p)][:SEARCH_PASSAGES]
    candidates: list[tuple[str, int, str]] = []
    for passage in passages:
        for begin, end in split_sentences(passage.text):
            sentence = passage.text[begin:end].strip()
            read = _PARAGRAPH_LABEL.sub("", sentence)  # "3.2 In 2019 ...": 3.2 is no figure
            figures = _figures(read)
            if not figures or len(_LETTERS.findall(read)) < SEARCHED_WORDS:
                continue
            excerpt = _around(sentence, len(sentence) - len(read) + figures[0][0])
            candidates.append((passage.chunk_id, begin + sentence.find(excerpt), excerpt))
    if settings.rerank:
        scores = rerank_scores(name, [excerpt for _, _, excerpt in candidates])
        candidates = [candidates[i] for i in sorted(range(len(candidates)), key=lambda i: -scores[i])]
    seen = [f" {' '.join(words_of(text))} " for text in shown]  # whole words compared
    chosen = []
    for candidate in candidates:
        plain = f" {' '.join(words_of(candidate[2]))} "
        if any(plain in other or other in plain for other in seen):
            continue  # shown already, in this report or another pack of the same papers
        seen.append(plain)
        chosen.append(candidate)
        if len(chosen) == SEARCHED:
            break
    return chosen


_PARAGRAPH_LABEL = re.compile(r"^(?:\(?\d+(?:\.\d+)*[.)]\s+|\d+\.\d+\s+(?=[A-Z]))")
"""A numbered paragraph's label at a sentence's start: "3. ", "(2) ", "3.2 " before a capital."""
_LETTERS = re.compile(r"\b[^\W\d_]{2,}\b")
"""A word of two letters or more."""
SEARCHED_WORDS = 1
"""The fewest such words a sentence found by the search has: "3." and "2FE 0FE 10FE" are no
sentences, but a dashboard's "Latest: 422 Previous: 493" is (three such words were tried: the
twelfth blind set's values offered fell from 16 to 11 of 22)."""


def _around(sentence: str, at: int) -> str:
    """The sentence, or where it is longer than LONGEST, the stretch of it around character `at`."""
    if len(sentence) <= LONGEST:
        return sentence
    start = max(0, at - LONGEST // 3)
    start = sentence.rfind(" ", 0, start) + 1 if start else 0
    end = sentence.find(" ", start + LONGEST)
    return sentence[start : end if end > 0 else len(sentence)].strip()
