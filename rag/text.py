"""Words, sentences and numbers: the one tokenizer, stopword list, stemmer, sentence splitter and
number patterns that every stage reads text with."""

from __future__ import annotations

import re
import unicodedata
from itertools import pairwise

from rag.data import data_file

WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    line.strip()
    for line in data_file("stopwords.txt").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
)
"""Words a question or passage is not matched on (rag/data/stopwords.txt)."""


def words_of(text: str) -> list[str]:
    """The lower-case words and numbers of `text`, in order ("KCC's 2,345" -> kcc, s, 2, 345)."""
    return WORD.findall(text.lower())


def query_terms(question: str) -> list[str]:
    """The words of a question worth matching: no stopwords, no repeats, no possessive 's
    ("KCC's" matches KCC wherever it is written)."""
    found = [w.removesuffix("'s") for w in re.findall(r"[a-z0-9]+(?:'[a-z]+)?", question.lower())]
    return list(dict.fromkeys(w for w in found if w not in STOPWORDS and len(w) > 1))


def stem(word: str) -> str:
    """A word cut to its first five letters: "inspections" and "inspected" meet at "inspe". Cruder
    than the porter stemmer the keyword index uses, and kept because the answer stage was measured
    with it (it is only compared with itself)."""
    return word[:5] if len(word) > 5 else word


def either_apostrophe(pattern: str) -> str:
    """A regular expression in which an apostrophe matches either one: "children's" and
    "children’s" (PDFs write both)."""
    return re.sub("['’]", "['’]", pattern)


def phrases_pattern(phrases: list[str]) -> str:
    """One regex alternation of phrases (from a cue table), longest first, any run of white space
    between their words; the caller adds the word boundaries and the case flag."""
    ordered = sorted({p.lower() for p in phrases}, key=len, reverse=True)
    return "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in ordered)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9‘“\"'(£])")
"""A full stop, question or exclamation mark, then space and what may start a sentence."""


_WRAP_ENDS = re.compile(
    r"(?:[,(]|\b(?:the|a|an|of|to|and|or|in|for|with|by|on|at|from|as|that|which|who|is|are|was|were|be|been|"
    r"this|these|its|their|our|his|her|not|than|per|under|over|into|between|within|would|will|could|should|"
    r"shall|may|must|has|have|had))$",
    re.IGNORECASE,
)
"""How a line ends when its sentence goes on on the next line: a comma, an open bracket, or a
word that no sentence ends with (a word broken by a hyphen goes on in lower case, which is enough)."""


def sentence_goes_on(line: str, following: str) -> bool:
    """Whether `following` continues the sentence of `line` (a PDF's text layer breaks a paragraph
    into its printed lines): `line` does not end a sentence, and `following` starts in lower case
    or `line` ends with a word no sentence ends with or opens a quotation it does not close
    ("“That, Ms. Saša Novak Uí Chonchúir, ..., V94" / "PR9K, be co-opted ..."). A table's rows
    ("Adur 29.0%" / "Arun 23.8%") and a heading above its paragraph stay apart."""
    line, following = line.rstrip(), following.lstrip()
    if not line or not following or line.endswith((".", "!", "?", ":", ";")):
        return False
    quoting = line.count("“") > line.count("”")
    return following[0].islower() or quoting or bool(_WRAP_ENDS.search(line))


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of a passage, stripped of the spaces around them. A line break ends
    a sentence (a table row is one line) unless the next line goes on with it (`sentence_goes_on`): a
    sentence wrapped over printed lines is one span, its line breaks inside."""
    lines = [m.span() for m in re.finditer(r"[^\n]+", text)]
    groups: list[list[int]] = []
    for start, end in lines:
        if groups and sentence_goes_on(text[groups[-1][0] : groups[-1][1]].splitlines()[-1], text[start:end]):
            groups[-1][1] = end
        else:
            groups.append([start, end])
    spans = []
    for start, end in groups:
        group = text[start:end]
        cuts = [0] + [m.end() for m in _SENTENCE_END.finditer(group)] + [len(group)]
        for a, b in pairwise(cuts):
            piece = group[a:b]
            if piece.strip():
                lead = len(piece) - len(piece.lstrip())
                spans.append((start + a + lead, start + a + len(piece.rstrip())))
    return spans


NUMBER = re.compile(r"(?<![\w.])[£$€]?\d[\d,]*(?:\.\d+)?%?")
"""A number as written, with its currency sign or per cent sign: "£1,200", "12.5%", "2017"."""

AMOUNT = re.compile(
    r"(?<![\w.,£/)\]-])(?P<currency>£\s?)?(?P<number>\d{1,3}(?:,\d{3})+|\d+)(?P<decimals>\.\d+)?(?![\d/])"
    r"(?:\s?(?P<scale>bn|billion|m|million|k|thousand)(?![a-z]))?"
    r"(?P<percent>\s?%|\s?per\s?cent)?"
)
"""A number read as a value, in parts: currency, digits, decimals, scale ("£1.2m") and per cent."""
SCALES = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}


def plain_number(written: str) -> str:
    """A NUMBER match without its currency or per cent sign: "£1,200" -> "1,200"."""
    return written.lstrip("£$€").rstrip("%")


_TYPOGRAPHY = str.maketrans(
    {"‘": "'", "’": "'", "‚": "'", "“": '"', "”": '"', "„": '"', "–": "-", "—": "-", "−": "-"}
)


def plain_text(text: str) -> str:
    """`text` for comparing what it says: compatibility forms folded ("ﬁ" -> "fi"), curly quotes
    and dashes made plain, lower case, white space collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY).lower().split())


def letters_and_digits(text: str) -> tuple[str, list[int]]:
    """The letters and digits of `text`, folded (NFKD, lower case), each with its index in `text`:
    two extractions of one page agree on these where their white space, hyphens, quotes and
    punctuation differ."""
    keys, where = [], []
    for index, char in enumerate(text):
        for folded in unicodedata.normalize("NFKD", char).lower():
            if folded.isalnum():
                keys.append(folded)
                where.append(index)
    return "".join(keys), where
