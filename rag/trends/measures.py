"""Measures: what the user asked for, every name the reports give it, and where a text names it
(or names another measure of the glossary)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rag.errors import QuestionError
from rag.glossary import glossary
from rag.read.metadata import council_named_by
from rag.text import either_apostrophe, split_sentences, stem
from rag.trends.cues import cue_patterns, cues

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
    body = r"[\s\-“”\"‘’]*".join(either_apostrophe(re.escape(w)) for w in words)
    return ("" if acronym else "(?i:") + body + ("" if acronym else ")")


def counts_time(measure: Measure) -> bool:
    """Whether the measure is an age, a time or a length ("average age of mothers", "length of
    stay"), counted in years, days or hours (the cue table's `time_names`)."""
    return bool(cue_patterns()["time_name"].search(measure.asked))


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
    core = _core(asked)
    names: list[str] = []
    for term in glossary():
        if any(_same_name(asked, name) or _same_name(core, name) for name in term.names):
            names += term.names
    return Measure(asked, tuple(dict.fromkeys(names or [asked])))


def without_place(name: str, councils: set[str]) -> tuple[str, str | None]:
    """A measure's name without one of `councils` (official names) named at its start or end, and
    that council: "Kent employment rate", "Kent's employment rate" and "employment rate in Kent"
    are "employment rate" in Kent County Council's reports. The name unchanged and None when it
    names no such council, nothing but one, or one joined to another place ("Kent and Medway NHS
    waiting times"; "reading" in an index without Reading's reports is a word)."""
    words = name.split()
    for cut in range(len(words) - 1, 0, -1):
        place = council_named_by(re.sub(r"['’]s$", "", " ".join(words[:cut])))
        rest = words[cut:]
        if place not in councils:
            place = council_named_by(" ".join(words[len(words) - cut :]))
            rest = words[: len(words) - cut]
            if rest[-1:] and rest[-1].lower() in {"in", "for", "across", "of"}:
                rest = rest[:-1]
        if place in councils and rest and not {rest[0].lower(), rest[-1].lower()} & {"and", "&", "or"}:
            return " ".join(rest), place
    return name, None


def _core(name: str) -> str:
    """The name without the words at either end that only say it is counted, as the glossary may
    name it: "number of children in care" is "children in care" ("council tax" stays whole)."""
    skip = {w.lower() for w in [*cues()["name"]["lead_words"], *cues()["name"]["prepositions"]]}
    words = name.split()
    while words and words[0].lower() in skip:
        words.pop(0)
    while words and words[-1].lower() in skip:
        words.pop()
    return " ".join(words) or name


@dataclass(frozen=True)
class _Name:
    ours: bool
    pattern: re.Pattern[str]
    open_ended: bool
    """A noun right after it lengthens its last words, not its head: see `open_ended`."""


@lru_cache(maxsize=64)
def _names_by_first_word(names: tuple[str, ...]) -> dict[str, list[_Name]]:
    """Every glossary name and the measure's own, by their first word in lower case, longest
    first. Looking names up word by word is fast where one regex of a hundred alternatives, tried
    at every character, is not."""
    everything = list(dict.fromkeys([*names, *(n for t in glossary() for n in t.names)]))
    by_word: dict[str, list[tuple[int, _Name]]] = {}
    for name in everything:
        first = re.match(r"[\w'’]+", name)
        if first:
            pattern = re.compile(rf"{name_pattern(name)}s?(?![\w-])")
            found = _Name(name in names, pattern, open_ended(name))
            by_word.setdefault(_word_key(first.group(0)), []).append((len(name), found))
    return {w: [n for _, n in sorted(c, key=lambda c: -c[0])] for w, c in by_word.items()}


def _words(name: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[\w'’]+", name)]


def _preposition_at(words: list[str]) -> int | None:
    """Where the first preposition of a name's words is (after its first word), or None."""
    prepositions = [p.split() for p in cues()["name"]["prepositions"]]
    for at in range(1, len(words)):
        if any(words[at : at + len(p)] == p for p in prepositions):
            return at
    return None


def head(name: str) -> str:
    """The word a name counts: the one before its first preposition ("referrals" in "referrals to
    children's social care") or the clause that follows it ("properties" in "empty properties
    brought back into use", "pupils" in "pupils permanently excluded"; see trend_cues.toml), else
    its last ("cases" in "early help cases")."""
    words = _words(name)
    ends = [at for at in (_preposition_at(words), _clause_at(words)) if at]
    if not ends:
        return words[-1]
    at = min(ends)
    while at > 1 and words[at - 1].endswith("ly"):
        at -= 1
    return words[at - 1]


def _clause_at(words: list[str]) -> int | None:
    """Where a clause after the name's head starts (see `head`), or None."""
    name, people = cues()["name"], _people_words()
    for at in range(1, len(words)):
        word, after = words[at], words[at + 1 :]
        participle = (len(word) >= 5 and word.endswith("ed") and not word.endswith("eed")) or (
            word in name["participles"]
        )
        if participle and all(w.endswith("ly") for w in words[:at]):
            continue  # "sexually transmitted infections": the participle comes before its noun
        goes_on = len(after) != 1 or after[0] in name["particles"]
        if (
            word in name["clause_words"]
            or (participle and goes_on)
            or (word.endswith("ing") and words[at - 1] in people)
        ):
            return at
    return None


def _people_words() -> set[str]:
    """The last words of the cue table's names of people ("people" for "young people")."""
    return {p.split()[-1].lower() for p in cues()["name"]["people"]}


def open_ended(name: str) -> bool:
    """Whether a noun right after the name lengthens the name's last words (a preposition's
    object) rather than naming another thing: "referrals to children's social care services" are referrals; "LAC Teams" and
    "Children in Care Council" are no looked-after children."""
    words = _words(name)
    at = _preposition_at(words)
    if at is None:
        return False
    people = {p.lower() for p in cues()["name"]["people"]}
    return not any(" ".join(words[i:at]) in people for i in range(at))


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    ours: bool
    loose: bool = False
    """Found by its words in another order (`named_in_other_words`): only a number right before
    it, or one after it through a `loose_links` word ("... was 18"), is its value."""


_WORD = re.compile(r"(?<![\w-])[\w'’]+")
"""A word that may start a name: not the second half of a hyphenated word."""
_TOKEN = re.compile(r"[\w'’]+(?:-[\w'’]+)*")


def _keys(text: str, name: str) -> set[str]:
    """The `singular_key`s of a text's words, each hyphenated word as one ("non-residential" is
    no "residential") unless the name has its parts in a row ("self-harm" for "self-harm
    admissions" or "self harm admissions")."""
    words = _words(name)
    joined = {"-".join(words[i:j]) for i in range(len(words)) for j in range(i + 2, len(words) + 1)}
    keys = set()
    for token in _TOKEN.finditer(text):
        word = token.group(0)
        parts = word.split("-")
        if len(parts) > 1 and word.lower() not in joined:
            keys.add(singular_key(word))
        else:
            keys.update(singular_key(part) for part in parts)
    return keys


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
        key = _word_key(word.group(0))
        # a plural that starts no name may be a name's plural ("EHCPs" for "EHCP")
        for name in by_word.get(key, ()) or by_word.get(key.removesuffix("s"), ()):
            match = name.pattern.match(text, word.start())
            if match:
                end = match.end()
                other = not name.open_ended and thing.match(text, end)
                found.append(Mention(match.start(), end, name.ours and not other))
                break
    return found


_CLAUSE_END = re.compile(
    r"[;:()]|,(?!\d{3})|\s[-–]\s|(?<!\w)(?:and|but|which|who|while|whilst|compared|than)(?!\w)", re.IGNORECASE
)
"""Where a clause ends: not at the comma of "4,500"."""


def content_words(name: str) -> list[str]:
    """The words of a name that say what it counts (in lower case): not its prepositions or
    articles."""
    skip = {w.lower() for w in [*cues()["name"]["prepositions"], *cues()["name"]["not_content"]]}
    return [w for w in _words(name) if w not in skip]


def _content_keys(name: str) -> set[str]:
    return {singular_key(w) for w in content_words(name)}


def singular_key(word: str) -> str:
    """A word's `_word_key` without a plural s: "Cases" and "case" are one key."""
    return _word_key(word).removesuffix("s")


def own_words(measure: Measure) -> list[str]:
    """The measure's name when it is the user's own words (no glossary term), of two or more
    words that say what it counts: the names the reports may give in another order."""
    own = measure.names == (measure.asked,) and len(_content_keys(measure.asked)) >= 2
    return [measure.asked] if own else []


def names_it(text: str, measure: Measure) -> bool:
    """Whether a passage names the measure: one of its names, or their words in another order."""
    if any(m.ours for m in mentions(text, measure)):
        return True
    wanted = [  # compared by their first letters, as a participle is ("excluded" for "exclusions")
        name
        for name in own_words(measure)
        if {stem(k) for k in _content_keys(name)} <= {stem(k) for k in _keys(text, name)}
    ]
    return bool(wanted) and any(named_in_other_words(text[a:b], measure) for a, b in split_sentences(text))


def named_in_other_words(sentence: str, measure: Measure) -> list[Mention]:
    """Where a sentence names the measure with its words in another order: its head in a clause
    that has every other word of its name ("2,287 family cases open to Early Help units" for
    "early help cases"). Only for a name of two or more such words that is not the glossary's (the
    glossary lists the names the reports give its terms; other words are the user's own, which
    the reports may put in another order); the mention is the head word alone (see
    `Mention.loose` for the values it takes)."""
    found = []
    for name in own_words(measure):
        wanted = _content_keys(name)
        head_word = head(name)
        counted = singular_key(head_word)
        for word in _WORD.finditer(sentence):
            done = _done_to(word.group(0), head_word)  # "excluded" for "permanent exclusions"
            if singular_key(word.group(0)) != counted and not done:
                continue
            clause_start = max((m.end() for m in _CLAUSE_END.finditer(sentence, 0, word.start())), default=0)
            clause_end = next((m.start() for m in _CLAUSE_END.finditer(sentence, word.end())), len(sentence))
            clause = sentence[clause_start:clause_end]
            keys, needed = _keys(clause, name), wanted
            if done:  # "permanently excluded": the other words by their stems too
                keys |= {stem(k) for k in keys}
                needed = {stem(w) for w in wanted if w != counted}
            if needed <= keys:
                found.append(Mention(word.start(), word.end(), True, loose=True))
    return sorted(set(found), key=lambda m: m.start)


def _done_to(word: str, head_word: str) -> bool:
    """Whether `word` is the participle of the action the name's head names: "excluded" for
    "exclusions", "adopted" for "adoptions", "referred" for "referrals" (the first five letters
    alike, as `stem` cuts them)."""
    return word.lower().endswith("ed") and stem(word.lower()) == stem(head_word)
