"""Figures: the numbers of a text that may state a measure's value, with their units."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.dates import MONTH_WORDS, YEAR, periods
from rag.text import AMOUNT, SCALES
from rag.trends.cues import cue_patterns
from rag.trends.measures import Measure

_RATE = re.compile(r"(?i)\brate\b[^.\d]{0,40}$")
PER = re.compile(r"(?i)per\s+(10,000|1,000|100,000|100)\b")
PER_AFTER = re.compile(r"(?i)\s*per\s+(10,000|1,000|100,000|100)\b")
"""A rate's denominator right after its value: "412.5 per 100,000"."""
_PER_BEFORE = re.compile(r"(?i)\bper\s+(10,000|1,000|100,000|100)\b[^\d,;]{0,40}$")
"""A rate's denominator a few words before its value, with no other number or clause between
(not "52.1 per 10,000 children, equivalent to 1,109 children")."""
_PER_OR_AGES = re.compile(r"(?i)\bper\s+[\d,]+|\d+\s*[-–]\s*\d+")
"""What may stand between "rate" and its value: "The rate per 10,000 children (aged 0-17) was 32.9"."""
_YEAR_WORD = re.compile(rf"^{YEAR}$")


@dataclass(frozen=True)
class Value:
    start: int
    end: int
    value: float
    text: str
    unit: str


def values(text: str, context: str = "", named_at: tuple[int, ...] = (), timed: bool = False) -> list[Value]:
    """The numbers of `text` that may be a measure's value, with their units: not dates, years,
    labels ("paragraph 9", "Section 17"), ages or durations, changes ("a reduction of 93") or
    comparators' figures ("similar to England (18%)"). A number that counts what the measure's
    name, starting at one of `named_at`, names ("6,357 referrals to children's social care") is
    kept though a count of referrals is usually another thing's; with `timed` (a measure of time,
    see `measures.counts_time`), so is a number of years, months, weeks, days or hours."""
    dated = [(a, b) for a, b, _ in periods(text)]
    undated = dates_blotted(text, dated)  # "from 300 in 2021/22 to 412" is no range "22 to 412"
    modifiers, passive = cue_patterns()["modifiers"], cue_patterns()["passive"]
    found = []
    for match in AMOUNT.finditer(text):
        start, end = match.span()
        if any(a <= start < b for a, b in dated):
            continue
        number = match.group("number") + (match.group("decimals") or "")
        plain = not match.group("currency") and not match.group("percent")
        if plain and _YEAR_WORD.match(number):
            continue
        before, after = undated[max(0, start - 40) : start], text[end : end + 30]
        counts_ours = any(
            at > end and (modifiers.fullmatch(text, end, at) or passive.fullmatch(text, end, at))
            for at in named_at
        )
        counts_ours = counts_ours or (timed and bool(cue_patterns()["duration"].match(after)))
        if _not_a_value(before, after, plain, counts_ours, "," in number):
            continue
        value, unit = amount(match)
        per_after = PER_AFTER.match(text, end)
        if unit == "count" and per_after:
            unit = f"rate per {per_after.group(1)}"
        elif unit == "count" and _RATE.search(_PER_OR_AGES.sub(" ", text[max(0, start - 80) : start])):
            per = PER.search(text) or PER.search(context)
            unit = f"rate per {per.group(1)}" if per else "rate"
        elif unit == "count" and (per := _PER_BEFORE.search(undated[max(0, start - 80) : start])):
            unit = f"rate per {per.group(1)}"  # "... Youth Justice System per 100,000 in December was 175"
        found.append(Value(start, end, value, match.group(0).strip(), unit))
    return found


def dates_blotted(text: str, dated: list[tuple[int, int]] | None = None) -> str:
    """The text with each date (the spans `dated`, else those `periods` finds) written as "#"s:
    the numbers of a date are no range's or label's, and a colon after a date links a value ("at
    31 March 2024: £357.6m") where one after another number does not ("table 3: 45")."""
    for start, end in dated if dated is not None else [(a, b) for a, b, _ in periods(text)]:
        text = text[:start] + "#" * (end - start) + text[end:]
    return text


def amount(match: re.Match) -> tuple[float, str]:
    """An AMOUNT match's value, scaled ("£1.2m" is 1,200,000, "2.1 million" visits 2,100,000,
    "12k" 12,000), and its unit: "£", "%" or "count"."""
    value = float((match.group("number") + (match.group("decimals") or "")).replace(",", ""))
    scale = (match.group("scale") or "").lower()
    if match.group("currency"):
        return value * SCALES.get(scale, 1), "£"
    if match.group("percent"):
        return value, "%"
    return value * SCALES.get(scale, 1), "count"


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
    r"|\d[-–]$"  # the end of a range written without spaces "aged 0-17"
)
_FROM = re.compile(r"(?i)\bfrom\s+[£€$]?$")
_TO_A_NUMBER = re.compile(r"\s+to\s+[£€$]?\d")
"""Before and after the first number of "from 300 to 412": the start of a change or a range."""
_LINE_START = re.compile(r"(?:^|\n)\s*(?:-\s*)?$")


def _not_a_value(
    before: str, after: str, plain: bool, counts_ours: bool = False, grouped: bool = False
) -> bool:
    """Whether a number, between `before` and `after`, is no measure's value: see `values`."""
    patterns = cue_patterns()
    if _FROM.search(before) and _TO_A_NUMBER.match(after):
        return True  # "decreased from 640 to 613", "ranged from 15 to 21": the date is not 640's or 15's
    if _NOT_A_VALUE_AFTER.match(after) or (
        _NOT_A_VALUE_BEFORE.search(before) and not patterns["change_end"].search(before)
    ):
        return True  # "aged 15 to 21" is a range; "decreased from 640 to 613" ends at 613
    if plain and (
        (not counts_ours and patterns["other"].match(after)) or (_LINE_START.search(before) and not grouped)
    ):
        return True  # counts something else, or a paragraph number at a line's start (never "5,400")
    if any(patterns[kind].search(before) for kind in ("label", "change", "comparator")):
        return True
    return bool(re.match(r"[.)]\s", after) and _LINE_START.search(before))  # a list's number "3) "


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


def of_its_kind(measure: Measure, unit: str) -> bool:
    """Whether a value in `unit` can be the measure's: a share or a rate for a measure named as
    one ("smoking prevalence"), not a count; a count, amount or rate for any other, not a share
    (of something else)."""
    share = bool(cue_patterns()["share"].search(" ".join([measure.asked, *measure.names])))
    return unit == "%" or unit.startswith("rate") if share else unit != "%"
