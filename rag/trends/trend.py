"""The trend: every passage that names the measure read, its values merged into points in period order."""

from __future__ import annotations

import bisect
import fnmatch
import itertools
import json
import re
import time
from dataclasses import asdict, dataclass, field, replace

from rag.dates import period_key
from rag.index.store import Index
from rag.settings import Settings
from rag.text import stem
from rag.trends.cues import cues
from rag.trends.figures import Found
from rag.trends.measures import Measure, content_words, find_measure, names_it, own_words, without_place
from rag.trends.offered import offered, searched
from rag.trends.sentences import read_passage
from rag.trends.tables import counted_on, read_table
from rag.types import Filters, Quote

PARAGRAPH_START = re.compile(r"(?m)^[ \t]*(?:-\s*)?(\d+(?:\.\d+)*)[.)]?\s")
"""A numbered paragraph's start: "3.2 ", "- 12) "."""


@dataclass(frozen=True)
class Point:
    value: float
    value_text: str
    unit: str
    period: str
    council: str | None
    citation: Quote
    also_in: tuple[Quote, ...] = ()

    def to_dict(self) -> dict:
        value = int(self.value) if float(self.value).is_integer() else self.value
        return {
            "value": value,
            "value_text": self.value_text,
            "unit": self.unit,
            "period": self.period,
            "council": self.council,
            "citation": asdict(self.citation),
            "also_in": [asdict(c) for c in self.also_in],
        }


@dataclass
class Trend:
    measure: str
    points: list[Point]
    passages: int = 0
    """How many passages name the measure (within the filters)."""
    message: str | None = None
    """Why nothing was found, in one line."""
    offered: list[Quote] = field(default_factory=list)
    """Sentences that name the measure's words and hold a figure the reader did not take as a
    point (rag.trends.offered), most closely tied first: for the reader of the trend to judge."""
    searched: list[Quote] = field(default_factory=list)
    """Sentences with a figure from the passages a search for the measure finds, which may name it
    otherwise (rag.trends.offered.searched), best first: offered after those."""
    timings_ms: dict[str, float] = field(default_factory=dict)

    def candidates(self) -> list[dict]:
        """The offered sentences as JSON: each its text, its citation and how it was found ("name":
        it holds the measure's words; "search": a search for the measure found its passage)."""
        return [
            {"text": q.text, "citation": asdict(q), "found_by": found_by}
            for found_by, quotes in (("name", self.offered), ("search", self.searched))
            for q in quotes
        ]

    @property
    def status(self) -> str:
        return "found" if self.points else "not_found"

    def to_dict(self) -> dict:
        return {
            "measure": self.measure,
            "status": self.status,
            "points": [p.to_dict() for p in self.points],
            "candidates": self.candidates(),
            "timings_ms": self.timings_ms,
        }


def _fts_query(measure: Measure) -> str:
    """Each name as a phrase, or the user's own words in any order (see `named_in_other_words`)."""
    names = measure.names
    phrases = ['"' + " ".join(re.findall(r"\w+", n)) + '"' for n in names if re.search(r"\w", n)]
    for name in own_words(measure):
        content = set(content_words(name))
        words = [w for w in re.findall(r"\w+", name) if w.lower() in content]
        if words:  # each word as a prefix, which FTS5 stems first ("abilities"* finds "ability"),
            # or its first five letters, as the reader compares a participle with its noun:
            # "pupils were permanently excluded" for "permanent exclusions" (see `_done_to`)
            phrases.append("(" + " AND ".join(f'("{stem(w.lower())}"* OR "{w}"*)' for w in words) + ")")
    return " OR ".join(dict.fromkeys(phrases))


def _paragraph(text: str, start: int, paragraphs: list[str]) -> str | None:
    """The report's number of the paragraph the sentence at `start` is in."""
    labels = [m.group(1) for m in PARAGRAPH_START.finditer(text[: start + 12]) if m.group(1) in paragraphs]
    if labels:
        return labels[-1]
    return paragraphs[0] if paragraphs else None


def _accepts_document(row, council: str | None, source: str | None) -> bool:
    if council and council.lower() not in (row["council"] or "").lower():
        return False
    return not (source and not fnmatch.fnmatch(row["source"], source))


def _in_range(period: str, since: str | None, until: str | None) -> bool:
    first, last = period.split("/")[0], period.split("/")[-1]
    return not ((since and last < since[: len(last)]) or (until and first[: len(until)] > until))


def trend(
    index: Index,
    measure_name: str,
    council: str | None = None,
    since: str | None = None,
    until: str | None = None,
    source: str | None = None,
    settings: Settings | None = None,
    search: bool = True,
) -> Trend:
    """Every stated value of the measure in the index, one point per value and period, in period
    order. `council` (part of a name) and `source` (a glob) choose reports; `since` and `until`
    (ISO dates, inclusive) choose points by the date their value refers to. Beside the points, the
    sentences offered to check: `offered`, and with `search` `searched` (`settings` for the search,
    else the defaults)."""
    started = time.perf_counter()
    name, place = without_place(measure_name, {d["council"] for d in index.documents() if d["council"]})
    council = council or place  # "Kent employment rate": the employment rate in Kent's reports
    measure = find_measure(name)
    rows = _matching(index, _fts_query(measure), "c.row")
    keyword_searched = time.perf_counter()
    rows = [r for r in rows if _accepts_document(r, council, source)]
    # the keyword index also matches a name in another case ("lac" for LAC): ours only
    naming = [r for r in rows if names_it(r["text"], measure)]
    days: dict[str, str] = {}  # each report's day of the year the measure is counted on
    for row in naming:
        days[row["doc_id"]] = days.get(row["doc_id"]) or counted_on(row["text"], measure)
    raw: list[Point] = []
    for row in naming:
        about = f"{row['title']}\n{row['heading'] or ''}"
        found = read_passage(row["text"], measure, row["date"], row["council"], about, days[row["doc_id"]])
        raw += [_point(row, item) for item in found if _in_range(item.period, since, until)]
    for row, item in _tables_going_on(index, naming, measure, days):
        if _in_range(item.period, since, until):
            raw.append(_point(row, item))
    named = len(naming)
    points = merge(raw)
    cited = {(c.doc_id, c.text) for p in points for c in (p.citation, *p.also_in)}

    def rows_of(query: str, limit: int) -> list:
        chosen = council or source or since or until  # chosen after the search: no limit in it
        found = _matching(index, query, "f.rank", -1 if chosen else limit)
        return [
            r for r in found if _accepts_document(r, council, source) and _reported_within(r, since, until)
        ][:limit]

    extracted = time.perf_counter()
    sentences = [_quote(row, at, excerpt) for row, at, excerpt in offered(measure, rows_of, cited)]
    offering = time.perf_counter()
    found = []
    if search:
        shown = [text for _, text in cited] + [q.text for q in sentences]
        found = searched(
            index,
            name,
            settings or Settings(),
            Filters(council, source),
            shown,
            lambda passage: _reported_within({"date": passage.date}, since, until),
        )
    found_in = _passages_by(index, "chunk_id", [chunk_id for chunk_id, _, _ in found])
    result = Trend(
        " ".join(measure_name.split()),
        points,
        named,
        offered=sentences,
        searched=[_quote(found_in[chunk_id], at, excerpt) for chunk_id, at, excerpt in found],
    )
    if not rows and not named:
        result.message = _nothing_message(index, measure, council, source)
    elif not named:
        result.message = f"no passage names {_names(measure)}" + _within(council, source)
    elif not points:
        dates = f" between {since or 'the start'} and {until or 'now'}" if since or until else ""
        result.message = (
            f"{named} passage{'s' * (named > 1)} name{'s' * (named == 1)} {_names(measure)}{_within(council, source)}, "
            f"but none states its value{dates}"
        )
    if result.message and sentences:
        result.message += "; below, sentences that name its words with a figure, to check"
    elif result.message and result.searched:
        result.message += "; below, sentences with a figure that a search for it finds, to check"
    result.timings_ms = {
        "search": round((keyword_searched - started) * 1000, 1),
        "extract": round((extracted - keyword_searched) * 1000, 1),
        "offer_named": round((offering - extracted) * 1000, 1),
        "offer_searched": round((time.perf_counter() - offering) * 1000, 1),
        "total": round((time.perf_counter() - started) * 1000, 1),
    }
    return result


_PASSAGE_COLUMNS = (
    "c.row, c.text, c.page, c.paragraphs, c.heading, c.doc_id, d.title, d.source, d.council, d.date"
)
TABLE_PASSAGES = 2
"""How many passages after one that names the measure are read for its table's rows: a table of
figures is cut into passages of a few rows (rows of eleven figures are about 40 tokens), its
title in one passage, its header line in the next, the report's own row in the one after."""


def _matching(index: Index, query: str, order: str, limit: int = -1) -> list:
    """The passages (with their documents' columns) that the keyword index matches to `query`,
    in `order` ("c.row": the index's order; "f.rank": best first), at most `limit` (-1: all)."""
    return index.query(
        f"SELECT {_PASSAGE_COLUMNS} FROM chunks_fts f JOIN chunks c ON c.row = f.rowid"
        f" JOIN documents d USING (doc_id) WHERE chunks_fts MATCH ? ORDER BY {order} LIMIT ?",
        [query, limit],
    )


def _passages_by(index: Index, column: str, keys: list) -> dict:
    """The passages (with their documents' columns) whose `column` ("row", "chunk_id") is one of
    `keys`, by that key."""
    if not keys:
        return {}
    found = index.query(
        f"SELECT c.{column} AS passage_key, {_PASSAGE_COLUMNS} FROM chunks c JOIN documents d USING (doc_id)"
        f" WHERE c.{column} IN ({','.join('?' * len(keys))})",
        keys,
    )
    return {r["passage_key"]: r for r in found}


def _point(row, item: Found) -> Point:
    citation = _quote(row, item.start, row["text"][item.start : item.end])
    return Point(item.value, item.value_text, item.unit, item.period, row["council"], citation)


def _quote(row, start: int, text: str) -> Quote:
    """`text`, starting at `start` in the passage `row`, quoted with where it is."""
    paragraph = _paragraph(row["text"], start, json.loads(row["paragraphs"]))
    return Quote(row["doc_id"], row["title"], row["source"], row["page"], paragraph, row["date"], text)


def _reported_within(row, since: str | None, until: str | None) -> bool:
    """Whether a report may state a value for a period between `since` and `until`: it is dated
    no earlier than `since` and no more than a year after `until` (a report states values for a
    while before its meeting). A report with no date is kept."""
    year = (row["date"] or "")[:4]
    if not year.isdigit():
        return True
    return not (
        (since and row["date"] < since[: len(row["date"])]) or (until and int(year) > int(until[:4]) + 1)
    )


def _tables_going_on(
    index: Index, rows: list, measure: Measure, days: dict[str, str]
) -> list[tuple[object, Found]]:
    """The table values in the passages just after each passage that names the measure (the
    passage and those after it read as one text by `read_table`), each with the passage it is in."""
    wanted = sorted({r["row"] + step for r in rows for step in range(1, TABLE_PASSAGES + 1)})
    after = _passages_by(index, "row", wanted)
    found = []
    for row in rows:
        window = [row]
        for step in range(1, TABLE_PASSAGES + 1):
            following = after.get(row["row"] + step)
            if following is None or following["doc_id"] != row["doc_id"]:
                break
            window.append(following)
        if len(window) == 1:
            continue
        starts = list(itertools.accumulate((len(r["text"]) + 1 for r in window), initial=0))
        text = "\n".join(r["text"] for r in window)
        about = f"{row['title']}\n{row['heading'] or ''}"
        for item in read_table(text, measure, row["council"], about, days[row["doc_id"]], row["date"]):
            at = bisect.bisect_right(starts, item.start) - 1
            if at == 0:
                continue  # a row of the passage itself: read_passage read it
            offset = starts[at]
            found.append((window[at], replace(item, start=item.start - offset, end=item.end - offset)))
    return found


def _names(measure: Measure) -> str:
    others = [n for n in measure.names if n != measure.asked]
    return f"{measure.asked!r}" + (f" (or {', '.join(others[:6])})" if others else "")


def _within(council: str | None, source: str | None) -> str:
    chosen = [f"council {council!r}"] * bool(council) + [f"source {source!r}"] * bool(source)
    return f" in the reports of {' and '.join(chosen)}" if chosen else ""


def _nothing_message(index: Index, measure: Measure, council: str | None, source: str | None) -> str:
    if council or source:
        documents = [d for d in index.documents() if _accepts_document(d, council, source)]
        if not documents:
            return f"no report matches {_within(council, source).removeprefix(' in the reports of ')}: see `rag info`"
    named = _names_within(index, measure, council, source)
    if named:
        tries = ", ".join(f"{name!r} ({count} passage{'s' * (count > 1)})" for name, count in named)
        return f"no passage names {_names(measure)}{_within(council, source)}: try a shorter name, {tries}"
    return f"no passage names {_names(measure)}{_within(council, source)}: try another name for the measure"


SHORTER_NAMES = 3
"""How many shorter names a trend that finds no passage suggests."""


def _names_within(
    index: Index, measure: Measure, council: str | None, source: str | None
) -> list[tuple[str, int]]:
    """For a name of three or more words that no passage has, the runs of two or more of its words
    that passages have ("reception excess weight": "excess weight"), longest and most common first,
    each with how many passages (of the chosen reports) name it."""
    words = re.findall(r"[\w']+", measure.asked)
    filler = {w.lower() for w in cues()["question"]["filler"]}  # "number of ...", "... in"
    runs = [words[i : i + n] for n in range(len(words) - 1, 1, -1) for i in range(len(words) - n + 1)]
    runs = [" ".join(run) for run in runs if run[0].lower() not in filler and run[-1].lower() not in filler]
    found = []
    for run in runs:
        rows = index.query(
            "SELECT d.council, d.source FROM chunks_fts f JOIN chunks c ON c.row = f.rowid"
            " JOIN documents d USING (doc_id) WHERE chunks_fts MATCH ?",
            [f'"{run}"'],
        )
        count = sum(_accepts_document(r, council, source) for r in rows)
        if count:
            found.append((run, count))
    return sorted(found, key=lambda item: (-len(item[0].split()), -item[1]))[:SHORTER_NAMES]


def merge(raw: list[Point]) -> list[Point]:
    """One point per value: the same value, unit and period stated again (in a later pack, or
    twice in one report) is one point citing its first statement, the others in `also_in`. A value
    with no date of its own (its period the meeting's) is the same point only when the sentence is
    the same."""
    ordered = sorted(raw, key=lambda p: (p.citation.date or "", p.citation.source, p.citation.text))
    merged: dict[tuple, Point] = {}
    for point in ordered:
        restated = point.period == point.citation.date
        key = (
            point.council,
            point.unit,
            round(point.value, 6),
            _plain(point.citation.text) if restated else point.period,
        )
        if key not in merged:
            merged[key] = point
            continue
        first = merged[key]
        known = [first.citation, *first.also_in]
        if any(c.doc_id == point.citation.doc_id and c.text == point.citation.text for c in known):
            continue
        merged[key] = replace(first, also_in=(*first.also_in, point.citation))
    return sorted(merged.values(), key=lambda p: (period_key(p.period), p.council or "", p.unit, p.value))


def _plain(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))
