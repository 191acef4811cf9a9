"""Reading one passage: the values of the measure its sentences state, each with the date it refers to."""

from __future__ import annotations

import re
from dataclasses import replace

from rag.dates import (
    MONTH_NAME,
    MONTH_WORDS,
    MONTHS,
    ends_after,
    financial_quarter_start,
    is_real_date,
    months_before,
    periods,
    quarter_before,
    quarter_ending,
)
from rag.read.metadata import find_council_names
from rag.text import split_sentences
from rag.trends.cues import cue_patterns, cues
from rag.trends.dashboards import read_dashboard
from rag.trends.figures import PER_AFTER, Found, Value, dates_blotted, of_its_kind, values
from rag.trends.measures import Measure, Mention, counts_time, mentions, named_in_other_words
from rag.trends.tables import read_table

MAX_GAP = 160
"""The most characters between a measure's name and a value it states."""
_LABEL_LINE = re.compile(
    r"(?im)^[ \t]*(?:as (?:of|at)|at|position (?:as )?at|figures? (?:as )?at|on)\b(.{0,40}?)[:\-–\s]*$"
)


def read_passage(
    text: str,
    measure: Measure,
    meeting_date: str | None,
    council: str | None = None,
    about: str = "",
    counted_on: str = "",
) -> list[Found]:
    """The values of `measure` that `text` states, each with its period and its sentence; not
    another area's: a value after "Nationally" or after another council's name in its sentence."""
    patterns = cue_patterns()
    found: list[Found] = []
    carried: int | None = None  # the start of the sentence that named our measure last
    previous_end = -1
    everywhere = mentions(text, measure)
    for begin, finish in split_sentences(text):
        piece = text[begin:finish]
        named = _named_in(piece, begin, everywhere, measure)
        same_line = "\n" not in text[previous_end:begin] if previous_end >= 0 else False
        owner_start = begin
        goes_on_from = ""  # the sentence this one goes on from ("This equates to a rate of ...")
        if carried is not None and same_line and patterns["carries"].match(piece):
            goes_on_from = text[carried:begin]
            if not named:
                named = [Mention(-1, -1, True)]  # "This is ... the all-time high of 702 in August 2020."
                owner_start = carried
        named = [_excluded(piece, m) for m in named]
        stated_before = len(found)
        named_at = tuple(m.start for m in named if m.ours and m.start >= 0)
        for value in values(piece, text, named_at, counts_time(measure)):
            if not _owned(piece, value, named) or _elsewhere(piece[: value.start], council):
                continue
            kind_fits = of_its_kind(measure, value.unit) or _a_share_it_is(piece, value, named)
            if not kind_fits or _subgroup(piece, value, named):
                continue
            period = _period(text, piece, begin, value, meeting_date, named, goes_on_from)
            if (
                period
                and not _restates_a_whole(piece, value, named)
                and not _forecast(piece, period, meeting_date)
            ):
                found.append(
                    Found(value.value, _value_text(piece, value), value.unit, period, owner_start, finish)
                )
        real = [m for m in named if m.start >= 0]
        if real:
            # a name found by its words goes on into the next sentence only when it stated a value
            stated = len(found) > stated_before
            carried = begin if real[-1].ours and (stated or not real[-1].loose) else None
        elif named == []:
            carried = carried if same_line else None
        previous_end = finish
    return (
        found
        + read_table(text, measure, council, about, counted_on, meeting_date)
        + read_dashboard(text, measure, meeting_date)
    )


def _named_in(sentence: str, begin: int, everywhere: list[Mention], measure: Measure) -> list[Mention]:
    """The names in a sentence (starting at `begin` in its passage), in order: those `mentions`
    found in the passage, else the measure's words in another order (`named_in_other_words`)."""
    named = [
        Mention(m.start - begin, m.end - begin, m.ours)
        for m in everywhere
        if begin <= m.start and m.end <= begin + len(sentence)
    ]
    if any(m.ours for m in named):
        return named
    loose = [
        m
        for m in named_in_other_words(sentence, measure)
        if not any(n.start < m.end and m.start < n.end for n in named)
    ]
    return sorted(named + loose, key=lambda m: m.start)


def _value_text(piece: str, value: Value) -> str:
    """The value as written, with a word that makes it approximate ("over 900")."""
    lead = piece[max(0, value.start - 20) : value.start]
    approximate = cue_patterns()["approximate"].search(lead)
    start = value.start - (len(lead) - approximate.start()) if approximate else value.start
    return piece[start : value.end].strip()


def _forecast(piece: str, period: str, meeting_date: str | None) -> bool:
    """Whether the value is a projection: its sentence forecasts ("is projected to increase ...
    to 881,000 (2022)") and its period ends after the meeting. A figure for a later period
    without such words (next year's band D charge, set by the meeting) is stated, not forecast."""
    return bool(
        meeting_date and cue_patterns()["forecast"].search(piece) and ends_after(period, meeting_date)
    )


def _excluded(piece: str, mention: Mention) -> Mention:
    """A name of ours right after "excluding" or "non-" names what is left out: not ours."""
    if mention.ours and mention.start >= 0 and cue_patterns()["excluded"].search(piece[: mention.start]):
        return replace(mention, ours=False)
    return mention


def _subgroup(piece: str, value: Value, named: list[Mention]) -> bool:
    """Whether the value is stated for a part of the measure ("smoking prevalence in routine and
    manual workers is about 30%", "to 9.2% in the 65+ age groups", "non-UASC children in care"):
    a subgroup's words between the name and the value, in the clause right after the value (or
    after the name, when the name follows the value), or just before the name."""
    group = cue_patterns()["group"]
    ours = [m for m in named if m.ours and m.start >= 0]
    before = [m for m in ours if m.end <= value.start]
    after = [m for m in ours if m.start >= value.end]
    spans = [_clause(piece[value.end : value.end + 60])]
    if before:
        spans += [
            piece[before[-1].end : value.start],
            piece[max(0, before[-1].start - 12) : before[-1].start],
        ]
    if after and cue_patterns()["modifiers"].fullmatch(piece, value.end, after[0].start):
        spans += [
            _clause(piece[after[0].end : after[0].end + 60]),
            piece[max(0, value.start - 12) : value.start],
            piece[value.end : after[0].start],  # "50 disabled children in care"
        ]
    return any(group.search(span) for span in spans)


def _clause(text: str) -> str:
    """The text up to the end of its clause: a comma, a semicolon, a bracket, a dash or a conjunction."""
    return re.split(
        r"[,;:()]|\s[-–]\s|(?<!\w)(?:and|but|which|while|whilst|compared|slightly|than|with some)(?!\w)", text
    )[0]


def _restates_a_whole(piece: str, value: Value, named: list[Mention]) -> bool:
    """Whether the value is the whole a share is taken from ("Of the 2,016 care leavers, 1,036 ..."),
    or belongs to what a name in brackets is part of ("open cases (including those for care
    leavers ...) was 11,165")."""
    after = [m for m in named if m.start >= value.end]
    if (
        after
        and not re.search(r"\w", piece[value.end : after[0].start])
        and cue_patterns()["denominator"].search(piece[: value.start])
    ):
        return True
    before = [m for m in named if 0 <= m.end <= value.start]
    if before:
        nearest = before[-1]
        opened = piece.rfind("(", 0, nearest.start)
        inside = opened >= 0 and ")" not in piece[opened : nearest.start]
        if (
            inside
            and re.search(r"\w", piece[opened + 1 : nearest.start])
            and ")" in piece[nearest.end : value.start]
        ):
            return True
    return False


def _elsewhere(before: str, council: str | None) -> bool:
    """Whether the words before a value name another area: England, or a council not the report's."""
    if cue_patterns()["elsewhere"].search(before):
        return True
    named = find_council_names(before)
    return bool(named) and named[-1] != council


def _a_share_it_is(piece: str, value: Value, named: list[Mention]) -> bool:
    """Whether a percentage is what the measure's name is said to be, though the name is no
    share's: "Unemployment in Kent stood at 4.2%", "Fuel poverty was 9.8%" (not "9.8% of
    households", a share of something else, nor "CKD in the population is 5.4%", where the name
    is what the share is of)."""
    before = [m for m in named if m.end <= value.start]
    if value.unit != "%" or not before or not before[-1].ours or before[-1].start < 0:
        return False
    if cue_patterns()["after_a_preposition"].search(dates_blotted(piece[: before[-1].start])):
        return False
    gap = dates_blotted(piece[before[-1].end : value.start])
    loose_link = cue_patterns()["loose_link"].search(gap)
    return (
        bool(loose_link)
        and loose_link.group(0).strip() not in (":", "=")
        and not re.search(r"[\d,;()]", gap)  # "... deaths in 2015 (Table 1), in 2014 this figure was 36%"
        and not _SHARE_OF_OR_CHANGE.match(piece, value.end)
    )


_SHARE_OF_OR_CHANGE = re.compile(
    r"(?i)\s+(?:of|higher|lower|more|less|fewer|greater|smaller|above|below|up|down|increase|decrease|rise|fall)\b"
)
"""After a percentage: a share of something else ("9.8% of households") or a change ("34% higher")."""


def _owned(piece: str, value: Value, named: list[Mention]) -> bool:
    """Whether the value belongs to our measure: the nearest name before it is ours and linked to
    it ("X: 507", "X ... stands at 609", "X, down from 307", "X at 31 March 2024: £357.6m"; a name
    found by its words in another order only by `loose_links`: "... was 18"), or ours comes right
    after it, or after a word or two that say what kind ("665 looked after children", "1,810
    emergency hospital admissions for self-harm"), or after whom it counts ("1,109 children
    subject to a child protection plan"), or an amount "of" it ("£746.7m of external borrowing");
    a value before the name starts its sentence or follows a link or a verb ("the council had
    450 approved foster carers")."""
    after = [m for m in named if m.start >= value.end]
    between = piece[value.end : after[0].start] if after else ""
    if (
        after
        and after[0].ours
        and (
            cue_patterns()["modifiers"].fullmatch(between)
            or cue_patterns()["counted"].fullmatch(between)
            or (value.unit == "£" and re.fullmatch(r"\s+of\s+", between))  # "£746.7m of external borrowing"
            or (after[0].loose and cue_patterns()["passive"].fullmatch(between))  # "412 pupils were excluded"
        )
    ):
        lead = piece[: value.start]  # "There were 665 ...", not "CPP rate 1 CPP rate 2"
        listed = re.search(r"\d\D{0,40}(?:,|\band)\s*$", lead)  # "1,015 children in need and 507 ..."
        # "there were 665 ...", "the council had 450 ...", "... with Middlesbrough Council: 80 ..."
        linked = (
            cue_patterns()["link"].search(lead)
            or cue_patterns()["verb_before"].search(lead)
            or re.search(r":\s*$", lead)
        )
        return not lead.strip(" -•*\t") or bool(linked or listed)
    before = [m for m in named if m.end <= value.start]
    if not before:
        return False
    nearest = before[-1]
    if not nearest.ours:
        return False
    if nearest.start < 0:  # a sentence that goes on about the one before
        return True
    gap = dates_blotted(piece[nearest.end : value.start])  # "at 31 March 2024: £357.6m" links
    if len(gap) > MAX_GAP:
        return False
    if nearest.loose:  # "treasury investments at the £200m liquidity allowance" names no value
        return bool(cue_patterns()["loose_link"].search(gap))
    # the gap ends with a link, or with an earlier period the value in brackets is for: "an
    # increase of 14 children from the end of the previous Quarter (1,095)"
    if cue_patterns()["previous_before"].search(gap):
        return True
    if _ANOTHER_NUMBER_OF.search(
        gap
    ):  # "... stable over the quarter, but the number of unaccompanied children rose to 412"
        return False
    link = cue_patterns()["link"].search(gap)
    return bool(link) and not _weak_link_in_another_clause(gap, link)


_ANOTHER_NUMBER_OF = re.compile(r"(?i)(?:[,;]|\bbut\b)[^,;]*\bnumber of\b")
"""A clause after the name that names what its own number counts."""


def _weak_link_in_another_clause(gap: str, link: re.Match) -> bool:
    """Whether the link is a preposition (`weak_links`) and an article, four or more words into a
    clause that starts after the name: the number is then a word of a thing's name ("...
    population, to demand ... the premise of the 3 basic groups", "... aligned to a 9 Box Model"),
    unless that clause names the value again ("... self-harm in West Sussex; a directly age
    standardised rate of 262.7") or is a change's start (", from 73.8% in 2016 to 78.9% in 2023").
    ("... fell this year, down by a third to 24" still links.)"""
    words = link.group(0).split()
    if not words or words[0].lower() not in cues()["value"]["weak_links"]:
        return False
    if not re.search(r"(?i)\b(?:the|a|an)\s*$", gap):
        return False
    breaks = list(re.finditer(r"[,;]|\bbut\b", gap[: link.start()]))
    clause = gap[breaks[-1].end() : link.start()].split() if breaks else []
    return len(clause) >= 4 and clause[0].lower() not in ("a", "an", "from")


def _period(
    text: str,
    piece: str,
    offset: int,
    value: Value,
    meeting_date: str | None,
    named: list[Mention],
    carried_from: str = "",
) -> str | None:
    """The date the value refers to (see `_stated_period`), else the meeting date where the
    sentence speaks of now ("currently", "there are") or is a label and its figure ("Children in
    our care: 506"); None for an undated sentence in the past tense. A value for an earlier period
    ("(1,095)" after "from the end of the previous Quarter", "450 last year") is for the stated date
    moved back by that quarter, month or year; with no stated date, it is no point."""
    patterns = cue_patterns()
    earlier = patterns["previous_before"].search(piece[max(0, value.start - 100) : value.start])
    earlier = earlier or patterns["previous_after"].match(piece, value.end)
    stated = _stated_period(text, piece, offset, value, named, carried_from, meeting_date)
    if earlier:
        unit = re.findall(r"(?i)\b(?:quarter|month|year)\b", earlier.group("previous"))[-1].lower()
        return months_before(stated, {"quarter": 3, "month": 1, "year": 12}[unit]) if stated else None
    if stated:
        return stated
    labelled = re.search(r"[:=]\s*$", piece[: value.start])  # "Number of children in our care: 506"
    if labelled or patterns["current"].search(piece) or patterns["present"].search(piece):
        return meeting_date
    return None


def _stated_period(
    text: str,
    piece: str,
    offset: int,
    value: Value,
    named: list[Mention],
    carried_from: str,
    meeting_date: str | None,
) -> str | None:
    """The date written for the value: one right after it ("702 in August 2020", "433 children in
    our care at the end of June 2017", "815,000 (2012)"; a month without its year, "31,200 in
    September", is the last such month up to the sentence's date before the value, else up to the
    meeting's), else the nearest before it in its sentence ("In June 2017 the number ... was 276"),
    else one later in its sentence after "in" or "between" ("665 children in West Sussex in
    2016/17"), else a month or quarter without its year in the value's clause, or opening the
    sentence, when the sentence names no other month or date ("The number ... in December was 175",
    "In Quarter 3, a total of 106 ..."), else the last date of the sentence
    it goes on from ("On 31st December 2024, there were 1,109 ... The rate ... was 32.9"), else a
    label line above it in the passage ("As of 10th August 2018:-")."""
    dated = periods(piece)
    for start, _, period in dated:
        between = piece[value.end : start]
        for mention in reversed([m for m in named if m.ours and value.end <= m.start and m.end <= start]):
            between = between[: mention.start - value.end] + " " + between[mention.end - value.end :]
        per = PER_AFTER.match(between)  # "412.5 per 100,000 in 2015/16"
        between = between[per.end() :] if per else between
        if start >= value.end and re.fullmatch(
            r"(?:\s+(?:years?|months?|weeks?|days?|hours?)\b)?"  # "77.8 years in 2002"
            r"[\s,)“”\"‘’]*\(?\s*(?:(?:in|at|on|as of|as at|by|during|for|at the end of|end of|the end of)\s+)?(?:the\s+)?",
            between,
            flags=re.IGNORECASE,
        ):
            return period
    earlier = [(start, end, period) for start, end, period in dated if end <= value.start]
    right_after = _BARE_PERIOD.match(piece, value.end)
    reference = earlier[-1][2].split("/")[-1] if earlier else meeting_date
    if right_after and reference and is_real_date(reference[:7]):
        return _up_to(right_after, reference)
    if earlier:
        return _both(piece, earlier[-2:]) or earlier[-1][2]
    for start, _, period in dated:  # "665 children in West Sussex in 2016/17"
        between = piece[value.end : start]
        if start >= value.end and _PERIOD_BEFORE.search(between) and not _CLAUSE_BREAK.search(between):
            return period
    bare = list(_BARE_PERIOD.finditer(piece))
    undated = {("month", MONTHS[m.lower()]) for m in re.findall(rf"\b{MONTH_NAME}\b", piece)}
    undated |= {_named(m) for m in bare}
    if not dated and len(undated) == 1 and bare and meeting_date and is_real_date(meeting_date[:7]):
        first = bare[0]
        apart = piece[min(value.end, first.end()) : max(value.start, first.start())]
        opening = not piece[: first.start()].strip() and first.end() <= value.start
        if opening:  # "In Quarter 3, a total of 106 ...": the opening phrase dates the first clause
            apart = apart.lstrip(" ,")
        if not _CLAUSE_BREAK.search(apart):  # not "175, compared with 160 in December"
            return _up_to(first, meeting_date)
    carried = periods(carried_from)
    if carried:
        return carried[-1][2]
    return _period_above(text, piece, offset, meeting_date)


def _named(match: re.Match) -> tuple[str, int]:
    """What a `_BARE_PERIOD` names: ("month", 12) for "in December", ("quarter", 3) for "in Q3"."""
    if match.group("month"):
        return "month", MONTHS[match.group("month").lower()]
    return "quarter", int(match.group("quarter"))


def _up_to(match: re.Match, date: str) -> str:
    """The last month or financial quarter `match` names up to `date`'s month: "December" up to
    2025-02 is 2024-12; "Quarter 3" (October to December) up to 2025-03 is 2024-10/2024-12, up to
    2024-09 is 2023-10/2023-12."""
    kind, number = _named(match)
    year, last = map(int, date[:7].split("-"))
    if kind == "month":
        return f"{year - (number > last):04d}-{number:02d}"
    first = financial_quarter_start(number)
    year -= first > last
    return f"{year:04d}-{first:02d}/{year:04d}-{first + 2:02d}"


_BARE_PERIOD = re.compile(
    rf"(?i)[\s,]*(?<![\w-])(?:in|during|as of|as at|by|at the end of|end of|the end of)\s+(?:the\s+)?"
    rf"(?:(?P<month>{MONTH_WORDS})|(?:Q|quarter\s*)(?P<quarter>[1-4]))\b"
    r"(?![\s.,]*(?:\d|of\s+\d))"
)
"""A month or a quarter's number after "in", "as at", "at the end of" with no year or day of its
own ("in December", "during Quarter 3")."""


def _period_above(text: str, piece: str, offset: int, meeting_date: str | None = None) -> str | None:
    """The period the passage gives above a sentence with none of its own: for "... in the
    Quarter", the quarter that ends on the last date above ("On 31st December 2024"), else the
    last quarter that ended before the meeting's month ("this quarter" in a report to a meeting of
    March 2025: October to December 2024); else a label line's ("As of 10th August 2018:-")."""
    if cue_patterns()["this_quarter"].search(piece):
        before = periods(text[:offset])
        quarter = quarter_ending(before[-1][2]) if before else None
        if not before and meeting_date and is_real_date(meeting_date[:7]):
            quarter = quarter_before(meeting_date)
        if quarter:
            return quarter
    for line in reversed(list(_LABEL_LINE.finditer(text[:offset]))):
        found = periods(line.group(0))
        if found:
            return found[0][2]
    return None


_BOTH = re.compile(r"(?i)(?:during|in|over|across|for)\s+(?:the\s+)?(?:years\s+)?$")


def _both(piece: str, dated: list[tuple[int, int, str]]) -> str | None:
    """The span of two periods a total is for: "During 2014/15 and 2015/16, there were 3,861"
    is for April 2014 to March 2016. None unless the sentence gives two periods that way."""
    if len(dated) < 2:
        return None
    (first_start, first_end, first), (second_start, _, second) = dated
    joined = re.fullmatch(r"\s+and\s+", piece[first_end:second_start])
    if not joined or not _BOTH.search(piece[:first_start]):
        return None
    return f"{first.split('/')[0]}/{second.split('/')[-1]}"


_CLAUSE_BREAK = re.compile(r"(?i)[,;:()]|(?<!\w)(?:and|but|with|who|which|where|while|whilst|than)(?!\w)")
_PERIOD_BEFORE = re.compile(
    r"(?i)(?<![\w-])(?:in|during|between|as of|as at|at the end of|end of|by the end of|for)\s+(?:the\s+)?(?:year\s+)?$"
)
