"""Trends: every statement of one measure's value in the indexed reports, in date order, each cited.

Exhaustive, not top-k: the keyword index finds every passage that names the measure (by any of
its glossary names), and a rule-based reader takes from each sentence the numbers that state the
measure's value. Its cue words (what links a name to its value, what marks a change, a comparator,
a label or another thing counted) are data, in rag/trend_cues.toml; the measures' names come from
rag/glossary.toml. A number belongs to the nearest measure named before it in its sentence (or
right after it), so "Current Children in Need (CIN): 1015" is never a point of children looked
after. Each point keeps apart the date its value refers to (`period`) and its report's meeting date.
"""

from __future__ import annotations

import bisect
import csv
import fnmatch
import io
import itertools
import json
import re
import time
import tomllib
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache

from rag.data import data_file
from rag.dates import MONTH_WORDS, MONTHS, YEAR, is_real_date, period_key, periods
from rag.errors import QuestionError
from rag.glossary import glossary
from rag.index.store import Index
from rag.read.metadata import council_names, find_council_names
from rag.text import AMOUNT, SCALES, phrases_pattern, split_sentences
from rag.types import Quote

FTS_SYNTAX = set('"*^():{}[]+~<>=;\\')
MAX_GAP = 160
"""The most characters between a measure's name and a value it states."""


@lru_cache(maxsize=1)
def cues() -> dict:
    return tomllib.loads(data_file("trend_cues.toml").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _cue_patterns() -> dict[str, re.Pattern[str]]:
    value = cues()["value"]
    return {
        "link": re.compile(
            rf"(?i)(?:^|(?<=\W))(?:{phrases_pattern(value['links'])})"
            rf"(?:\s+(?:{phrases_pattern(value['qualifiers'])}))*[\s:=(]*$"
        ),
        "change": re.compile(rf"(?i)(?<![\w-])(?:{phrases_pattern(value['change_before'])})[\s(]*$"),
        "comparator": re.compile(rf"(?i)(?<![\w-])(?:{phrases_pattern(value['comparator_before'])})\W*$"),
        "label": re.compile(rf"(?i)(?<![\w-])(?:{phrases_pattern(value['label_before'])})[\s.]*$"),
        "other": re.compile(rf"(?i)^\s*(?:{phrases_pattern(value['other_after'])})(?![\w])"),
        "counted": re.compile(
            rf"(?i)\s+(?:{phrases_pattern(value['counted'])})\s+(?:{phrases_pattern(value['counted_joins'])})"
            r"\s+(?:(?:an?|the|their)\s+)?"
        ),
        "thing": re.compile(rf"(?i)[\s”’\"')]*(?:{phrases_pattern(value['other_things'])})\b"),
        "carries": re.compile(rf"(?i)\W*(?:{phrases_pattern(value['carries_on'])})\b"),
        "elsewhere": re.compile(rf"(?i)(?<![\w-])(?:{phrases_pattern(value['elsewhere'])})(?![\w-])"),
        "current": re.compile(rf"(?i)(?<![\w-])(?:{phrases_pattern(cues()['period']['current'])})(?![\w-])"),
        "present": re.compile(rf"(?i)(?<![\w-])(?:{phrases_pattern(cues()['period']['present'])})(?![\w-])"),
        "group": re.compile(
            rf"(?i)(?<![\w])(?:{phrases_pattern(cues()['subgroup']['phrases'])})(?![\w])|{_AGE}"
        ),
        "denominator": re.compile(
            rf"(?i)(?<![\w-])(?:{phrases_pattern(cues()['subgroup']['denominator_before'])})\s*$"
        ),
        "excluded": re.compile(
            rf"(?i)(?<![\w-])(?:{phrases_pattern(cues()['subgroup']['excluded_before'])})[\s-]*$"
        ),
        "share": re.compile(rf"(?i)(?<![\w-])(?:{phrases_pattern(cues()['kind']['share_words'])})(?![\w-])"),
        "approximate": re.compile(
            rf"(?i)(?<![\w-])(?:{phrases_pattern(cues()['value']['approximate'])})\s+$"
        ),
    }


_AGE = r"\d+\s?\+|\b\d+\s?(?:-|–|to)\s?\d+\s?year"
"""An age group: "65+", "16-24 year olds"."""


# --- measures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """What the user asked for, and every name the reports may give it."""

    asked: str
    names: tuple[str, ...]


def _name_pattern(name: str) -> str:
    """A name as the reports write it: any case (acronyms in capitals), words joined by spaces,
    hyphens or quotes (“Looked After” Children), a plural s."""
    acronym = name.isupper() or bool(re.fullmatch(r"[A-Z][A-Za-z]*[A-Z][a-z]?", name))
    words = re.findall(r"[\w']+|[^\w\s]", name)
    body = r"[\s\-“”\"‘’]*".join(re.escape(w) for w in words)
    return ("" if acronym else "(?i:") + body + ("" if acronym else ")")


def _same_name(a: str, b: str) -> bool:
    def norm(s: str) -> str:
        return " ".join(re.findall(r"[a-z0-9']+", s.lower())).removesuffix("s")

    return norm(a) == norm(b)


def find_measure(asked: str) -> Measure:
    """The measure named by `asked`, with the other names of its glossary term (every term that
    has that name: "children in need" is both CIN and Section 17). Not in the glossary: the words
    as given. Raises QuestionError for an empty name or one with search syntax in it."""
    asked = " ".join(asked.split())
    if not re.search(r"\w", asked):
        raise QuestionError('the measure is empty: name one, e.g. rag trend "children looked after"')
    bad = sorted(set(asked) & FTS_SYNTAX)
    if bad:
        raise QuestionError(
            f"the measure {asked!r} holds search syntax ({' '.join(bad)}): give its name in plain words, "
            'e.g. rag trend "children looked after"'
        )
    names: list[str] = []
    for term in glossary():
        if any(_same_name(asked, name) for name in term.names):
            names += term.names
    return Measure(asked, tuple(dict.fromkeys(names or [asked])))


@lru_cache(maxsize=64)
def _names_by_first_word(names: tuple[str, ...]) -> dict[str, list[tuple[bool, re.Pattern[str]]]]:
    """Every glossary name and the measure's own, by their first word in lower case: (ours,
    pattern), longest first. Looking names up word by word is fast where one regex of a hundred
    alternatives, tried at every character, is not."""
    everything = list(dict.fromkeys([*names, *(n for t in glossary() for n in t.names)]))
    by_word: dict[str, list[tuple[int, bool, re.Pattern[str]]]] = {}
    for name in everything:
        first = re.match(r"[\w']+", name)
        if first:
            pattern = re.compile(rf"{_name_pattern(name)}s?(?![\w-])")
            by_word.setdefault(first.group(0).lower(), []).append((len(name), name in names, pattern))
    return {w: [(ours, p) for _, ours, p in sorted(c, key=lambda c: -c[0])] for w, c in by_word.items()}


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    ours: bool


_WORD = re.compile(r"(?<![\w-])[\w']+")


def mentions(text: str, measure: Measure) -> list[Mention]:
    """Where `text` names a measure: ours, or another (a glossary name that is not ours, or ours
    followed by a word that makes it name something else: "LAC Teams")."""
    by_word = _names_by_first_word(measure.names)
    thing = _cue_patterns()["thing"]
    found: list[Mention] = []
    end = 0
    for word in _WORD.finditer(text):
        if word.start() < end:
            continue
        for ours, pattern in by_word.get(word.group(0).lower().removesuffix("'s"), ()):
            match = pattern.match(text, word.start())
            if match:
                end = match.end()
                found.append(Mention(match.start(), end, ours and not thing.match(text, end)))
                break
    return found


# --- values and periods ------------------------------------------------------------------------

_RATE = re.compile(r"(?i)\brate\b[^.\d]{0,40}$")
_PER = re.compile(r"(?i)per\s+(10,000|1,000|100,000|100)\b")
_YEAR_WORD = re.compile(rf"^{YEAR}$")


@dataclass(frozen=True)
class Value:
    start: int
    end: int
    value: float
    text: str
    unit: str


def values(text: str, context: str = "") -> list[Value]:
    """The numbers of `text` that may be a measure's value, with their units: not dates, years,
    labels ("paragraph 9", "Section 17"), ages or durations, changes ("a reduction of 93") or
    comparators' figures ("similar to England (18%)")."""
    dated = [(a, b) for a, b, _ in periods(text)]
    found = []
    for match in AMOUNT.finditer(text):
        start, end = match.span()
        if any(a <= start < b for a, b in dated):
            continue
        number = match.group("number") + (match.group("decimals") or "")
        plain = not match.group("currency") and not match.group("percent")
        if plain and _YEAR_WORD.match(number):
            continue
        before, after = text[max(0, start - 40) : start], text[end : end + 30]
        if _not_a_value(before, after, plain):
            continue
        value, unit = _amount(match)
        if unit == "count" and _RATE.search(before):
            per = _PER.search(text) or _PER.search(context)
            unit = f"rate per {per.group(1)}" if per else "rate"
        found.append(Value(start, end, value, match.group(0).strip(), unit))
    return found


def _amount(match: re.Match) -> tuple[float, str]:
    """An AMOUNT match's value (an amount of money scaled: "£1.2m" is 1,200,000) and its unit:
    "£", "%" or "count"."""
    value = float((match.group("number") + (match.group("decimals") or "")).replace(",", ""))
    if match.group("currency"):
        return value * SCALES.get((match.group("scale") or "").lower(), 1), "£"
    return value, "%" if match.group("percent") else "count"


_NOT_A_VALUE_AFTER = re.compile(
    r"(?:st|nd|rd|th)\b"  # an ordinal
    r"|\s*[-–]\s*\d"  # the start of a range "16-24"
    rf"|(?i:\s+(?:{MONTH_WORDS})\b)"  # a day of a month: "31 March"
    r"|\s+\d"  # a row of a table of figures, its columns unnamed: "Key 50 61 62 65"
)
_NOT_A_VALUE_BEFORE = re.compile(
    r"\d\s+(?:to|and|or|-|–)\s+$"  # the end of a range "aged 15 to 21"
    r"|\[\s*$"  # a reference "[26]"
    r"|\d\s+$"  # a row of a table of figures
)
_LINE_START = re.compile(r"(?:^|\n)\s*(?:-\s*)?$")


def _not_a_value(before: str, after: str, plain: bool) -> bool:
    """Whether a number, between `before` and `after`, is no measure's value: see `values`."""
    patterns = _cue_patterns()
    if _NOT_A_VALUE_AFTER.match(after) or _NOT_A_VALUE_BEFORE.search(before):
        return True
    if plain and (patterns["other"].match(after) or _LINE_START.search(before)):
        return True  # counts something else, or a paragraph number at a line's start
    if any(patterns[kind].search(before) for kind in ("label", "change", "comparator")):
        return True
    return bool(re.match(r"[.)]\s", after) and _LINE_START.search(before))  # a list's number "3) "


# --- reading one passage ---------------------------------------------------------------------

_PARAGRAPH_START = re.compile(r"(?m)^[ \t]*(?:-\s*)?(\d+(?:\.\d+)*)[.)]?\s")
_LABEL_LINE = re.compile(
    r"(?im)^[ \t]*(?:as (?:of|at)|at|position (?:as )?at|figures? (?:as )?at|on)\b(.{0,40}?)[:\-–\s]*$"
)


@dataclass(frozen=True)
class Found:
    """One value of the measure stated in a passage."""

    value: float
    value_text: str
    unit: str
    period: str
    start: int
    end: int
    """The span of the sentence (or sentences) stating it, in the passage."""


def read_passage(
    text: str, measure: Measure, meeting_date: str | None, council: str | None = None, about: str = ""
) -> list[Found]:
    """The values of `measure` that `text` states, each with its period and its sentence; not
    another area's: a value after "Nationally" or after another council's name in its sentence."""
    patterns = _cue_patterns()
    found: list[Found] = []
    carried: int | None = None  # the start of the sentence that named our measure last
    previous_end = -1
    everywhere = mentions(text, measure)
    for begin, finish in split_sentences(text):
        piece = text[begin:finish]
        named = [
            Mention(m.start - begin, m.end - begin, m.ours)
            for m in everywhere
            if begin <= m.start and m.end <= finish
        ]
        same_line = "\n" not in text[previous_end:begin] if previous_end >= 0 else False
        owner_start = begin
        if not named and carried is not None and same_line and patterns["carries"].match(piece):
            named = [Mention(-1, -1, True)]  # "This is ... the all-time high of 702 in August 2020."
            owner_start = carried
        named = [_excluded(piece, m) for m in named]
        for value in values(piece, text):
            if not _owned(piece, value, named) or _elsewhere(piece[: value.start], council):
                continue
            if not _of_its_kind(measure, value.unit):
                continue
            if _subgroup(piece, value, named) or _restates_a_whole(piece, value, named):
                continue
            period = _period(text, piece, begin, value, meeting_date, named)
            if period:
                lead = piece[max(0, value.start - 20) : value.start]
                approximate = patterns["approximate"].search(lead)
                start = value.start - (len(lead) - approximate.start()) if approximate else value.start
                value_text = piece[start : value.end].strip()
                found.append(Found(value.value, value_text, value.unit, period, owner_start, finish))
        real = [m for m in named if m.start >= 0]
        if real:
            carried = begin if real[-1].ours else None
        elif named == []:
            carried = carried if same_line else None
        previous_end = finish
    return found + read_table(text, measure, council, about)


def _of_its_kind(measure: Measure, unit: str) -> bool:
    """Whether a value in `unit` can be the measure's: a share or a rate for a measure named as
    one ("smoking prevalence"), not a count; a count, amount or rate for any other, not a share
    (of something else)."""
    share = bool(_cue_patterns()["share"].search(" ".join([measure.asked, *measure.names])))
    return unit == "%" or unit.startswith("rate") if share else unit != "%"


TABLE_ROWS = 12
"""Most rows read below a table's header line."""
_COUNCIL_KIND = re.compile(r"(?i)\s+(?:county|borough|district|city|metropolitan|unitary)?\s*council$")


def read_table(text: str, measure: Measure, council: str | None = None, about: str = "") -> list[Found]:
    """The values of `measure` in a table of figures whose header line names three or more periods
    ("Status Dec-23 Mar-24 Jun-24 ...", "2007 2008 2009 ..."): in the row the measure names ("UASC
    531 480 476"), or, where the passage names the measure above the table, in its "Total" row or
    the row of the report's own council ("West Sussex 20.00 23.00 ...") when the measure named last
    above the table is ours (not "Table 18 Children Looked After" under a sentence about child
    protection plans). The n-th cell of the row is the value for the n-th column of the header (a
    "-" is a column without a figure, in the header or in a row); a row with fewer cells than
    the header is not read. `about` (the report's title and the passage's heading) counts as above
    the table: a table often starts a passage of its own. Figures under a title that names a rate
    ("... rate, per 10,000 children") are that rate."""
    lines = [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", text)]
    found: list[Found] = []
    own = _COUNCIL_KIND.sub("", council or "").strip().lower()
    for number, (start, end) in enumerate(lines):
        cells = _header_cells(text[start:end])
        columns = [c for c in cells if c]
        if len(columns) < 3 or len(set(columns)) < len(columns):
            continue
        dated = dict(zip(columns, _on_the_day(columns, text[max(0, start - 200) : start])))
        cells = [dated.get(c) for c in cells]
        rows, percent = _table_rows(text, lines[number + 1 : number + 1 + TABLE_ROWS], len(cells))
        named = [row for row in rows if _names_only(row[2], measure)]
        above = mentions(f"{about}\n{text[:start]}", measure)
        if not named and above and above[-1].ours:  # the measure named last above it is ours
            named = [
                row for row in rows if _place(row[2]) in ("total", "all") or (own and own == _place(row[2]))
            ]
        rate = _table_rate(f"{about}\n{text[max(0, start - 300) : start]}")
        for row_start, row_end, _, figures in named[:1]:
            for period, figure in zip(cells, figures):
                if period and figure:
                    value, unit, written = figure
                    if unit == "count":
                        unit = "%" if percent else rate or unit
                    if _of_its_kind(measure, unit):
                        found.append(Found(value, written, unit, period, row_start, row_end))
    return found


def _table_rows(text: str, lines: list[tuple[int, int]], cells: int) -> tuple[list[tuple], bool]:
    """The rows under a header of `cells` columns, each (start, end, label, figures), up to the
    first line that is not a row; and whether a "% % %" line under the header makes them shares.
    A row with fewer cells than the header, or whose figures ran together in the PDF's text
    ("----414.20349.40"), is passed over."""
    rows = []
    percent = False
    for row_start, row_end in lines:
        line = text[row_start:row_end]
        if set(line.split()) == {"%"}:
            percent = True
            continue
        label, figures = _row(line)
        if figures is None:
            continue
        if not any(figures):
            break
        if len(figures) >= cells:
            rows.append((row_start, row_end, label, figures))
    return rows, percent


def _table_rate(above: str) -> str | None:
    """The unit of a table's plain figures when the last line above it that names a rate says so
    ("Children looked after rate, per 10,000 children aged under 18": "rate per 10,000")."""
    for line in reversed(above.splitlines()):
        if re.search(r"(?i)\brates?\b", line):
            per = _PER.search(line)
            return f"rate per {per.group(1)}" if per else "rate"
    return None


_AT_A_DAY = re.compile(
    rf"(?i)\b(?:at|on|as at|as of)\s+(\d{{1,2}})(?:st|nd|rd|th)?\s+({MONTH_WORDS})\b(?!\s*,?\s*\d)"
)


def _on_the_day(columns: list[str], above: str) -> list[str]:
    """Year columns under a title that names the day of the year they are counted on ("Children
    Looked After at 31 March" / "2009 2010 ..."): each year's period is that day."""
    day = None
    for day in _AT_A_DAY.finditer(above):
        pass
    if not day or not all(len(c) == 4 for c in columns):
        return columns
    month = MONTHS[day.group(2).lower()]
    dated = [f"{year}-{month:02d}-{int(day.group(1)):02d}" for year in columns]
    return dated if all(is_real_date(d) for d in dated) else columns


def _names_only(label: str, measure: Measure) -> bool:
    """Whether a row's label is the measure's name (most of its letters), not a row of a part of
    it ("Non-UASC") or of something else that mentions it ("CP 881 Essex")."""
    ours = [m for m in mentions(label, measure) if m.ours]
    letters = sum(c.isalpha() for c in label)
    named = sum(c.isalpha() for m in ours for c in label[m.start : m.end])
    return bool(ours) and not label.lower().startswith("non") and named * 2 >= letters


def _place(label: str) -> str:
    """A row's label in lower case without a leading code ("938 West Sussex": "west sussex")."""
    return re.sub(r"^[\d\s]+", "", label).lower()


_NO_FIGURE = ("-", "–")
"""A table's cell with no figure: a column kept empty in the header, a value missing in a row."""


def _header_cells(line: str) -> list[str | None]:
    """A header line's columns, in order: each a period, or None for a "-" column; the words
    before the first period (the table's label) and after the last (a "previous year" column of
    changes) are no columns. A period written in two words ("June 2017") is one column."""
    dated = periods(line)
    found = {start: period for start, _, period in dated}
    ends = {end for _, end, _ in dated}
    cells: list[str | None] = []
    inside = None  # the end of a period of several words being read
    for token in re.finditer(r"\S+", line):
        if inside is not None:
            inside = None if token.end() >= inside else inside
            continue
        if token.start() in found:
            cells.append(found[token.start()])
            if token.end() not in ends:
                inside = min(e for e in ends if e > token.start())
        elif token.group() in _NO_FIGURE:
            cells.append(None)
        elif any(cells):
            break
        else:
            cells = []  # a word of the label: the columns start after it
    while cells and cells[-1] is None:
        cells.pop()
    return cells


def _row(line: str) -> tuple[str, list[tuple[float, str, str] | None] | None]:
    """A table row's label (its words up to the last one that is not a figure) and its cells
    after that, each (value, unit, as written), or None for a "-" (no figure); a negative figure
    (a change column) is read as one. No cells ([]) for a line that is not a row; None for a row
    whose figures ran together in the PDF's text ("----414.20349.40")."""
    tokens = line.split()
    last_word = max((i for i, t in enumerate(tokens) if re.search(r"[A-Za-z]", t)), default=-1)
    label = " ".join(tokens[: last_word + 1])
    figures: list[tuple[float, str, str] | None] = []
    for token in tokens[last_word + 1 :]:
        if token in _NO_FIGURE:
            figures.append(None)
            continue
        negative = token[:1] in ("-", "−")
        match = AMOUNT.fullmatch(token[1:] if negative else token)
        if not match:
            return label, None if re.fullmatch(r"[\d.,\-−–%]+", token) else []
        value, unit = _amount(match)
        figures.append((-value if negative else value, unit, token))
    return label, figures


def _excluded(piece: str, mention: Mention) -> Mention:
    """A name of ours right after "excluding" or "non-" names what is left out: not ours."""
    if mention.ours and mention.start >= 0 and _cue_patterns()["excluded"].search(piece[: mention.start]):
        return replace(mention, ours=False)
    return mention


def _subgroup(piece: str, value: Value, named: list[Mention]) -> bool:
    """Whether the value is stated for a part of the measure ("smoking prevalence in routine and
    manual workers is about 30%", "to 9.2% in the 65+ age groups", "non-UASC children in care"):
    a subgroup's words between the name and the value, in the clause right after the value (or
    after the name, when the name follows the value), or just before the name."""
    group = _cue_patterns()["group"]
    ours = [m for m in named if m.ours and m.start >= 0]
    before = [m for m in ours if m.end <= value.start]
    after = [m for m in ours if m.start >= value.end]
    spans = [_clause(piece[value.end : value.end + 60])]
    if before:
        spans += [
            piece[before[-1].end : value.start],
            piece[max(0, before[-1].start - 12) : before[-1].start],
        ]
    if after and not re.search(r"\w", piece[value.end : after[0].start]):
        spans += [
            _clause(piece[after[0].end : after[0].end + 60]),
            piece[max(0, value.start - 12) : value.start],
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
        and _cue_patterns()["denominator"].search(piece[: value.start])
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
    if _cue_patterns()["elsewhere"].search(before):
        return True
    named = find_council_names(before)
    return bool(named) and named[-1] != council


def _owned(piece: str, value: Value, named: list[Mention]) -> bool:
    """Whether the value belongs to our measure: the nearest name before it is ours and linked to
    it ("X: 507", "X ... stands at 609", "X, down from 307"), or ours comes right after it
    ("665 looked after children"), or after whom it counts ("1,109 children subject to a child
    protection plan")."""
    after = [m for m in named if m.start >= value.end]
    between = piece[value.end : after[0].start] if after else ""
    if (
        after
        and after[0].ours
        and (re.fullmatch(r"[\s“”\"‘’]*", between) or _cue_patterns()["counted"].fullmatch(between))
    ):
        lead = piece[: value.start]  # "There were 665 ...", not "CPP rate 1 CPP rate 2"
        listed = re.search(r"\d\D{0,40}(?:,|\band)\s*$", lead)  # "1,015 children in need and 507 ..."
        return not lead.strip(" -•*\t") or bool(_cue_patterns()["link"].search(lead) or listed)
    before = [m for m in named if m.end <= value.start]
    if not before:
        return False
    nearest = before[-1]
    if not nearest.ours:
        return False
    if nearest.start < 0:  # a sentence that goes on about the one before
        return True
    gap = piece[nearest.end : value.start]
    return len(gap) <= MAX_GAP and bool(_cue_patterns()["link"].search(gap))  # the gap ends with a link


def _period(
    text: str, piece: str, offset: int, value: Value, meeting_date: str | None, named: list[Mention]
) -> str | None:
    """The date the value refers to: one written right after it ("702 in August 2020", "433
    children in our care at the end of June 2017"), else the
    nearest before it in its sentence ("In June 2017 the number ... was 276"), else a label line
    above it in the passage ("As of 10th August 2018:-"), else one later in its sentence after "in"
    ("665 children in West Sussex in 2016/17"), else the meeting date where the sentence speaks of
    now ("currently", "there are") or is a label and its figure ("Children in our care: 506"); None for an undated sentence in the past tense."""
    dated = periods(piece)
    for start, _, period in dated:
        between = piece[value.end : start]
        for mention in reversed([m for m in named if m.ours and value.end <= m.start and m.end <= start]):
            between = between[: mention.start - value.end] + " " + between[mention.end - value.end :]
        if start >= value.end and re.fullmatch(
            r"[\s,)“”\"‘’]*(?:\(?\s*(?:in|at|on|as of|as at|by|during|for|at the end of|end of|the end of)\s+)?(?:the\s+)?",
            between,
            flags=re.IGNORECASE,
        ):
            return period
    earlier = [period for start, end, period in dated if end <= value.start]
    if earlier:
        return earlier[-1]
    for start, _, period in dated:  # "665 children in West Sussex in 2016/17"
        between = piece[value.end : start]
        if start >= value.end and _PERIOD_BEFORE.search(between) and not _CLAUSE_BREAK.search(between):
            return period
    for line in reversed(list(_LABEL_LINE.finditer(text[:offset]))):
        found = periods(line.group(0))
        if found:
            return found[0][2]
    patterns = _cue_patterns()
    labelled = re.search(r"[:=]\s*$", piece[: value.start])  # "Number of children in our care: 506"
    if labelled or patterns["current"].search(piece) or patterns["present"].search(piece):
        return meeting_date
    return None


_CLAUSE_BREAK = re.compile(r"(?i)[,;:()]|(?<!\w)(?:and|but|with|who|which|where|while|whilst|than)(?!\w)")
_PERIOD_BEFORE = re.compile(
    r"(?i)(?<![\w-])(?:in|during|as of|as at|at the end of|end of|by the end of|for)\s+(?:the\s+)?(?:year\s+)?$"
)


# --- the trend -------------------------------------------------------------------------------


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
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "found" if self.points else "not_found"

    def to_dict(self) -> dict:
        return {
            "measure": self.measure,
            "status": self.status,
            "points": [p.to_dict() for p in self.points],
            "timings_ms": self.timings_ms,
        }


def _fts_query(names: tuple[str, ...]) -> str:
    phrases = ['"' + " ".join(re.findall(r"\w+", n)) + '"' for n in names if re.search(r"\w", n)]
    return " OR ".join(dict.fromkeys(phrases))


def _paragraph(text: str, start: int, paragraphs: list[str]) -> str | None:
    """The report's number of the paragraph the sentence at `start` is in."""
    labels = [m.group(1) for m in _PARAGRAPH_START.finditer(text[: start + 12]) if m.group(1) in paragraphs]
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
) -> Trend:
    """Every stated value of the measure in the index, one point per value and period, in period
    order. `council` (part of a name) and `source` (a glob) choose reports; `since` and `until`
    (ISO dates, inclusive) choose points by the date their value refers to."""
    started = time.perf_counter()
    measure = find_measure(measure_name)
    rows = index.query(
        f"SELECT {_PASSAGE_COLUMNS} FROM chunks_fts f JOIN chunks c ON c.row = f.rowid"
        " JOIN documents d USING (doc_id) WHERE chunks_fts MATCH ? ORDER BY c.row",
        [_fts_query(measure.names)],
    )
    searched = time.perf_counter()
    rows = [r for r in rows if _accepts_document(r, council, source)]
    # the keyword index also matches a name in another case ("lac" for LAC): ours only
    naming = [r for r in rows if any(m.ours for m in mentions(r["text"], measure))]
    raw: list[Point] = []
    for row in naming:
        about = f"{row['title']}\n{row['heading'] or ''}"
        found = read_passage(row["text"], measure, row["date"], row["council"], about)
        raw += [_point(row, item) for item in found if _in_range(item.period, since, until)]
    for row, item in _tables_going_on(index, naming, measure):
        if _in_range(item.period, since, until):
            raw.append(_point(row, item))
    named = len(naming)
    points = merge(raw)
    result = Trend(measure.asked, points, named)
    if not rows and not named:
        result.message = _nothing_message(index, measure, council, source)
    elif not named:
        result.message = f"no passage names {_names(measure)}" + _within(council, source)
    elif not points:
        dates = f" between {since or 'the start'} and {until or 'now'}" if since or until else ""
        result.message = (
            f"{named} passages name {_names(measure)}{_within(council, source)}, "
            f"but none states its value{dates}"
        )
    result.timings_ms = {
        "search": round((searched - started) * 1000, 1),
        "extract": round((time.perf_counter() - searched) * 1000, 1),
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


def _point(row, item: Found) -> Point:
    citation = Quote(
        row["doc_id"],
        row["title"],
        row["source"],
        row["page"],
        _paragraph(row["text"], item.start, json.loads(row["paragraphs"])),
        row["date"],
        row["text"][item.start : item.end],
    )
    return Point(item.value, item.value_text, item.unit, item.period, row["council"], citation)


def _tables_going_on(index: Index, rows: list, measure: Measure) -> list[tuple[object, Found]]:
    """The table values in the passages just after each passage that names the measure (the
    passage and those after it read as one text by `read_table`), each with the passage it is in."""
    wanted = sorted({r["row"] + step for r in rows for step in range(1, TABLE_PASSAGES + 1)})
    after = (
        {
            r["row"]: r
            for r in index.query(
                f"SELECT {_PASSAGE_COLUMNS} FROM chunks c JOIN documents d USING (doc_id)"
                f" WHERE c.row IN ({','.join('?' * len(wanted))})",
                wanted,
            )
        }
        if wanted
        else {}
    )
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
        for item in read_table(text, measure, row["council"], about):
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
    return f"no passage names {_names(measure)}{_within(council, source)}: try another name for the measure"


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


# --- output ------------------------------------------------------------------------------------

CSV_FIELDS = [
    "period",
    "value",
    "value_text",
    "unit",
    "council",
    "title",
    "date",
    "source",
    "page",
    "paragraph",
    "text",
    "also_in",
]


def trend_csv(result: Trend) -> str:
    """One row per point; `also_in` lists the other sources, separated by ';'."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for point in result.points:
        item = point.to_dict()
        writer.writerow(
            {
                **{k: item[k] for k in ("period", "value", "value_text", "unit", "council")},
                **{k: item["citation"][k] for k in ("title", "date", "source", "page", "paragraph", "text")},
                "also_in": ";".join(c["source"] for c in item["also_in"]),
            }
        )
    return out.getvalue()


def printable(text: str) -> str:
    """Text with control characters escaped (a tab as \\t), for a terminal."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def trend_table(result: Trend, width: int = 100) -> str:
    """The points as a plain-text table: period, value, council, where; the sentence beneath."""
    lines = [f"{result.measure}: {len(result.points)} points"]
    for point in result.points:
        where = ", ".join(
            x
            for x in (
                point.citation.title,
                point.citation.date,
                point.citation.page and f"page {point.citation.page}",
                point.citation.paragraph and f"para {point.citation.paragraph}",
            )
            if x
        )
        also = f" (+{len(point.also_in)} more)" if point.also_in else ""
        lines.append(
            printable(
                f"{point.period:<16} {point.value_text:>10} {point.unit:<16} {point.council or '-'} — {where}{also}"
            )
        )
        lines.append("    " + printable(" ".join(point.citation.text.split()))[:width])
    return "\n".join(lines)


# --- the chat ----------------------------------------------------------------------------------


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
            if re.search(rf"(?<![\w-]){_name_pattern(name)}s?(?![\w-])", text):
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
    }


def trend_chart(result: Trend):
    """A line chart of the points (Altair): one line per council, each point's sentence and source
    on hover; points in several units (a count and a rate per 10,000) in one panel per unit, each
    with its own scale, so that a rate of 45 is not drawn beside a count of 1,400."""
    import altair as alt

    rows = [
        {
            "period": point.period.split("/")[0] + ("-01" * (2 - point.period.split("/")[0].count("-"))),
            "label": point.period,
            "value": point.value,
            "value_text": point.value_text,
            "council": point.council or "Unknown",
            "unit": point.unit,
            "quote": " ".join(point.citation.text.split())[:300],
            "source": f"{point.citation.title}, {point.citation.date or 'undated'}"
            + (f", page {point.citation.page}" if point.citation.page else "")
            + (f", para {point.citation.paragraph}" if point.citation.paragraph else ""),
        }
        for point in result.points
    ]
    units = sorted({point.unit for point in result.points})
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_line(point=True)
        .encode(
            x=alt.X("period:T", title="Date the value refers to"),
            y=alt.Y("value:Q", title=result.measure if len(units) > 1 else f"{result.measure} ({units[0]})"),
            color=alt.Color("council:N", title="Council"),
            tooltip=[
                alt.Tooltip("label:N", title="Period"),
                alt.Tooltip("value_text:N", title="Value"),
                alt.Tooltip("unit:N", title="Unit"),
                alt.Tooltip("quote:N", title="Quote"),
                alt.Tooltip("source:N", title="Source"),
            ],
        )
    )
    if len(units) > 1:
        return chart.facet(row=alt.Row("unit:N", title=None)).resolve_scale(y="independent")
    return chart


def trend_rows(result: Trend) -> list[dict]:
    """The table beneath the chart: one row per point with its citation."""
    return [
        {
            "Period": p.period,
            "Value": p.value_text,
            "Unit": p.unit,
            "Council": p.council,
            "Quote": " ".join(p.citation.text.split()),
            "Report": p.citation.title,
            "Meeting": p.citation.date,
            "Page": p.citation.page,
            "Paragraph": p.citation.paragraph,
            "Also in": len(p.also_in),
        }
        for p in result.points
    ]
