"""What a report states about itself: its title, council, meeting, meeting date and author."""

from __future__ import annotations

import csv
import datetime
import re
from functools import lru_cache
from pathlib import Path

from rag.data import data_file
from rag.dates import FINANCIAL_YEAR, YEAR, is_real_date, parse_dates
from rag.text import STOPWORDS

_DATE_LABEL = re.compile(r"(?i)\b(date of (the )?meeting|meeting date|date of decision|date)\s*:")
HEADER_CHARS = 2500

PATH_DATE_WINDOW_DAYS = 183
"""How long before the meeting in its path a report's own header date may be."""


def find_date(text: str, path_date: str | None = None) -> str | None:
    """The meeting date: a labelled date ("Date of meeting: ...") if there is one near the top,
    else the first date written in the report's header. When the file's path holds a full date
    (`path_date`: papers filed by meeting, "cabinet/2025-01-30/..."), a header date is taken
    only in the half year up to it (the minutes of an earlier meeting in the pack); otherwise
    the header date is what an appendix covers ("as at 31 March 2026", "adopted in 2014") and
    the path's date is the meeting's."""
    header = text[:HEADER_CHARS]
    for label in _DATE_LABEL.finditer(header):
        dates = parse_dates(header[label.end() : label.end() + 80])
        if dates:
            return dates[0][2]
    dates = parse_dates(header)
    first = dates[0][2] if dates else None
    if path_date and len(path_date) == len("2025-01-30"):
        meeting = datetime.date.fromisoformat(path_date)
        earliest = (meeting - datetime.timedelta(days=PATH_DATE_WINDOW_DAYS)).isoformat()
        if first and earliest[: len(first)] <= first <= path_date[: len(first)]:
            return first
        return path_date
    return first or path_date


_TITLE_WORDS = re.compile(
    r"(?i)\b(report|briefing|update|minutes|agenda|plan|strategy|review|assessment|statement|"
    r"budget|policy|proposals?|summary|scrutiny|performance|decision notice)\b"
)
_NOT_TITLE = re.compile(
    r"(?i)(covering sheet|proforma|^agenda item$|^cabinet decision$|^(tel|e-?mail|mob|fax)\b|@|"
    r"^(councillor|cllr)\b|^(executive|lead) member\s*:|^date\b|^report (to|of)\b|^item\s*\d|^\d+[.)]?\s|^page \d)"
)
_WEEKDAY = re.compile(r"(?i)\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b,?")
_SMALL_WORDS = {"a", "an", "and", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with"}


_PLACEHOLDER_TITLE = re.compile(
    r"(?i)^(?:agenda template|powerpoint presentation|microsoft (?:word|powerpoint|excel)\b.*|untitled\b.*|"
    r"document\s*\d*|template|the report|report|minutes|agenda|appendix(?: [a-z0-9]{1,3})?|"
    r"(?:item|question|slide|page) \d+)$"
)
"""A title that names no report: a document template's ("Agenda Template", "PowerPoint
Presentation"), or a bare word any report of its kind could carry ("Minutes", "Item 1")."""


_FINITE_VERB = re.compile(
    r"\b(?:is|are|was|were|has|have|had|will|would|shall|should|could|can|may|must|been|does|did)\b"
)
_JOINED_CLAUSE = re.compile(r",\s+(?:and|but|which|who|where|while|so|as|or)\s+[a-z]")
"""Words that make a line a clause ("it was noted that", "would be proposed"); in lower case
only, so that the month "May" is not one."""


def is_running_text(line: str) -> bool:
    """A line of a paragraph, not a heading: eight words or more, of which two of these three
    hold: it reads as a clause (a verb such as "is", "were", "would", or a clause joined by ",
    and", ", which"), it ends a sentence, it is mostly in lower case ("At the outset, it was
    noted that the following items on the Agenda were dealt with at"). A title in sentence case
    is neither a clause nor a sentence ("Late changes to the 2025-26 budget and ... Plan")."""
    words = line.split()
    if len(words) < 8:
        return False
    content = [w for w in words if w[:1].isalpha() and w.lower() not in _SMALL_WORDS]
    clause = bool(_FINITE_VERB.search(line) or _JOINED_CLAUSE.search(line))
    sentence = line.rstrip().endswith((".", ";", ","))
    lower_case = 2 * sum(w[0].islower() for w in content) > len(content)
    return clause + sentence + lower_case >= 2


def is_useful_title(title: str) -> bool:
    """Whether `title` can tell a reader which report a passage is from: not a placeholder or a
    bare meeting name ("County Council"), not a list item ("c) They are the Chair ...") nor a
    footnote or reference ("[1] Fake Report": a title never starts with a bracketed number), not
    running text (two sentences; a line that starts in lower case, "proposal for a new"; a long
    sentence that names no kind of report; a line of a paragraph, `is_running_text`), not a row
    of a table (half of it numbers) nor a table's repeated column headers ("Core External Total
    Core External Total")."""
    words = title.split()
    numbers = sum(1 for w in words if re.search(r"\d", w))
    bare = title.strip(" .:")
    return bool(
        words
        and not _PLACEHOLDER_TITLE.match(bare)
        and not (len(words) <= 3 and _BODY.fullmatch(re.sub(r"(?i)\s+meeting$", "", bare)))
        and not re.match(r"^\(?[a-z]{1,3}\)\s", title)
        and not re.match(r"^\s*\[\d+(?:\s*[,–-]\s*\d+)*\]", title)
        and not is_running_text(title)
        and not re.search(r"[a-z]\.\s+[A-Z]", title)
        and not title[0].islower()
        and not (title.rstrip().endswith(".") and len(words) >= 12 and not _TITLE_WORDS.search(title))
        and numbers < 0.5 * len(words)
        and not (len(words) >= 6 and len({w.lower() for w in words}) <= len(words) / 2)
    )


def find_title(text: str, any_line: bool = True) -> str | None:
    """The report's title: the first line near the top that names a kind of report
    (and is not a cover-sheet label, a placeholder or a row of numbers), with its date removed;
    failing that, when `any_line`, the first line that could be a title."""
    lines = [line.strip(" -:|") for line in text[:HEADER_CHARS].split("\n")]
    lines = [line for line in lines if 3 <= len(line) <= 160][:40]
    candidates = [line for line in lines if not _NOT_TITLE.search(line)]
    titled = [line for line in candidates if _TITLE_WORDS.search(line)]
    for line in titled + (candidates if any_line else []):
        title = _strip_dates(line)
        if len(title) >= 4 and re.search(r"[A-Za-z]{3}", title) and is_useful_title(title):
            return _readable_case(title)
    return None


def _strip_dates(line: str) -> str:
    dates = parse_dates(line)
    for start, _, _ in reversed(dates):
        end = start + len(re.match(r"[\w ,./-]*", line[start:]).group(0))
        line = line[:start] + line[end:]
    line = re.sub(r"\s+", " ", _WEEKDAY.sub("", line)).strip(" -–—:,|")
    if dates:  # "... County Hall, Maidstone on [Thursday, 9 January 2025]"
        line = re.sub(r"(?i)\s+(?:held\s+)?on$", "", line)
    return line


def _readable_case(title: str) -> str:
    letters = [c for c in title if c.isalpha()]
    if not letters or sum(c.isupper() for c in letters) / len(letters) < 0.8:
        return title
    words = title.lower().split(" ")
    return " ".join(
        w if (i and w in _SMALL_WORDS) else re.sub(r"[a-z]", lambda m: m.group(0).upper(), w, count=1)
        for i, w in enumerate(words)
    )


@lru_cache(maxsize=1)
def council_names() -> tuple[dict[str, str], re.Pattern[str]]:
    """Every way councils.csv names a council, mapped to its official name, and one pattern
    that finds them in running text (the longest name wins: "North Somerset" over "Somerset")."""
    official: dict[str, str] = {}
    with data_file("councils.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            for name in [row["name"], *row["aliases"].split(";")]:
                if name.strip():
                    official[name.strip()] = row["name"]
    alternatives = "|".join(re.escape(n) for n in sorted(official, key=len, reverse=True))
    return official, re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")


def find_council_names(text: str) -> list[str]:
    """The official names of the councils that `text` mentions, in order of first mention."""
    official, pattern = council_names()
    return list(dict.fromkeys(official[m.group(0)] for m in pattern.finditer(text)))


_COUNCIL_WORD = re.compile(
    r"\s+(?:(?:Borough|City|County|District|Metropolitan Borough|Town|Parish)\s+)?Council\b"
)


@lru_cache(maxsize=1)
def _council_names_as_words() -> dict[str, str]:
    """Every name of a council in lower-case words ("kent county council", "kent"), to its official name."""
    official, _ = council_names()
    return {" ".join(re.findall(r"[a-z0-9]+", name.lower())): council for name, council in official.items()}


def council_named_by(words: str) -> str | None:
    """The council that `words` name in full ("Kent", "the Kent County Council", "Stockton"), by
    its official name; None when they are anything else ("schools", "Kent schools")."""
    found = re.findall(r"[a-z0-9]+", words.lower())
    return _council_names_as_words().get(" ".join(found[1:] if found[:1] == ["the"] else found))


def council_from_path(path: Path) -> str | None:
    """The council a folder the file sits in is named after ("kent-county-council",
    "west-sussex-jsna"): a collection of one council's papers holds that council's reports, even
    those that mostly discuss a neighbour or were written by a minister. The nearest such folder
    wins; only folder names that begin with a council's name or alias count."""
    by_words = _council_names_as_words()
    for folder in reversed(path.parent.parts[-4:]):
        words = re.findall(r"[a-z0-9]+", folder.lower())
        for length in range(len(words), 0, -1):  # the longest name: "north somerset" before "north"
            council = by_words.get(" ".join(words[:length]))
            if council:
                return council
    return None


_LOCAL_COUNCIL = re.compile(
    r"(?im)^[ \t]*(?:(?:minutes|agenda|notes)\s+(?:of|for)\s+(?:the\s+)?(?:meeting\s+of\s+(?:the\s+)?)?)?"
    r"((?:[A-Z][\w'’-]*[ \t]+){1,3}(?:parish|town|community|village)[ \t]+council)\b"
)
"""A parish, town or community council naming itself at the start of a header line ("MINUTES OF
THE SOULDERN PARISH COUNCIL MEETING"): such councils are not in councils.csv."""


def find_council(text: str) -> str | None:
    """The council the report comes from: a parish or town council that names itself at the
    start of a header line; else the council named most often, the header (cover sheet,
    letterhead) counting three times. A place named in passing is not enough: the text must call
    it a council ("Kent County Council") or name it three times."""
    for local in _LOCAL_COUNCIL.finditer(text[:HEADER_CHARS]):
        words = local.group(1).split()
        if not any(w.lower() in STOPWORDS for w in words[:-2]):  # a name, not "Comments from the ..."
            return " ".join(w.capitalize() for w in words)
    official, pattern = council_names()
    scores: dict[str, int] = {}
    mentions: dict[str, int] = {}
    explicit: set[str] = set()
    for match in pattern.finditer(text):
        council = official[match.group(0)]
        scores[council] = scores.get(council, 0) + (3 if match.start() < HEADER_CHARS else 1)
        mentions[council] = mentions.get(council, 0) + 1
        if "Council" in match.group(0) or _COUNCIL_WORD.match(text, match.end()):
            explicit.add(council)
    named = [c for c in scores if c in explicit or mentions[c] >= 3]
    return max(named, key=scores.get) if named else None


def _labelled(text: str, labels: str) -> str | None:
    """The value written after a label near the top ("To: Cabinet, 30 January 2025"), or on
    the next line when the label stands alone."""
    header = text[:HEADER_CHARS]
    pattern = re.compile(rf"(?im)^[ \t*]*(?:{labels})[ \t*]*:[ \t*]*(.*)$")
    for match in pattern.finditer(header):
        value = match.group(1).strip()
        if not value:
            following = [line.strip() for line in header[match.end() :].split("\n")[1:4] if line.strip()]
            value = following[0] if following else ""
        value = re.sub(r"\s+", " ", value).strip(" ,;:-–—|*")
        if 2 <= len(value) and re.search(r"[A-Za-z]{2}", value):
            return value[:120]
    return None


def find_subject(text: str) -> str | None:
    """The title a cover sheet gives the report ("Subject: ...", "Title of Decision: ..."), or
    a letter its subject line ("Re: Kent and Medway request to be included in ...")."""
    value = _labelled(
        text,
        r"subject(?: matter)?(?: / title of decision)?|title of (?:the )?(?:decision|report)|report title",
    )
    if not value and is_letter(text):
        match = re.search(r"(?im)^[ \t*]*re[ \t]*:[ \t]*(\S.{3,})$", text[:HEADER_CHARS])  # on the same line
        value = " ".join(match.group(1).split()) if match else None
    return _strip_dates(value) or None if value else None


def is_letter(text: str) -> bool:
    """A letter: a salutation ("Dear Jim,", "Dear Leaders,", "Dear Sir/Madam") near the top."""
    return bool(re.search(r"(?m)^\s*Dear [A-Z][\w .'’/()-]{0,40}[,:]?\s*$", text[:HEADER_CHARS]))


_BODY = re.compile(
    r"(?i)\b((?:[A-Z][\w&'’-]*\s+){0,6}(?:Cabinet(?: Committee)?|Committee|Sub-Committee|Board|Panel|Forum|"
    r"Full Council|County Council|Parish Council|Town Council|City Council|Borough Council|Council))\b"
)


def find_meeting(text: str) -> str | None:
    """The committee or meeting a report goes to: a labelled "To:" / "Meeting:" / "Decision to
    be taken by:" line, or "(minutes of the) meeting of the X"."""
    value = _labelled(text, r"to|meeting|committee|decision to be taken by|report to|decision maker")
    if value:
        value = re.split(r"\s[-–—]\s|,|\b(?:Decision|Date)\b", _strip_dates(value) or value)[0].strip(" -–—,")
        if value and len(value) <= 80 and _BODY.search(value):
            return value
    match = re.search(r"(?i)meeting of (?:the )?(.{3,80}?)(?: held| on |,|\n|\.)", text[:HEADER_CHARS])
    if match and _BODY.search(match.group(1)):
        return " ".join(match.group(1).split())
    return None


def find_author(text: str) -> str | None:
    """Who the report is from, or who takes the decision, where the report states it."""
    return _labelled(
        text,
        r"from|by|report author|author|report of|report by|decision maker|contact officer|"
        r"lead officer|responsible officer|cabinet member|lead member|executive member",
    )


def meeting_from_path(path: Path) -> str | None:
    """A meeting named by a folder the file sits in ("cabinet", "full_council", "planning-committee")."""
    for folder in reversed(path.parent.parts[-4:]):
        name = re.sub(r"[-_]+", " ", folder).strip()
        if _BODY.fullmatch(name):
            return " ".join(word[:1].upper() + word[1:] for word in name.split())
    return None


_PATH_DATE = re.compile(rf"(?<!\d){YEAR}-\d\d(?:-\d\d)?(?!\d)")


def date_from_path(path: Path) -> str | None:
    """A date written in the file's name or, failing that, in the nearest folder's name. A span
    of years is not a date: "2009-13" (2009 to 2013) and the financial year "2011-12" are periods."""
    for name in [path.stem, *reversed(path.parent.parts[-4:])]:
        for match in _PATH_DATE.finditer(name):
            text = match.group(0)
            years = FINANCIAL_YEAR.fullmatch(text)
            if years and int(years.group(2)) == (int(years.group(1)) + 1) % 100:
                continue
            if is_real_date(text):
                return text
    return None
