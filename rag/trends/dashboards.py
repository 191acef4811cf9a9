"""Performance dashboards: an indicator's name, then "Latest: 84% Target: 92%, Floor 90% Previous:
77% (Red)", as quarterly performance reports print each indicator."""

from __future__ import annotations

import re

from rag.dates import is_real_date, months_before, periods, quarter_before
from rag.text import AMOUNT
from rag.trends.figures import Found, amount, of_its_kind
from rag.trends.measures import Measure, names_it
from rag.trends.tables import rate_named

_DASHBOARD = re.compile(
    rf"(?i)\blatest\s*:\s*(?P<latest>{AMOUNT.pattern})[\s\S]{{0,80}}?"
    r"\bprevious\s*:\s*(?P<previous>" + AMOUNT.pattern.replace("?P<", "?P<p_") + ")"
)
_LEAVES_OUT = re.compile(r"(?i)\b(?:excluding|excl|except|other than|apart from|non)\b")
"""An indicator for a part of the measure: "Number of children in care (excluding UASC)"."""
_ROLLING = re.compile(r"(?i)\brolling\s+(?:12|twelve)\b|\b(?:12|twelve)[\s-]*months?\s+(?:rolling|total)\b")


def read_dashboard(text: str, measure: Measure, meeting_date: str | None) -> list[Found]:
    """The "Latest:" and "Previous:" figures of each dashboard in `text` whose indicator (the words
    before "Latest" on its line, else the line above) names the measure. A report to a meeting
    gives the last quarter that ended before it (`quarter_before`: October to December 2024 for
    March 2025) as "Latest" and the quarter before as "Previous"; an indicator counted over a
    rolling twelve months ("Number of eligible people receiving an NHS Health Check (Rolling 12
    months)") gives the twelve months to each quarter's end. Plain figures under an indicator that
    names a rate ("Rate of first-time entrants ... per 100,000") are that rate. An indicator that
    leaves a part out ("(excluding UASC)") is another measure's."""
    if not meeting_date or not is_real_date(meeting_date[:7]):
        return []
    found: list[Found] = []
    previous_end = 0
    for match in _DASHBOARD.finditer(text):
        start, indicator = _indicator(text, match.start(), previous_end)
        previous_end = match.end()
        if periods(match.group(0)) or not names_it(indicator, measure) or _LEAVES_OUT.search(indicator):
            continue  # a dashboard that dates its figures ("Latest: 31 Dec 2024 1,109") is read as sentences
        latest = quarter_before(meeting_date)
        if _ROLLING.search(indicator):
            latest = f"{months_before(latest, 9).split('/')[0]}/{latest.split('/')[1]}"
        for group, period in (("latest", latest), ("previous", months_before(latest, 3))):
            figure = re.match(AMOUNT, match.group(group))
            value, unit = amount(figure)
            unit = (rate_named(indicator) or unit) if unit == "count" else unit  # "Rate of ... per 100,000"
            if period and of_its_kind(measure, unit):
                found.append(Found(value, match.group(group).strip(), unit, period, start, match.end()))
    return found


def _indicator(text: str, at: int, after: int = 0) -> tuple[int, str]:
    """Where the indicator's name starts and the name: the words before `at` on its line (after
    the dashboard before it, `after`, when the text runs several onto one line), else the last
    line above it with words."""
    line_start = text.rfind("\n", 0, at) + 1
    if after > line_start or len(re.findall(r"[A-Za-z]{2,}", text[line_start:at])) >= 3:
        line_start = max(line_start, after)
        return line_start, text[line_start:at]
    above = list(re.finditer(r"[^\n]*[A-Za-z]{2,}[^\n]*", text[:line_start]))
    if not above:
        return line_start, ""
    return above[-1].start(), text[above[-1].start() : at]
