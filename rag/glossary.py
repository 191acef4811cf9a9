"""Council vocabulary (rag/glossary.toml): acronyms and terms that mean the same thing, used to
widen a question before retrieval and shown as help in the app."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache

from rag.data import data_file
from rag.text import either_apostrophe


@dataclass(frozen=True)
class Term:
    names: tuple[str, ...]
    meaning: str


@lru_cache(maxsize=1)
def glossary() -> tuple[Term, ...]:
    data = tomllib.loads(data_file("glossary.toml").read_text(encoding="utf-8"))
    return tuple(Term(tuple(t["names"]), t.get("meaning", "")) for t in data["term"])


def _pattern(name: str) -> re.Pattern[str]:
    """A name as whole words, a plural s, either apostrophe ("children's hub", "children’s hub")."""
    acronym = name.isupper() or bool(re.fullmatch(r"[A-Z][A-Za-z]*[A-Z][a-z]?", name))
    body = either_apostrophe(re.escape(name))
    return re.compile(rf"(?<![\w-]){body}s?(?![\w-])", 0 if acronym else re.IGNORECASE)


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[Term, tuple[re.Pattern[str], ...]], ...]:
    return tuple((term, tuple(_pattern(n) for n in term.names)) for term in glossary())


@lru_cache(maxsize=64)
def _terms_used(question: str) -> tuple[tuple[Term, tuple[str, ...], tuple[re.Pattern[str], ...]], ...]:
    """Each glossary term the question uses, with the names it uses and the patterns of the others."""
    found = []
    for term, patterns in _patterns():
        used = tuple(name for name, pattern in zip(term.names, patterns) if pattern.search(question))
        if used:
            others = tuple(pattern for name, pattern in zip(term.names, patterns) if name not in used)
            found.append((term, used, others))
    return tuple(found)


def related_terms(question: str) -> list[str]:
    """The other names of every glossary term the question uses, in glossary order."""
    extra: list[str] = []
    for term, used, _ in _terms_used(question):
        extra += [n for n in term.names if n not in used and n.lower() not in question.lower()]
    return list(dict.fromkeys(extra))


def expand_question(question: str) -> str:
    """The question with the other names of its terms added in brackets, for retrieval."""
    extra = related_terms(question)
    return f"{question} ({'; '.join(extra)})" if extra else question


def names_meant(question: str, text: str) -> list[str]:
    """The glossary names the question uses whose meaning `text` writes with another name: for
    "children in care" and a line on "Children Looked After (LAC)", ["children in care"]."""
    return [
        name
        for _, used, others in _terms_used(question)
        if any(p.search(text) for p in others)
        for name in used
    ]


def names_another_term(question: str, text: str) -> bool:
    """Whether `text` is about another of the glossary's things than the question asks about: the
    question uses a glossary term, and `text` names none of that term's names but names another
    term ("children looked after" asked, a line on "child protection plans" found)."""
    asked = {term for term, _, _ in _terms_used(question)}
    if not asked:
        return False
    named = {term for term, patterns in _patterns() if any(p.search(text) for p in patterns)}
    return not (named & asked) and bool(named - asked)


def terms_named(question: str) -> list[str]:
    """The first name of each glossary term the question uses ("children in care")."""
    return [term.names[0] for term, _, _ in _terms_used(question)]
