"""Measures: what the user asked for, every name the reports give it, and where a text names it
(or names another measure of the glossary)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rag.errors import QuestionError
from rag.glossary import glossary
from rag.trends.cues import cue_patterns

FTS_SYNTAX = set('"*^():{}[]+~<>=;\\')


@dataclass(frozen=True)
class Measure:
    """What the user asked for, and every name the reports may give it."""

    asked: str
    names: tuple[str, ...]


def name_pattern(name: str) -> str:
    """A name as the reports write it: any case (acronyms in capitals), words joined by spaces,
    hyphens or quotes (“Looked After” Children), a plural s, either apostrophe (children's,
    children’s)."""
    acronym = name.isupper() or bool(re.fullmatch(r"[A-Z][A-Za-z]*[A-Z][a-z]?", name))
    words = re.findall(r"[\w'’]+|[^\w\s]", name)
    body = r"[\s\-“”\"‘’]*".join(re.sub(r"['’]", "['’]", re.escape(w)) for w in words)
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
        first = re.match(r"[\w'’]+", name)
        if first:
            pattern = re.compile(rf"{name_pattern(name)}s?(?![\w-])")
            by_word.setdefault(_word_key(first.group(0)), []).append((len(name), name in names, pattern))
    return {w: [(ours, p) for _, ours, p in sorted(c, key=lambda c: -c[0])] for w, c in by_word.items()}


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    ours: bool


_WORD = re.compile(r"(?<![\w-])[\w'’]+")


def _word_key(word: str) -> str:
    """A word as names are looked up by it: in lower case, without a possessive ending ("children's",
    "children’s" and "children" are one key)."""
    return re.sub(r"['’]s$", "", word.lower())


def mentions(text: str, measure: Measure) -> list[Mention]:
    """Where `text` names a measure: ours, or another (a glossary name that is not ours, or ours
    followed by a word that makes it name something else: "LAC Teams")."""
    by_word = _names_by_first_word(measure.names)
    thing = cue_patterns()["thing"]
    found: list[Mention] = []
    end = 0
    for word in _WORD.finditer(text):
        if word.start() < end:
            continue
        for ours, pattern in by_word.get(_word_key(word.group(0)), ()):
            match = pattern.match(text, word.start())
            if match:
                end = match.end()
                found.append(Mention(match.start(), end, ours and not thing.match(text, end)))
                break
    return found
