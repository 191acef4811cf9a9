"""Dates and periods as reports write them: months, calendar dates, quarters, financial years."""

from __future__ import annotations

import calendar
import datetime
import re

from rag.errors import SettingsError

YEAR = r"(?:19|20)\d\d"
"""A year of the last two centuries, as a piece of a pattern."""

_MONTH_SPELLINGS = [
    ("january", "jan"),
    ("february", "feb"),
    ("march", "mar"),
    ("april", "apr"),
    ("may",),
    ("june", "jun"),
    ("july", "jul"),
    ("august", "aug"),
    ("september", "sept", "sep"),
    ("october", "oct"),
    ("november", "nov"),
    ("december", "dec"),
]
MONTHS = {name: number for number, names in enumerate(_MONTH_SPELLINGS, start=1) for name in names}
MONTH_NAMES = tuple(names[0].capitalize() for names in _MONTH_SPELLINGS)
"""The months' names as written in full: "January" ... "December"."""
_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = rf"(?P<year>{YEAR})"
_DATE_PATTERNS = [
    re.compile(rf"(?i)\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}\b"),
    re.compile(rf"(?i)\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b"),
    re.compile(r"\b(?P<day>[0-3]?\d)[/.](?P<month>[01]?\d)[/.](?P<year>(?:19|20)\d\d)\b"),
    re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<month>[01]\d)-(?P<day>[0-3]\d)\b"),
    re.compile(rf"(?i)\b{_MONTH}\s+{_YEAR}\b"),
]


def parse_dates(text: str) -> list[tuple[int, int, str]]:
    """Every date written in `text`, as (start, end, ISO string); month-only dates give YYYY-MM."""
    found: dict[int, tuple[int, str]] = {}
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            if any(start <= match.start() < end for start, (end, _) in found.items()):
                continue
            iso = _iso(match.groupdict())
            if iso:
                found[match.start()] = (match.end(), iso)
    return sorted((start, end, iso) for start, (end, iso) in found.items())


def _iso(parts: dict[str, str | None]) -> str | None:
    month_text = (parts.get("month") or "").lower()
    month = MONTHS.get(month_text) or (int(month_text) if month_text.isdigit() else 0)
    year = int(parts["year"] or 0)
    day = parts.get("day")
    iso = f"{year:04d}-{month:02d}" + ("" if day is None else f"-{int(day):02d}")
    return iso if is_real_date(iso) else None


def is_real_date(text: str | None) -> bool:
    """Whether `text` is a date of the calendar written YYYY, YYYY-MM or YYYY-MM-DD: "2021-02-30"
    and "2009-13" (the years 2009 to 2013) are not."""
    if not text or not re.fullmatch(r"\d{4}(-\d\d){0,2}", text):
        return False
    year, month, day = (list(map(int, text.split("-"))) + [1, 1])[:3]
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    return True


MONTH_WORDS = "|".join(sorted(MONTHS, key=len, reverse=True))
"""Every spelling of a month, as a pattern's alternatives (longest first)."""
MONTH_NAME = f"(?:{'|'.join(MONTH_NAMES)})"
"""A month's name written in full, capitalised, as a piece of a pattern."""
_ISO_MONTHS = tuple(f"{number:02d}" for number in range(1, 13))
FINANCIAL_YEAR = re.compile(rf"(?<![\d/])({YEAR})\s?[/-]\s?(\d\d)(?![\d/])")
"""A financial year: "2016/17", "2016-17" (whether the second year follows the first is checked
where it is read)."""
_QUARTER = re.compile(rf"(?i)\b(?:Q|quarter\s+)([1-4])\s*(?:of\s+)?(?:{YEAR}\s?[/-]\s?\d\d|{YEAR})")
_MONTH_SHORT_YEAR = re.compile(rf"(?i)\b({MONTH_WORDS})[-'’](\d\d)\b")
"""A month and a two-digit year, as performance tables head their columns: "Dec-23", "Mar'24"."""
_YEAR_ALONE = re.compile(rf"(?:\b[Mm]id-|(?<![\w£/.,-]))({YEAR})(?![\w/%-])")
"""A year on its own, or a mid-year estimate's ("mid-2015")."""
_SHORT_OR_FULL_YEAR = r"[\s'’-]*(\d{4}|\d{2})(?![\d/]|[,.]\d)"
_RUN_TO = (
    r"(?:(?P<count>12|twelve|9|nine|6|six|3|three)[\s-]*(?:months?|mths?|m)(?:\s+period)?|(?P<quarter>quarter))"
    r"\s+(?:to|ending)"
)
_MONTH_AND_YEAR = rf"({MONTH_WORDS})\.?{_SHORT_OR_FULL_YEAR}"
RUN_TO = re.compile(rf"(?i)\b{_RUN_TO}")
"""The start of a run of months, "12 mths to", "Quarter to" (a table may print it on a line of
its own, the months under it)."""
MONTH_AND_YEAR = re.compile(rf"(?i)\b{_MONTH_AND_YEAR}")
"""A month and its year, "Dec 23", "December 2024"."""
_SHORT_OR_FULL_YY = r"[\s'’-]*(?P<yy>\d{4}|\d{2})(?![\d/]|[,.]\d)"
"""`_SHORT_OR_FULL_YEAR` with its year named."""
_FULL_YEAR = rf"\s+(?P<yyyy>{YEAR})(?![\d/]|[,.]\d)"
"""A year of four digits after a month: in prose, "April to June 30 households ..." has none."""
_MONTHS_TO = re.compile(
    rf"(?i)\b(?:{_RUN_TO}|(?P<whole_year>year)\s+(?:to|ending|ended))\s+(?:{_DAY}\s+)?"
    rf"(?P<last>{MONTH_WORDS})\.?(?:\s+[0-3]?\d(?:st|nd|rd|th)?,?(?={_FULL_YEAR}))?"
    rf"{_SHORT_OR_FULL_YY}"
)
"""The months up to a month, as performance tables head their columns and reports write them:
"12 mths to Dec 23", "12m to Dec 24", "Quarter to Sep 24", "the 12-month period to December
2024", "the year ending 31 March 2024" (or "March 31, 2024")."""
_MONTHS_RANGE = re.compile(
    rf"(?i)\b(?P<first>{MONTH_WORDS})\.?\s*[–-]\s*(?P<last>{MONTH_WORDS})\.?"
    rf"{_SHORT_OR_FULL_YY}"
    rf"|(?i:(?:(?:(?<=between\s)|(?<=between\s\s))(?P<between>{MONTH_WORDS})\.?\s+and|(?P<since>{MONTH_WORDS})\.?\s+to))"
    rf"\s+(?P<until>{MONTH_WORDS})\.?{_FULL_YEAR}"
)
"""A run of months in one year: "Jan – Mar 24", "Oct-Dec 2024" (a table's two-digit year allowed),
"April to June 2024", "between October and December 2024" (a year of four digits: "between July
and September 30 households ..." names no year)."""
_YEARS_SPAN = re.compile(
    rf"(?<![\w£/.,-])(?P<first>{YEAR})\s?[–-]\s?(?P<last>\d{{4}}|\d\d)(?![\w/%]|[,.]\d)"
    rf"|(?i:(?<=between\s)|(?<=between\s\s))(?P<between>{YEAR})\s+and\s+(?P<and>{YEAR})(?![\w/%-]|[,.]\d)"
    rf"|(?i:(?<=\bin\s)|(?<=\bfor\s)|(?<=\bduring\s))(?P<within>{YEAR})\s+to\s+(?P<to>{YEAR})(?![\w/%-]|[,.]\d)"
)
"""Years written as one span: "2013-15", "2011–2013" (two to ten years apart; "2013-14" is a
financial year), "between 2012 and 2014" (one to ten), "in 2000 to 2002" (a pooled estimate's
years). "From 2010 to 2014" is no span: a sentence of change gives the value of its end ("... fell
from 2010 to 2014 to 17.0%")."""
_TITLE_WORDS = re.compile(
    r"(?i)(?:\b(?:strategy|plan|programme|framework|policy|vision|mtfs|mtfp|pages?|pp|paragraphs?|paras?)\.?\s+$)"
)
"""A word before a span of years that makes it a title's or a reference's ("Strategy 2020-2024",
"pages 2013-2015"), not a period."""
_TITLE_AFTER = re.compile(r"\s+(?:[A-Z]|(?i:strategy|plan|programme|framework|policy)\b)")
"""After a span of years, a capitalised word or a plan's: "2024-27 Medium Term Financial Plan"."""
_MONTHS_IN = {
    "12": 12,
    "twelve": 12,
    "9": 9,
    "nine": 9,
    "6": 6,
    "six": 6,
    "3": 3,
    "three": 3,
    "quarter": 3,
    "year": 12,
}


def _full_year(written: str) -> int:
    return int(written) if len(written) == 4 else 2000 + int(written)


def _months(first: int, last: int) -> str:
    """The months from `first` to `last` (counted as year * 12 + month - 1) as an ISO interval."""
    return "/".join(f"{n // 12:04d}-{n % 12 + 1:02d}" for n in (first, last))


_MONTH_START = re.compile(r"(?i)(?<![a-z])(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)")
"""The first letters every spelling of a month starts with."""


def _overlaps(start: int, end: int, found: list[tuple[int, int, str]]) -> bool:
    return any(a < end and start < b for a, b, _ in found)


def _runs_of_months(text: str) -> list[tuple[int, int, str]]:
    """The runs of months a text names: "12 mths to Dec 23" (2023-01/2023-12), "Jan – Mar 24",
    "2013-15" (2013-01/2015-12)."""
    found = []
    named = _MONTH_START.search(text)  # a cheap look first: the month patterns are slow to run
    for match in _MONTHS_TO.finditer(text) if named else ():
        run = match.group("count") or match.group("quarter") or match.group("whole_year")
        last = _full_year(match.group("yy")) * 12 + MONTHS[match.group("last").lower()] - 1
        found.append((match.start(), match.end(), _months(last - _MONTHS_IN[run.lower()] + 1, last)))
    for match in _MONTHS_RANGE.finditer(text) if named else ():
        if _overlaps(*match.span(), found):
            continue
        year = _full_year(match.group("yy") or match.group("yyyy"))
        first = MONTHS[(match.group("first") or match.group("between") or match.group("since")).lower()]
        last = MONTHS[(match.group("last") or match.group("until")).lower()]
        start = (year - (first > last)) * 12 + first - 1
        found.append((match.start(), match.end(), _months(start, year * 12 + last - 1)))
    for match in _YEARS_SPAN.finditer(text):
        between = match.group("between") is not None
        first = int(match.group("between") or match.group("within") or match.group("first"))
        last = int(match.group("and") or match.group("to") or match.group("last"))
        last += 0 if last > 100 else first // 100 * 100
        shortest = 1 if between else 2  # "between 2014 and 2015" is a span, "2014-15" a financial year
        # and "in 2023 to 2024" (GOV.UK's financial year) no span: "in 2000 to 2002" is
        titled = (
            not between
            and not match.group("within")
            and (_TITLE_WORDS.search(text[: match.start()]) or _TITLE_AFTER.match(text, match.end()))
        )
        if shortest <= last - first <= 10 and not titled and not _overlaps(*match.span(), found):
            found.append((match.start(), match.end(), f"{first}-01/{last}-12"))
    return found


def periods(text: str) -> list[tuple[int, int, str]]:
    """Every date or period written in `text`, as (start, end, period): a day or month as ISO
    ("2018-08-10", "2017-06", "Dec-23": "2023-12"), a quarter, financial year or run of months as an
    ISO interval ("Q1 2017/18": "2017-04/2017-06"; "2016/17": "2016-04/2017-03"; "12 mths to Dec
    23": "2023-01/2023-12"), a year as "2014"."""
    runs = _runs_of_months(text)
    found = runs + [d for d in parse_dates(text) if not _overlaps(d[0], d[1], runs)]

    def free(start: int, end: int) -> bool:
        return not _overlaps(start, end, found)

    for match in _QUARTER.finditer(text):
        years = FINANCIAL_YEAR.search(match.group(0))
        quarter = int(match.group(1))
        if years:  # financial quarters: Q1 is April to June
            year = int(years.group(1)) + (1 if quarter == 4 else 0)
            first = financial_quarter_start(quarter)
        else:
            year, first = int(match.group(0)[-4:]), 3 * quarter - 2
        period = f"{year}-{_ISO_MONTHS[first - 1]}/{year}-{_ISO_MONTHS[first + 1]}"
        if free(*match.span()):
            found.append((match.start(), match.end(), period))
    for match in _MONTH_SHORT_YEAR.finditer(text):
        if free(*match.span()):
            month = MONTHS[match.group(1).lower()]
            found.append((match.start(), match.end(), f"20{match.group(2)}-{month:02d}"))
    for match in FINANCIAL_YEAR.finditer(text):
        first, second = int(match.group(1)), int(match.group(2))
        if second == (first + 1) % 100 and free(*match.span()):
            found.append((match.start(), match.end(), f"{first}-04/{first + 1}-03"))
    for match in _YEAR_ALONE.finditer(text):
        if free(*match.span()):
            found.append((match.start(), match.end(), match.group(1)))
    return _joined(text, sorted(found))


_FROM_OR_BETWEEN = re.compile(r"(?i)\b(?:between|from)\s+$")
_AND_OR_TO = re.compile(r"\s+(?:and|to)\s+")
_DASH = re.compile(r"\s*[–—-]\s*")


def _joined(text: str, found: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Two dates of months or days that one run joins, as one period: "between April 2023 and March
    2024" (2023-04/2024-03), "from 2015/16 to 2017/18", "2014/15 – 2015/16". Years alone are not
    joined ("from 2010 to 2014" in a sentence of change names its two ends; "between 2012 and
    2014" is a span already)."""
    joined: list[tuple[int, int, str]] = []
    for item in found:
        if joined and _joins(text, joined[-1], item):
            first = joined.pop()
            item = (first[0], item[1], f"{first[2].split('/')[0][:7]}/{item[2].split('/')[-1][:7]}")
        joined.append(item)
    return joined


def _joins(text: str, first: tuple[int, int, str], second: tuple[int, int, str]) -> bool:
    if min(len(first[2]), len(second[2])) < 7 or first[2] >= second[2]:
        return False
    if _DASH.fullmatch(text, first[1], second[0]):  # "During 2014/15 – 2015/16, there were 8,607"
        return _years_long(first[2]) and _years_long(second[2])  # not "(Q2 2024/25 – Q3 2024/25)"
    return bool(_AND_OR_TO.fullmatch(text, first[1], second[0])) and bool(
        _FROM_OR_BETWEEN.search(text[: first[0]])
    )


def _years_long(period: str) -> bool:
    """Whether a period is a run of twelve months ("2014-04/2015-03")."""
    first, _, last = period.partition("/")
    if not last or len(first) != 7 or len(last) != 7:
        return False
    return (int(last[:4]) - int(first[:4])) * 12 + int(last[5:]) - int(first[5:]) == 11


def months_before(period: str, months: int) -> str | None:
    """The period `months` earlier than `period`, written the same way: "2024-12-31" a quarter
    before is "2024-09-30" (a month's last day stays its last day), "2024-10/2024-12" is
    "2024-07/2024-09", "2024" a year before is "2023". None for a year moved by part of a year."""
    if "/" in period:
        parts = [months_before(part, months) for part in period.split("/")]
        return None if None in parts else "/".join(parts)  # type: ignore[arg-type]
    if not is_real_date(period):
        return None
    numbers = list(map(int, period.split("-")))
    if len(numbers) == 1:
        return f"{numbers[0] - months // 12:04d}" if months % 12 == 0 else None
    count = numbers[0] * 12 + numbers[1] - 1 - months
    year, month = divmod(count, 12)
    moved = f"{year:04d}-{month + 1:02d}"
    if len(numbers) == 2:
        return moved
    last_day = calendar.monthrange(numbers[0], numbers[1])[1]
    moved_last = calendar.monthrange(year, month + 1)[1]
    day = moved_last if numbers[2] == last_day else min(numbers[2], moved_last)
    return f"{moved}-{day:02d}"


def quarter_ending(period: str) -> str | None:
    """The quarter that ends on a quarter's last day or month ("2024-12-31", "2024-12":
    "2024-10/2024-12"); None for any other period."""
    numbers = list(map(int, period.split("-"))) if is_real_date(period) else []
    if len(numbers) < 2 or numbers[1] % 3:
        return None
    if len(numbers) == 3 and numbers[2] != calendar.monthrange(numbers[0], numbers[1])[1]:
        return None
    return f"{numbers[0]:04d}-{numbers[1] - 2:02d}/{numbers[0]:04d}-{numbers[1]:02d}"


def financial_quarter_start(quarter: int) -> int:
    """The month a financial year's quarter starts in: Q1 April, Q2 July, Q3 October, Q4 January."""
    return 3 * quarter + 1 if quarter < 4 else 1


def quarter_before(date: str) -> str:
    """The last quarter that ended before `date`'s month: "2025-03-12" and "2025-01" give
    "2024-10/2024-12", "2025-04-02" gives "2025-01/2025-03"."""
    year, month = map(int, date[:7].split("-"))
    last = (month - 1) // 3 * 3 or 12
    year -= last == 12 and month <= 3
    return f"{year:04d}-{last - 2:02d}/{year:04d}-{last:02d}"


def ends_after(period: str, date: str) -> bool:
    """Whether a period ends after a date, each as precise as the other: "2025-03-31" and
    "2025-03" end after "2025-01-30"; "2025" does not end after "2025-01-30", nor "2025-01-31"
    after "2025-01"."""
    end = period.split("/")[-1]
    return end[: len(date)] > date[: len(end)]


def period_key(period: str) -> tuple[str, str]:
    """Sort key: by start, then the shorter (more precise) period first."""
    return (period.split("/")[0], period)


FILTER_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
"""A date as a filter takes it: YYYY, YYYY-MM or YYYY-MM-DD."""


def date_range(key: str, value: str) -> tuple[datetime.date, datetime.date]:
    """The first and last day a filter date covers ("2021-02": 1 to 28 February 2021)."""
    found = FILTER_DATE.fullmatch(value)
    if not found:
        raise SettingsError(f"{key} {value!r} is not a date: use YYYY-MM-DD, YYYY-MM or YYYY")
    year, month, day = (int(part) if part else None for part in found.groups())
    try:
        first = datetime.date(year, month or 1, day or 1)
        last = datetime.date(year, month or 12, day or calendar.monthrange(year, month or 12)[1])
    except ValueError:
        raise SettingsError(
            f"{key} {value!r} is not a date on the calendar: give a real date, YYYY-MM-DD"
        ) from None
    return first, last


_PERIOD_AT_END = re.compile(
    rf"(?i)\s*,?\s+(?:(?:in|during)\s+(?P<year>{YEAR})|since\s+(?P<since>{YEAR})"
    rf"|(?:between|from)\s+(?P<first>{YEAR})\s+(?:and|to|until)\s+(?P<last>{YEAR}))\s*$"
)


def period_at_end(text: str) -> tuple[str, str | None, str | None]:
    """`text` without the years that end it ("family hubs in 2019", "... since 2017", "... between
    2018 and 2020"), and the first and last year they name (None where open)."""
    found = _PERIOD_AT_END.search(text)
    if not found:
        return text, None, None
    parts = found.groupdict()
    first = parts["year"] or parts["since"] or parts["first"]
    last = parts["year"] or parts["last"]
    return text[: found.start()], first, last
