"""Tables of figures: a header line of periods, and the row of the measure, its total or its council."""

from __future__ import annotations

import re

from rag.dates import MONTH_AND_YEAR, MONTH_WORDS, MONTHS, RUN_TO, ends_after, is_real_date, periods
from rag.text import AMOUNT, SCALES, split_sentences
from rag.trends.cues import cue_patterns
from rag.trends.figures import PER, Found, amount, of_its_kind
from rag.trends.measures import Measure, mentions

TABLE_ROWS = 12
"""Most rows read below a table's header line (lines of a label wrapped over several lines, with
no figures of their own, not counted)."""
_WRAPPED_LABEL = re.compile(r"^(?:\S+\s+){0,5}\S+$")
"""A line of a row's label wrapped over several lines: a few words ("Growth & Communities (inc")."""
_COUNCIL_KIND = re.compile(r"(?i)\s+(?:county|borough|district|city|metropolitan|unitary)?\s*council$")


def read_table(
    text: str,
    measure: Measure,
    council: str | None = None,
    about: str = "",
    counted_on: str = "",
    meeting_date: str | None = None,
) -> list[Found]:
    """The values of `measure` in a table of figures whose header line names three or more periods
    ("Status Dec-23 Mar-24 Jun-24 ...", "2007 2008 2009 ..."): in the row the measure names ("UASC
    531 480 476"), or, where the passage names the measure above the table, in its "Total" row or
    the row of the report's own council ("West Sussex 20.00 23.00 ...") when the measure named last
    above the table is ours (not "Table 18 Children Looked After" under a sentence about child
    protection plans). The n-th cell of the row is the value for the n-th column of the header (a
    "-" is a column without a figure, in the header or in a row); a row with fewer cells than
    the header is not read. `about` (the report's title and the passage's heading) counts as above
    the table: a table often starts a passage of its own. Figures under a title that names a rate
    ("... rate, per 10,000 children") are that rate. Year columns are counted on the day of the
    year the title above names, else on the day the report gives the measure elsewhere
    (`counted_on`, "at 31 March": see `counted_on`). Figures under "£m" or "£000s" (in a title
    above or a line of units under the header) are amounts in pounds; a column for a period that
    ends after the meeting, in a table whose header forecasts ("actual forecast budget"), is no
    point."""
    lines = [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", text)]
    found: list[Found] = []
    own = _COUNCIL_KIND.sub("", council or "").strip().lower()
    for number, (start, end) in enumerate(lines):
        header, cells, first_row = _header_at(text, lines, number)
        columns = [c for c in cells if c]
        if len(columns) < 3 or len(set(columns)) < len(columns):
            continue
        dated = dict(zip(columns, _on_the_day(columns, f"{counted_on}\n{text[max(0, start - 200) : start]}")))
        cells = [dated.get(c) for c in cells]
        rows, unit_line = _table_rows(text, lines[first_row:], len(cells))
        title = f"{about}\n{text[max(0, start - 300) : start]}"
        scale = _money_scale(f"{title}\n{text[start:end]}\n{unit_line}")
        if meeting_date and cue_patterns()["forecast_column"].search(header):
            cells = [c if c and not ends_after(c, meeting_date) else None for c in cells]
        named = [row for row in rows if _names_only(row[2], measure)]
        above = mentions(f"{about}\n{text[:start]}", measure)
        caption = _caption(text, lines, number)
        if caption and not any(m.ours for m in mentions(caption, measure)):
            above = []  # a caption names what the table counts: "Number of clients supported by ..."
        if not named and above and above[-1].ours:  # the measure named last above it is ours
            named = [row for row in rows if _is_total(row[2], measure) or (own and own == _place(row[2]))]
        plain = "%" if "%" in unit_line.split() else rate_named(title)
        for row_start, row_end, _, figures in named[:1]:
            for period, figure in zip(cells, figures):
                if period and figure:
                    value, unit, written = _in_its_unit(figure, scale, plain)
                    if of_its_kind(measure, unit):
                        found.append(Found(value, written, unit, period, row_start, row_end))
    return found


def _caption(text: str, lines: list[tuple[int, int]], number: int) -> str | None:
    """The line right above a table's header when it is the table's caption ("Number of clients
    supported by service type – West Sussex 2008/9 to 2013/14"; see trend_cues.toml), else None."""
    line = text[slice(*lines[number - 1])].strip() if number else ""
    return line if cue_patterns()["caption"].match(line) and len(line.split()) <= 25 else None


def _in_its_unit(
    figure: tuple[float, str, str], scale: float | None, plain: str | None
) -> tuple[float, str, str]:
    """A table's figure (value, unit, as written) in the unit its table gives plain figures: an
    amount in pounds under "£millions" ("771.9": £771.9m), a share under a "% %" line, a rate under
    a title that names one; a figure with a unit of its own ("12%", "£5m") keeps it."""
    value, unit, written = figure
    if unit != "count":
        return figure
    if scale:
        sign, digits = ("-", written[1:]) if written[:1] in "-−" else ("", written)
        return value * scale, "£", f"{sign}£{digits}{_SCALE_WORDS[scale]}"
    return value, plain or unit, written


def _table_rows(text: str, lines: list[tuple[int, int]], cells: int) -> tuple[list[tuple], str]:
    """The rows under a header of `cells` columns, each (start, end, label, figures), up to the
    first line that is not a row (nor a few words of a label wrapped over lines) or TABLE_ROWS rows; and whether a "% % %" line under the header makes them shares.
    A row with fewer cells than the header, or whose figures ran together in the PDF's text
    ("----414.20349.40"), is passed over."""
    rows = []
    units = ""
    read = 0
    for row_start, row_end in lines:
        line = text[row_start:row_end]
        if line.split() and all(_UNIT_CELL.fullmatch(cell) for cell in line.split()):
            units = line  # "% % %", "£000s £000s £000s"
            continue
        label, figures = _row(line)
        if figures is None:
            continue
        if not any(figures):
            if figures == [] and _WRAPPED_LABEL.match(line.strip()) and not line.rstrip().endswith("."):
                continue  # "Growth & Communities (inc" / "Libraries, Registrations and 226 241 74 42"
            break
        if len(figures) >= cells:
            rows.append((row_start, row_end, label, figures))
        read += 1
        if read >= TABLE_ROWS:
            break
    return rows, units


_UNIT_CELL = re.compile(r"(?i)%|£\s?(?:m|bn|k|000s?|'000s?|millions?|thousands?)")
_MONEY_SCALE = re.compile(r"(?i)£\s?(m|bn|k|000s?|'000s?|millions?|thousands?|billions?)(?![a-z])")
_SCALE_WORDS = {1e3: "k", 1e6: "m", 1e9: "bn"}


def _money_scale(above: str) -> float | None:
    """What a table's plain figures are in pounds when a title or a line of units says so ("£m",
    "in £millions", "£000s"); None when nothing does."""
    found = _MONEY_SCALE.findall(above)
    if not found:
        return None
    written = found[-1].lower().lstrip("'").removesuffix("s")  # "£000s", "£millions"
    return SCALES.get(written, 1e3)


def rate_named(above: str) -> str | None:
    """The unit of plain figures (a table's, a dashboard's) when a line above them names a rate:
    "rate per 10,000" from the last such line ("Children looked after rate, per 10,000 children
    aged under 18"), or from a title further up when the last one names no denominator ("CPP rate
    1 CPP rate 2 ..." under "... Child Protection Plan - rate per 10,000")."""
    rated = [line for line in above.splitlines() if re.search(r"(?i)\brates?\b", line)]
    if not rated:
        return None
    per = next((found for line in reversed(rated) if (found := PER.search(line))), None)
    return f"rate per {per.group(1)}" if per else "rate"


_AT_A_DAY = re.compile(
    rf"(?i)\b(?:at|on|as at|as of)\s+(\d{{1,2}})(?:st|nd|rd|th)?\s+({MONTH_WORDS})\b(?!\s*,?\s*\d)"
)


def counted_on(text: str, measure: Measure) -> str:
    """The day of the year a passage says the measure is counted on, in a sentence that names it
    with a day and no year ("Rate of children who were the subject of a child protection plan at
    31 March per 10,000 children": "at 31 March"); "" where it says none."""
    if not _AT_A_DAY.search(text):
        return ""
    named = [m for m in mentions(text, measure) if m.ours]
    for begin, finish in split_sentences(text):
        if any(begin <= m.start < finish for m in named):
            day = _AT_A_DAY.search(text, begin, finish)
            if day:
                return day.group(0)
    return ""


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


def _header_at(text: str, lines: list[tuple[int, int]], number: int) -> tuple[str, list[str | None], int]:
    """The line `number` read as a table's header (with the next line when the header is printed
    over two), its cells (`_header_cells`), and the number of the first line after it."""
    start, end = lines[number]
    header = text[start:end]
    cells = _header_cells(header)
    if number + 1 < len(lines) and len([c for c in cells if c]) < 3:
        joined = _header_over_two_lines(header, text[slice(*lines[number + 1])])
        if joined:
            return joined, _header_cells(joined), number + 2
    return header, cells, number + 1


def _header_over_two_lines(first: str, second: str) -> str | None:
    """A header whose columns are printed over two lines ("Service 12 mths to 12 mths to Quarter
    to Quarter to" / "Dec 23 Dec 24 Sep 24 Dec 24"), as one line: "Service 12 mths to Dec 23
    ..."; None when the lines do not pair up so."""
    runs = list(RUN_TO.finditer(first))
    ends = [end.group(0) for end in MONTH_AND_YEAR.finditer(second)]
    if len(runs) < 3 or len(runs) != len(ends) or MONTH_AND_YEAR.sub("", second).strip():
        return None
    label = first[: runs[0].start()]
    return label + " ".join(f"{run.group(0)} {end}" for run, end in zip(runs, ends))


def _names_only(label: str, measure: Measure) -> bool:
    """Whether a row's label is the measure's name (most of its letters), not a row of a part of
    it ("Non-UASC") or of something else that mentions it ("CP 881 Essex")."""
    ours = [m for m in mentions(label, measure) if m.ours]
    letters = sum(c.isalpha() for c in label)
    named = sum(c.isalpha() for m in ours for c in label[m.start : m.end])
    return bool(ours) and not label.lower().startswith("non") and named * 2 >= letters


def _is_total(label: str, measure: Measure) -> bool:
    """Whether a row is the table's total: "Total", "All", or "Total" and a word of the measure's
    name ("Total Complaints" under "the number of complaints received")."""
    words = re.findall(r"[a-z]+", _place(label))
    if words in (["total"], ["all"]):
        return True
    own = {w.removesuffix("s") for w in re.findall(r"[a-z]+", measure.asked.lower())}
    return words[:1] == ["total"] and any(w.removesuffix("s") in own for w in words[1:])


def _place(label: str) -> str:
    """A row's label in lower case without a leading code ("938 West Sussex": "west sussex")."""
    return re.sub(r"^[\d\s]+", "", label).lower()


_NO_FIGURE = ("-", "–")
"""A table's cell with no figure: a column kept empty in the header, a value missing in a row."""


def _header_cells(line: str) -> list[str | None]:
    """A header line's columns, in order: each a period, or None for a "-" column; the words
    before the first period (the table's label) and after the last (a "previous year" column of
    changes) are no columns. A period written in two words ("June 2017") is one column."""
    if len(re.findall(r"\d\d", line)) < 3:  # every period has two digits in a row: no three columns here
        return []
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
        value, unit = amount(match)
        figures.append((-value if negative else value, unit, token))
    return label, figures
