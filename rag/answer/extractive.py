"""Answers without a language model: the sentences of the retrieved passages that answer the
question, each with a numbered citation whose text is the exact excerpt; or "not_found"."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from rag.answer.model import AnswerModel, load_model
from rag.dates import FINANCIAL_YEAR, MONTH_NAME, MONTH_WORDS, MONTHS, YEAR, parse_dates
from rag.glossary import names_another_term, names_meant
from rag.models.rerank import rerank_scores
from rag.question import analyse
from rag.read.metadata import find_council_names
from rag.settings import Settings
from rag.text import NUMBER, plain_text, query_terms, split_sentences, stem, words_of
from rag.types import Answer, Citation, Intent, Passage, Suggestion

NOT_FOUND_TEXT = "The indexed reports do not appear to answer this question."
ANSWER_PASSAGES = 5
ADJACENT_OF = 1
"""The sentences of the passages around the first one retrieved are candidates too (around the
first two: the same answers on the dev sets at twice the added time)."""
_DATE_WORDS = re.compile(rf"(?i)\b(\d{{1,2}}(st|nd|rd|th)?\s+)?(?:{MONTH_WORDS})\.?\s+\d{{4}}\b|\b{YEAR}\b")
_YEAR = re.compile(YEAR)
_LABEL = re.compile(
    r"^\(?\d+(?:\.\d+)*[.)]?\s+"  # a paragraph number leading the sentence: "3.2 The report..."
    rf"|\b{YEAR}\s?[-/–]\s?\d{{2,4}}\b"  # a span of years: "2025-29"
    r"|\b(?:table|figure|appendix|section|paragraph|para|annex|item)\s+\d+(?:\.\d+)*",  # "Table 5.1"
    re.IGNORECASE,
)
"""Numbers that are not what a "how many" question asks for."""
_TIME_UNIT = re.compile(r"(?i)\b(?:hours?|days?|weeks?|months?|years?)\b")
_DURATION = re.compile(
    r"(?i)\b\d+\s+(?:working\s+|school\s+|calendar\s+)?(?:hours?|days?|weeks?|months?|years?)\b"
)
"""A length of time ("10 school days"): not the count a "how many children" question wants."""
_NUMBER_WORDS = re.compile(
    r"(?i)\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|hundreds|thousand|thousands|million|millions|billion|dozen|half|quarter|third)\b"
)
"""Quantities written in words ("over two million miles")."""
_MONEY_UNIT = re.compile(r"£\s?(?:m|bn|k|000|'000)\b|\((?:£|£m|£000|£'000)\)", re.IGNORECASE)
"""A table header's unit of money ("£m", "(£000)"): the row's bare numbers are amounts."""
_MONEY = re.compile(r"[£$€]\s?\d|\b\d[\d,.]*\s?(?:m|bn|k|million|billion|thousand pounds)\b", re.IGNORECASE)
_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z'’-]+)+\b")
_AUTHOR_LINE = re.compile(
    r"(?i:^(?:from|author|report author|report of|report by|written by|presented by|lead officer|"
    r"contact officer)\s*:)\s*[A-Z][A-Za-z]"  # "From: Director of Children's Services"
    r"|^(?:[A-Z][A-Za-z ]{0,40}:\s*)?(?:Councillor|Cllr|Mr|Mrs|Ms|Miss|Dr|Professor|Sir|Dame)\.?\s+"
    r"(?:[A-Z]\.?\s+)?[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+){0,2}\s*(?:$|[,–—-]\s*[A-Z])"
)
"""A line that says who a report is from: a "From: / Author: / Report of:" label, or a line that
is a name with its title, alone or followed by a role ("Councillor Michael Carr", "EXECUTIVE
MEMBER: Cllr Luke Henman, Executive Member for ...", "Cllr Ann McCoy – Cabinet Member ..."),
not a sentence that mentions someone ("Councillor Smith asked about ..."). Such a line is often
a bare name, too short to pass for an answering sentence, and repeats the section heading."""


def asks_author(question: str) -> bool:
    """Whether the question asks who wrote a report or who decides (only its author line answers)."""
    return analyse(question).asks_author


_OWN_MARKER = re.compile(
    r"(?m)^[ \t]*\[\d{1,3}(?:\s*[,–-]\s*\d{1,3})*\][ \t]*|[ \t]*\[\d{1,3}(?:\s*[,–-]\s*\d{1,3})*\]"
)
"""A document's own bracketed reference ("600 [2]", "£777,000 [7]", a footnote's "[1] Source:
...", "[3, 4]"), with the space before it (or, leading a line, after it)."""
_BRACKETED_NUMBER = re.compile(r"\[(\d+)\]")
"""Any other number in brackets ("[2021]"): kept, in parentheses, so it reads as no marker."""
_CITATION_MARKERS = re.compile(r"(?:\s*\[\d+\])+\s*$")
"""The markers the program writes: at the end of an answer line, after its text."""


def without_markers(text: str) -> str:
    """Document text as it may go into an answer or a prompt: its own bracketed references taken
    out, so that the only [n] a reader (or a model) sees are the program's citation markers.
    Citations keep the exact excerpt; only the answer text and the prompt are neutralised."""
    return _BRACKETED_NUMBER.sub(r"(\1)", _OWN_MARKER.sub("", text))


@dataclass(frozen=True)
class _Candidate:
    passage: Passage
    start: int
    end: int
    score: float

    @property
    def text(self) -> str:
        return self.passage.text[self.start : self.end]


def answer_from_passages(
    question: str,
    passages: list[Passage],
    settings: Settings,
    adjacent: list[Passage] | None = None,
    by_period: dict[str, tuple[str, list[Passage]]] | None = None,
    model: AnswerModel | None = None,
) -> Answer:
    """Pick the sentences that answer the question; cite each; refuse when unsure or when the
    answer fails the citation check. Each candidate sentence (of the first passages and of the
    `adjacent` ones around them) gets the fitted model's probability that it answers; the best
    must reach the model's threshold (or settings.not_found_threshold when set) and, when the
    model says so, be the kind of answer asked for. A refusal carries the best three sentences
    as `candidates`. For a question that compares periods, `by_period` holds each period's own
    question and passages, and the answer is the best confident line of each period
    (`_one_line_per_period`), whether or not the best sentence of them all reaches the threshold."""
    started = time.perf_counter()
    model = model or load_model()
    intent = analyse(question)
    candidates = _score_candidates(intent, passages[:ANSWER_PASSAGES] + list(adjacent or []), settings, model)
    if intent.asks_author:  # only the author line of the report named answers it
        candidates = [c for c in candidates if _is_its_author_line(question, c)]
    in_the_month = [c for c in candidates if _of_the_months_asked(question, [c])]
    candidates = in_the_month or candidates  # a month asked is answered from a passage of it
    fits = [
        c
        for c in candidates
        if not names_another_term(question, c.text) and (not model.gate or _fits_the_question(intent, c))
    ]  # the kind of answer asked for, about the measure asked (not another glossary term)
    of_the_year = [c for c in fits if by_period or _of_the_years_asked(intent, c)]
    ours = _of_the_one_council_asked(intent, candidates)
    fitting = [c for c in of_the_year if not ours or _of_the_council(intent, c)]
    confidence = fitting[0].score if fitting else 0.0
    why = None  # a refusal for want of the year or the council asked says so
    if fits and not of_the_year:
        why = f"No sentence of {' or '.join(sorted(_years_asked(intent)))} was found to answer it; those below are of other years."
    elif of_the_year and not fitting:
        why = f"No sentence of {intent.council}'s reports was found to answer it; those below are other councils'."

    def refuse() -> Answer:
        timings = {"answer": round((time.perf_counter() - started) * 1000, 1)}
        return Answer(
            question,
            NOT_FOUND_TEXT,
            "not_found",
            [],
            passages,
            confidence,
            timings,
            note=why,
            candidates=_suggestions(candidates),
        )

    threshold = model.threshold if settings.not_found_threshold is None else settings.not_found_threshold
    note, chosen = None, []
    if by_period:  # a confident line for each period answers, whatever the best sentence of all
        chosen, missing = _one_line_per_period(intent, fitting, by_period, settings, model, threshold)
        confidence = min((c.score for c in chosen), default=confidence)
        if missing:
            note = "No confident line found for " + ", ".join(missing) + "."
    if not chosen:
        if not fitting or confidence < threshold or _of_another_council(intent, fitting):
            return refuse()
        chosen = _choose(intent, fitting, threshold)
    candidates = fitting or candidates  # the answer-type checks choose among the sentences
    chosen = [_with_what_follows(c) for c in chosen]
    if not _of_the_months_asked(question, chosen):
        return refuse()
    passages, chosen = _with_cited_adjacent(passages, chosen)
    across_reports = len({c.passage.doc_id for c in chosen}) > 1
    citations, lines = [], []
    for ref, candidate in enumerate(chosen, start=1):
        citations.append(_citation(ref, candidate))
        lead = f"{without_markers(_source_label(candidate.passage))}: " if across_reports else ""
        lines.append(f"{lead}{readable(candidate.text)} [{ref}]")
    answer = Answer(question, "\n".join(lines), "answered", citations, passages, confidence, {})
    if citation_problems(answer):
        return refuse()
    timings = {"answer": round((time.perf_counter() - started) * 1000, 1)}
    others = _suggestions(candidates, shown=chosen)[:ALTERNATIVES]
    return Answer(
        question,
        answer.answer,
        "answered",
        citations,
        passages,
        confidence,
        timings,
        note=note,
        candidates=others,
    )


def _citation(ref: int, candidate: _Candidate) -> Citation:
    p = candidate.passage
    return Citation(
        ref,
        p.doc_id,
        p.title,
        p.source,
        p.page,
        p.paragraph,
        p.date,
        p.council,
        candidate.text,
        candidate.score,
        p.rank,
        p.meeting,
        p.author,
    )


SUGGESTIONS = 3
ALTERNATIVES = 2
"""An answer also carries the next best sentences, this many: held out, the expected answer is in
the answer's sentence for 0.467 of the Kent questions and in it or the next two for 0.667 (West
Sussex 0.538 -> 0.692, Limerick 0.692 -> 0.885; benchmarks/results.md)."""


def _suggestions(candidates: list[_Candidate], shown: list[_Candidate] = ()) -> list[Suggestion]:
    """The best SUGGESTIONS sentences of a refused question, or the best after an answer's `shown`
    lines, each with its citation (the passage's rank as retrieved): what the reader may check by
    hand. A sentence already shown, or the same words in another pack, is not offered again."""
    offered: list[_Candidate] = []
    seen = {plain_text(c.text) for c in shown}
    for candidate in candidates:
        words = plain_text(candidate.text)
        if words not in seen and not any(_overlaps(candidate, other) for other in [*shown, *offered]):
            offered.append(candidate)
            seen.add(words)
        if len(offered) == SUGGESTIONS:
            break
    return [
        Suggestion(readable(c.text), c.score, _citation(ref, c)) for ref, c in enumerate(offered, start=1)
    ]


def _of_another_council(intent: Intent, candidates: list[_Candidate]) -> bool:
    """The question names a council and every candidate is another council's: its report is
    another council's and the sentence does not name the one asked (a county's report on "NHS
    Crawley CCG" speaks of Crawley)."""
    return bool(intent.council) and not any(_of_the_council(intent, c) for c in candidates)


def _of_the_one_council_asked(intent: Intent, candidates: list[_Candidate]) -> bool:
    """Whether the question names one council and some candidate is of that council's reports:
    then the other councils' sentences do not answer it ("How many children were in care in
    Middlesbrough in 2017?" is not answered with Stockton's 433)."""
    if not intent.council or len(find_council_names(intent.question)) != 1:
        return False
    return any(c.passage.council == intent.council for c in candidates)


def _of_the_council(intent: Intent, candidate: _Candidate) -> bool:
    council = candidate.passage.council
    return (
        council is None or council == intent.council or intent.council in find_council_names(candidate.text)
    )


def _with_cited_adjacent(
    passages: list[Passage], chosen: list[_Candidate]
) -> tuple[list[Passage], list[_Candidate]]:
    """The passages with each cited passage from elsewhere (adjacent, or a compared period's own
    search) added after them, numbered in turn; a cited passage that was retrieved too is cited
    as retrieved."""
    retrieved = {p.chunk_id: p for p in passages}
    added: dict[str, Passage] = {}
    for candidate in chosen:
        p = candidate.passage
        if p.chunk_id not in retrieved and p.chunk_id not in added:
            added[p.chunk_id] = replace(p, rank=len(passages) + len(added) + 1)
    cited = {**retrieved, **added}
    chosen = [replace(c, passage=cited[c.passage.chunk_id]) for c in chosen]
    return passages + list(added.values()), chosen


def _fits_the_question(intent: Intent, candidate: _Candidate) -> bool:
    """Whether the best sentence (with its table row's column headers) can be the answer: it
    is the kind of answer asked for, it is about the question, and a count comes from a passage
    that names what is counted."""
    p = candidate.passage
    header = _table_header(p.text, candidate.start)
    if intent.asks_author:  # only the author line of the report named answers it
        return _is_its_author_line(intent.question, candidate)
    sentence = without_markers(candidate.text)  # a footnote's "[2]" is not a count
    return (
        _is_the_kind_asked(intent, sentence, header)
        and _about_the_question(intent.question, f"{header} {sentence}", p.council)
        and _counts_the_thing_asked(intent, f"{p.title} {p.heading or ''} {p.text}")
    )


def _counts_the_thing_asked(intent: Intent, passage_text: str) -> bool:
    """A "how many potholes ..." question is answered from a passage that speaks of potholes:
    one word of what is counted (`Intent.counted`) is in the passage, its title or its heading.
    A count of hardship awards is not a count of potholes."""
    if not intent.wants("count") or not intent.counted:
        return True
    held = {stem(w) for w in re.findall(r"[a-z0-9']+", passage_text.lower())}
    return any(w in held for w in intent.counted)


def _is_the_kind_asked(intent: Intent, sentence: str, header: str) -> bool:
    """A "how many" question needs a count (a share, an amount, a year or a length of time is
    not one, unless the question asks how many days or weeks); "what was the turnout / rate /
    total" needs a number that is not a date; a question that asks for an amount ("What annual
    salary...", "How much did it cost...") needs an amount."""
    if intent.wants("count") and not _holds_count(sentence, timed=intent.wants("duration")):
        return False
    if intent.wants("quantity") and not _holds_quantity(sentence):
        return False
    return not intent.wants("amount") or _holds_amount(sentence, header)


def _holds_count(sentence: str, timed: bool) -> bool:
    """A count: a number that is not a year, a share, an amount, a paragraph label or (unless
    the question asks for one) a length of time; or a quantity in words."""
    plain = _LABEL.sub(" ", sentence if timed else _DURATION.sub(" ", sentence))
    counts = [
        n
        for n in NUMBER.findall(plain)
        if not _YEAR.fullmatch(n) and not n.endswith("%") and n[0] not in "£$€"
    ]
    return bool(counts or _NUMBER_WORDS.search(plain))


def _holds_quantity(sentence: str) -> bool:
    """A number that is not a date, a year or a paragraph label: what "what was the turnout /
    rate / total" needs."""
    for start, end, _ in reversed(parse_dates(sentence)):
        sentence = sentence[:start] + " " + sentence[end:]
    plain = _LABEL.sub(" ", sentence)
    return any(not _YEAR.fullmatch(n) for n in NUMBER.findall(plain)) or bool(_NUMBER_WORDS.search(plain))


def _holds_amount(sentence: str, header: str) -> bool:
    """An amount of money in the sentence, or a number in a table row under a money unit ("£m")."""
    return bool(_MONEY.search(sentence) or (_MONEY_UNIT.search(header) and NUMBER.search(sentence)))


def _about_the_question(question: str, text: str, council: str | None) -> bool:
    """Whether `text` holds at least one word of the question besides numbers and the council's
    own name ("Kent County Council", "KCC"): a sentence sharing nothing else with the question
    is about something else."""
    name = (council or "").lower().split()
    own_name = {stem(w) for w in name} | {"".join(w[0] for w in name)}
    words = [w for w in (stem(t) for t in query_terms(question) if not t.isdigit()) if w not in own_name]
    held = {stem(w) for w in words_of(text)}
    return not words or any(w in held for w in words)


_AUTHOR_WORDS = frozenset(
    {
        "wrote",
        "write",
        "writes",
        "written",
        "author",
        "authored",
        "writer",
        "signed",
        "presented",
        "prepared",
        "submitted",
        "report",
        "paper",
        "briefing",
        "off",
        "latest",
        "last",
        "recent",
        "year",
        "councillor",
        "cllr",
        "officer",
        "member",
        "cabinet",
        "executive",
        "director",
        "person",
    }
)
"""The words of a "who wrote the report" question that name no report (stopwords aside)."""


def _about_the_report(question: str, passage: Passage) -> bool:
    """Whether "who wrote the report on X" names the report this passage is from: at least half
    the words of X (less the question's own words, numbers and months) are in its title, heading,
    meeting, council or file name. "Who wrote it?" after an answer names no other report: the
    follow-up has already pinned the one the answer cited."""
    words = [
        stem(t)
        for t in query_terms(question)
        if not t.isdigit() and t not in _AUTHOR_WORDS and t not in MONTHS
    ]
    about = f"{passage.title} {passage.heading or ''} {passage.meeting or ''} {passage.council or ''} {passage.source}"
    held = {stem(w) for w in words_of(about)}
    return 2 * sum(w in held for w in words) >= len(words)


def _of_the_months_asked(question: str, chosen: list[_Candidate]) -> bool:
    """A question pinned to a month ("in May 2025", "as of 10 August 2018") is answered from a
    passage of that month: one of the cited passages names the month, or its meeting is in it."""
    asked = {iso[:7] for _, _, iso in parse_dates(question) if len(iso) >= 7}
    if not asked or (asks_author(question) and all(_names_an_author(c.text) for c in chosen)):
        return True  # who wrote a report does not change with the month it reports on
    return any(asked & _months_of(c.passage.title, c.passage.text, c.passage.date) for c in chosen)


def _of_the_years_asked(intent: Intent, candidate: _Candidate) -> bool:
    """For a question that names a year but no month ("in 2016", "the 2014 survey", "in
    2016/17"): the sentence names one of its years (a financial year "2015/16" names 2015 and
    2016), or names none and its passage or its report is of one (a report without a date is not
    held against it). A year that names a law ("the Care Act 2014") asks for none."""
    asked = _years_asked(intent)
    if not asked:
        return True
    named = _years_named(candidate.text)
    if named:
        return bool(asked & named)
    passage = candidate.passage
    return passage.date is None or bool(asked & (_years_of(passage.title, passage.text) | {passage.date[:4]}))


@lru_cache(maxsize=64)
def _years_asked(intent: Intent) -> frozenset[str]:
    """The years a question names as its period: none for a question that names a month (the
    month's rule's, `_of_the_months_asked`) or asks who wrote a report."""
    if intent.asks_author or any(len(p) > 4 for p in intent.periods):
        return frozenset()
    return _years_named(_LAW_YEAR.sub(" ", intent.question))


_LAW_YEAR = re.compile(rf"\bAct\s+(?:of\s+)?{YEAR}")
_YEAR_ALONE_IN_TEXT = re.compile(rf"(?<![\d/£$€.,])({YEAR})(?![\d%])")


def _years_named(text: str) -> frozenset[str]:
    """The years a text names: "2016", both years of a financial year ("2015/16", "2019-20") and
    each year of a span of up to ten ("2013-15"), not a number that only looks like one
    ("2,016", "£2016", "2016%")."""
    years = set(_YEAR_ALONE_IN_TEXT.findall(text))
    for match in FINANCIAL_YEAR.finditer(text):
        first = int(match.group(1))
        last = first - first % 100 + int(match.group(2))
        last += 100 if last < first else 0  # "1999/00"
        if last - first <= 10:
            years.update(str(year) for year in range(first + 1, last + 1))
    return frozenset(years)


@lru_cache(maxsize=256)
def _years_of(title: str, text: str) -> frozenset[str]:
    """The years a passage (with its report's title) names, read once per passage."""
    return _years_named(f"{title}\n{text}")


@lru_cache(maxsize=256)
def _months_of(title: str, text: str, date: str | None) -> frozenset[str]:
    """The months a passage names, and its meeting's (read once per passage: every sentence of
    it is tested against the month asked)."""
    return frozenset({iso[:7] for _, _, iso in parse_dates(f"{title}\n{text}")} | {(date or "")[:7]})


def _one_line_per_period(
    intent: Intent,
    candidates: list[_Candidate],
    by_period: dict[str, tuple[str, list[Passage]]],
    settings: Settings,
    model: AnswerModel,
    threshold: float,
) -> tuple[list[_Candidate], list[str]]:
    """For a question that compares periods, the best line of each period, in date order, and
    the periods without one: among the candidates of that period's reports and the sentences of
    its own search, scored by the same model under the period's own question. A line must be
    confident (its probability reaches the threshold), fit the question as the best candidate
    must (`_fits_the_question`), be of the council that period's question names, keep to the
    measure asked (no line about another glossary term) and, when the question asks for a number
    or the best candidate states a figure, state one too (a figure is compared with a figure, not
    with a report's subject line). Lines of reports outside the periods asked are left out."""
    figure = intent.wants("number") or bool(candidates and _holds_quantity(candidates[0].text))
    lines, missing = [], []
    for period, (asked, passages) in by_period.items():
        own = analyse(asked)
        pool = [c for c in candidates if (c.passage.date or "").startswith(period)]
        pool += _score_candidates(own, passages, settings, model)
        fitting = [
            c
            for c in pool
            if c.score >= threshold
            and (not own.council or c.passage.council in (None, own.council))
            and (not figure or _holds_quantity(c.text))
            and _fits_the_question(intent, c)
            and not names_another_term(intent.question, c.text)  # one measure: no other term's figure
        ]
        if fitting:
            lines.append(min(fitting, key=_order))
        else:
            missing.append(period)
    return sorted(lines, key=lambda c: (c.passage.date or "", c.passage.rank, c.start)), missing


def _choose(intent: Intent, candidates: list[_Candidate], threshold: float) -> list[_Candidate]:
    """The best sentence; for a question with several parts or about several reports, also the
    best confident sentence of each other report, in date order."""
    best = candidates[0]
    chosen = [best]
    if intent.wants("multi_part"):
        per_report: dict[str, _Candidate] = {}
        for candidate in candidates[1:]:
            if candidate.score >= threshold:
                per_report.setdefault(candidate.passage.doc_id, candidate)
        others = [c for doc, c in per_report.items() if doc != best.passage.doc_id]
        if not others:  # one report holds every part: its next best sentence
            others = [c for c in candidates[1:] if c.score >= threshold and not _overlaps(c, best)][:1]
        chosen += others[:4]
    return sorted(chosen, key=lambda c: (c.passage.date or "", c.passage.rank, c.start))


_YEAR_ALONE = re.compile(rf"(?i)\b(?:in|during|between|and|from|to|since|until)\s+({YEAR})(?![\w/–-])")
"""A year named as a period ("in 2017", "between 2018 and 2025"), not a count ("2000 homes"), a
road ("A2070") or a financial year ("2024-25")."""
_MONTH_WITHOUT_YEAR = re.compile(
    rf"\b({MONTH_NAME})\b(?!\s*,?\s*{YEAR})(?=\s+(?:and|to|-|–)\s+{MONTH_NAME}\s+({YEAR}))"
)
_YEARS_JOINED = re.compile(
    rf"\b{YEAR}\b(?![/–-]\d)[^.?;]{{0,40}}\band (?:in |for |during )?(?:[A-Z][\w-]* )*(?:in |for )?{YEAR}\b"
)
"""Two years joined by "and": "in 2017 and in 2018", "in Stockton in 2017 and in Middlesbrough in 2018"."""


def periods_compared(question: str) -> list[tuple[str, str]]:
    """The periods a question that spans reports compares, each with the question to ask of it:
    two months or more that it names (YYYY-MM), else two years or more; none for a question of
    one part. In "How did X change between <A> in January 2025 and <B> in March 2025 <C>?" each
    month is asked "How did X change between <A> in January 2025 <C>?" or "How did X change and
    <B> in March 2025 <C>?": what the question says of the other periods does not pull their
    reports into this one's search. A month without its year takes the year of the month
    after it ("between January and March 2025"); two years joined by "and" ("in 2017 and in
    2018") are compared without a word such as "compare"."""
    question = _MONTH_WITHOUT_YEAR.sub(r"\1 \2", question)  # "between January and March 2025"
    if not (analyse(question).wants("multi_part") or _YEARS_JOINED.search(question)):
        return []
    spans = [(a, b, iso[:7]) for a, b, iso in parse_dates(question)]
    if len({iso for _, _, iso in spans}) < 2:
        spans = [(m.start(1), m.end(1), m.group(1)) for m in _YEAR_ALONE.finditer(question)]
    periods = list(dict.fromkeys(iso for _, _, iso in spans))
    if len(periods) < 2:
        return []
    between = re.search(r"(?i)\bbetween\b", question)
    if not between or between.start() > spans[0][0]:
        return [(period, question) for period in periods[:4]]
    head, tail = question[: between.start()], question[spans[-1][1] :]
    asked, start = {}, between.start()
    for _, end, iso in spans:
        asked.setdefault(iso, " ".join(f"{head}{question[start:end]}{tail}".split()))
        start = end
    return [(period, asked[period]) for period in periods[:4]]


FOLLOWING_WORDS = 25


def _with_what_follows(candidate: _Candidate) -> _Candidate:
    """A sentence that announces its answer ("The reason given is as follows:") with what
    follows it in the passage: the next sentences, until they hold FOLLOWING_WORDS words."""
    if not candidate.text.rstrip().endswith(":"):
        return candidate
    following = [b for a, b in split_sentences(candidate.passage.text) if a >= candidate.end][:3]
    end = candidate.end
    for end in following:
        if len(candidate.passage.text[candidate.end : end].split()) >= FOLLOWING_WORDS:
            break
    return replace(candidate, end=end)


def _source_label(passage: Passage) -> str:
    """ "Middlesbrough Council, 2018-09": which report a line of a cross-report answer is from."""
    return ", ".join(part for part in (passage.council, passage.date) if part) or passage.title


def _overlaps(a: _Candidate, b: _Candidate) -> bool:
    return a.passage.chunk_id == b.passage.chunk_id and a.start < b.end and b.start < a.end


def readable(sentence: str) -> str:
    """The sentence as an answer line: list markers dropped, a closing full stop."""
    text = re.sub(r"^(?:[-•*]\s*)?(?:[a-z]{1,4}[.)]\s+)?", "", without_markers(sentence).strip())
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?", ":")) else text + "."


HEADER_LINES = 12
"""Most lines read above a table row for its column headers (a header cell is often cut into
several lines: "2025-26" / "(incl. increase in" / "ASCL)" / "£p")."""
_FIGURE = r"[-+(£]{0,2}\d[\d,.%]*\)?"
_ROW = re.compile(rf"(?:\S+\s+)*?(?:{_FIGURE}\s+){{1,}}{_FIGURE}\s*$")
"""A table row: a label, then two figures or more ("CSSB 12.2 12.3 -0.1", "Total (3.2) £4.5")."""


def _table_header(text: str, start: int) -> str:
    """For a table row ("Good 10 32% 29 63%"), the header lines right above it in the passage
    ("Judgement April 2016 report August 2017 report"), which say what its numbers are."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", start)
    if not _ROW.fullmatch(text[line_start : line_end if line_end >= 0 else len(text)].strip()):
        return ""
    header: list[str] = []
    for line in reversed(text[:line_start].rstrip("\n").split("\n")):
        line = line.strip()
        if _ROW.fullmatch(line):
            if header:
                break  # the rows of another table above this one's headers
            continue  # the rows above this one, up to the headers
        if not line:
            continue  # layout extraction leaves blank lines inside a header's cells
        if _CAPTION.match(line):
            header.insert(0, line)  # "Table 6.1 – Proposed Council Tax Increases by Band"
            break
        if len(header) == HEADER_LINES or _is_prose(line):
            break  # the text before the table
        header.insert(0, line)
    return " ".join(header)


_CAPTION = re.compile(r"(?i)(?:table|figure|chart)\s+\d")
_FUNCTION_WORDS = frozenset(
    {
        "the",
        "a",
        "an",
        "is",
        "are",
        "was",
        "were",
        "be",
        "by",
        "and",
        "to",
        "in",
        "that",
        "with",
        "it",
        "this",
    }
)


def _is_prose(line: str) -> bool:
    """A line of running text, not a header cell or a row of column headers ("District 2024-25
    2025-26 % change"): a sentence's end, or six words or more of which two are function words."""
    words = line.lower().split()
    return (line.endswith((".", ":", ";")) and len(words) >= 4) or (
        len(words) >= 6 and sum(w in _FUNCTION_WORDS for w in words) >= 2
    )


def _row_label(row: str) -> str:
    """The words that name a table row, before its first number, stemmed and padded with spaces
    (" early years block "), to be looked for in the question's words; "\\0", found in no
    question, when the row starts with a number."""
    words = re.findall(r"[a-z]+", re.split(r"(?:^|\s)[-(£]?\d", row.lower(), maxsplit=1)[0])
    return f" {' '.join(stem(w) for w in words)} " if words else "\0"


def _is_its_author_line(question: str, candidate: _Candidate) -> bool:
    """Whether the candidate is the author line of the report a "who wrote" question names."""
    return _names_an_author(candidate.text) and _about_the_report(question, candidate.passage)


def _names_an_author(line: str) -> bool:
    """A line that says who a report is from and names them ("Councillor Michael Carr")."""
    return bool(_AUTHOR_LINE.search(line.strip())) and len(line.split()) <= 16


def _is_statement(sentence: str, heading: str | None) -> bool:
    """A sentence or table row that can answer something: not a heading, not a bare label."""
    text = sentence.strip()
    if heading and text in heading.split(" > "):
        return False
    return len(text.split()) >= 4 or bool(NUMBER.search(text))


FEATURES = (
    "lexical",
    "lexical_gap",
    "passage_score",
    "fused_score",
    "inverse_rank",
    "adjacent",
    "kind_fits",
    "about",
    "counts_thing",
    "number_cue",
    "share_cue",
    "money_cue",
    "date_cue",
    "name_cue",
    "council_cue",
    "author_line",
    "row_named",
    "year_agrees",
    "council_agrees",
    "position",
    "words",
    "type_count",
    "type_money",
    "type_percent",
    "type_description",
    "cross",
    "cross_gap",
)
"""A candidate sentence's features, in the model's order: the question's words it holds (and
the gap to the best), its passage's reranker probability, fused score and rank, whether the
passage is an adjacent one, the answer-type checks of `_fits_the_question` (+1 / -1), the cue
checks (+1 when the question wants a figure / a share / an amount / a date / a name / a council
/ an author line and the sentence holds one, -1 when it does not, 0 when not wanted), whether
the table row the question names, whether the year and council asked agree with the sentence's
report, its place in its passage, its length, the question's answer type, and the cross-encoder's
score of question and sentence (and its gap to the best)."""


def _score_candidates(
    intent: Intent, passages: list[Passage], settings: Settings, model: AnswerModel
) -> list[_Candidate]:
    """The candidates, each scored by the model's probability that it answers, best first (ties,
    to 4 places, broken by passage rank, then position)."""
    spans, rows = candidate_features(intent, tuple(passages))
    if not spans:
        return []
    columns = [FEATURES.index(name) for name in model.features]
    probabilities = model.probabilities(np.asarray(rows)[:, columns])
    candidates = [_Candidate(p, a, b, float(prob)) for (p, a, b), prob in zip(spans, probabilities)]
    return sorted(candidates, key=_order)


def _order(candidate: _Candidate) -> tuple:
    return (-candidate.score, candidate.passage.rank, candidate.start)


@lru_cache(maxsize=64)
def candidate_features(
    intent: Intent, passages: tuple[Passage, ...]
) -> tuple[list[tuple[Passage, int, int]], list[list[float]]]:
    """The candidate sentences and table rows of the passages, as (passage, start, end), and
    the FEATURES of each."""
    question = intent.question
    spans = [(p, a, b) for p in passages for a, b in split_sentences(p.text)]
    authors = {  # the author lines of the reports the question names: let in and preferred
        (p.chunk_id, a)
        for p, a, b in spans
        if intent.asks_author and _names_an_author(p.text[a:b]) and _about_the_report(question, p)
    }
    spans = [
        (p, a, b) for p, a, b in spans if _is_statement(p.text[a:b], p.heading) or (p.chunk_id, a) in authors
    ]
    if not spans:
        return [], []
    retrieved = {p.chunk_id for p in passages if p.fused_score is not None}
    sentences_in = {}
    for p, _, _ in spans:
        sentences_in[p.chunk_id] = sentences_in.get(p.chunk_id, 0) + 1
    counts_thing = {  # of the passage, not the sentence: read once per passage
        p.chunk_id: 1.0 if _counts_the_thing_asked(intent, f"{p.title} {p.heading or ''} {p.text}") else -1.0
        for p in passages
    }

    terms = [stem(t) for t in query_terms(question)]
    question_words = f" {' '.join(stem(w) for w in words_of(question))} "
    wants_money = intent.wants("money") and not intent.wants("count") and not intent.wants("share")
    years = set(re.findall(rf"\b{YEAR}\b", question))

    rows = []
    previous: dict[str, tuple[int, int]] = {}
    seen: dict[str, int] = {}
    for passage, a, b in spans:
        sentence = without_markers(passage.text[a:b])  # the report's "[2]" is no number of its own
        header = _table_header(passage.text, a)  # a table row's column headers, which name its units
        written = f"{header} {sentence}"
        written += " " + " ".join(names_meant(question, written))  # "LAC" for "children in care"
        own = {stem(w) for w in words_of(written)}
        start, end = previous.get(passage.chunk_id, (a, a))
        before = passage.text[
            start:end
        ]  # the sentence before, in its passage: "the new agency" is named there
        previous[passage.chunk_id] = (a, b)
        where = f"{passage.title} {passage.council} {passage.date} {passage.heading} {before}"
        context = {stem(w) for w in words_of(where)}
        lexical = (
            sum(1.0 if t in own else 0.5 if t in context else 0.0 for t in terms) / len(terms)
            if terms
            else 0.0
        )
        plain = _LABEL.sub(" ", sentence if intent.wants("duration") else _DURATION.sub(" ", sentence))
        quantities = [n for n in NUMBER.findall(plain) if not _YEAR.fullmatch(n)]

        def cue(wanted: bool, holds: bool) -> float:
            return (1.0 if holds else -1.0) if wanted else 0.0

        is_row = bool(header or _ROW.fullmatch(sentence.strip()))
        position = seen.get(passage.chunk_id, 0)
        seen[passage.chunk_id] = position + 1
        council_agrees = (
            0.0
            if not intent.council or not passage.council
            else 1.0
            if passage.council == intent.council
            else -1.0
        )
        candidate = _Candidate(passage, a, b, 0.0)
        rows.append(
            [
                lexical,
                0.0,
                passage.score,
                passage.fused_score or 0.0,
                1.0 / passage.rank,
                0.0 if passage.chunk_id in retrieved else 1.0,
                1.0 if _is_the_kind_asked(intent, sentence, header) else -1.0,
                1.0 if _about_the_question(question, written, passage.council) else -1.0,
                counts_thing[passage.chunk_id],
                cue(intent.wants("number"), bool(quantities or _NUMBER_WORDS.search(plain))),
                cue(intent.wants("share"), bool(re.search(r"(?i)\d\s?%|\bper ?cent\b", sentence))),
                cue(wants_money, _holds_amount(sentence, header)),
                cue(intent.wants("date"), bool(_DATE_WORDS.search(sentence))),
                cue(intent.wants("name"), bool(_NAME.search(sentence))),
                cue(intent.wants("council"), bool(find_council_names(sentence))),
                cue(
                    intent.asks_author,
                    (passage.chunk_id, a) in authors and _is_its_author_line(question, candidate),
                ),
                1.0 if is_row and _row_label(sentence) in question_words else 0.0,
                cue(
                    bool(years),
                    any(y in sentence or y in (passage.date or "") or y in passage.text for y in years),
                ),
                council_agrees,
                position / max(1, sentences_in[passage.chunk_id] - 1),
                math.log1p(len(sentence.split())),
                1.0 if intent.answer_type == "count" else 0.0,
                1.0 if intent.answer_type == "money" else 0.0,
                1.0 if intent.answer_type == "percent" else 0.0,
                1.0 if intent.answer_type == "description" else 0.0,
            ]
        )
    best_lexical = max(r[0] for r in rows)
    cross = np.round(rerank_scores(question, [without_markers(p.text[a:b]) for p, a, b in spans]), 3)
    for r, score in zip(rows, cross):
        r[1] = round(r[0] - best_lexical, 4)
        r[0] = round(r[0], 4)
        r += [float(score), round(float(score - cross.max()), 3)]
    return spans, rows


def citation_problems(answer: Answer) -> list[str]:
    """What is wrong with an answer's citations: a [n] without a citation, a [n] inside a line's
    text (only the program writes markers, at the end of a line: one inside is a document's own,
    which would point a reader at another citation), a citation whose text is not in its
    passage, a number in an answer line that its cited text does not hold."""
    problems = []
    by_ref = {c.ref: c for c in answer.citations}
    passages = {p.rank: p for p in answer.passages}
    for line in answer.answer.split("\n"):
        markers = _CITATION_MARKERS.search(line)
        body = line[: markers.start()] if markers else line
        refs = [int(r) for r in re.findall(r"\[(\d+)\]", markers.group(0))] if markers else []
        for ref in refs:
            if ref not in by_ref:
                problems.append(f"[{ref}] has no citation")
        for stray in re.findall(r"\[\d+\]", body):
            problems.append(f"{stray} inside the answer text is not a citation marker")
        cited = " ".join(f"{by_ref[r].text} {by_ref[r].date or ''}" for r in refs if r in by_ref)
        for number in NUMBER.findall(body):
            if answer.status == "answered" and number.strip("£$€%") not in cited:
                problems.append(f"{number} is not in the text cited for it")
    for citation in answer.citations:
        passage = passages.get(citation.passage_rank)
        if passage is None or citation.text not in passage.text:
            problems.append(f"citation [{citation.ref}] is not an excerpt of a retrieved passage")
    return problems
