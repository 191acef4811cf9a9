"""Answers as people read them: the sources of an answer with the sentence it used marked, the
answer as plain text to copy, a whole conversation as Markdown to keep. Works on the dicts of
`Answer.to_dict()` (what `rag ask --json` prints), so a script can use it as well as the app.

Document text is data: in every Markdown this module writes, what Markdown or HTML would act on
is escaped, so a tag, link or image inside a report is shown, never made live: every special
character for Streamlit (escape_markdown), only what would act for a file (readable_markdown)."""

from __future__ import annotations

import glob
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime

from rag.types import Filters

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$&:=\"'^/])")
_LINKABLE = re.compile(r"(?i)(?:(?:https?|ftp)://|www\.)[^\s`<>]+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
"""What a GFM renderer turns into a link even when its punctuation is escaped: web addresses
and e-mail addresses."""


def escape_markdown(text: str) -> str:
    """`text` for a Markdown renderer, shown as written: every character Markdown, HTML or
    Streamlit's extensions (`:red[...]`, `:material/icon:`, `$math$`) would act on is
    backslash-escaped, and web and e-mail addresses are put in code spans, where a renderer
    shows them as text instead of making them links."""
    pieces, last = [], 0
    for found in _LINKABLE.finditer(text):
        pieces += [_MARKDOWN_SPECIAL.sub(r"\\\1", text[last : found.start()]), f"`{found.group(0)}`"]
        last = found.end()
    pieces.append(_MARKDOWN_SPECIAL.sub(r"\\\1", text[last:]))
    return "".join(pieces)


def highlighted_markdown(text: str, spans: tuple[tuple[int, int], ...]) -> str:
    """The passage as escaped Markdown with each mention in bold: the document's text is data,
    so every piece is escaped (escape_markdown) and only our ** is Markdown. For the
    mentions view (rag.mentions finds the spans)."""
    pieces, last = [], 0
    for start, end in spans:
        pieces.append(escape_markdown(_flat(text[last:start])))
        pieces.append(f"**{escape_markdown(_flat(text[start:end]))}**")
        last = end
    pieces.append(escape_markdown(_flat(text[last:])))
    return "".join(pieces)


def _flat(text: str) -> str:
    """White space runs as one space (a line break inside a mention would end the bold)."""
    return re.sub(r"\s+", " ", text)


_INLINE_SPECIAL = re.compile(
    r"[\\`*\[<|~$]"  # escapes, code, emphasis, links and images, HTML and autolinks, tables, strikethrough, math
    r"|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])"  # emphasis by underscores (one inside a word is none)
    r"|&(?=#?\w+;)"  # a character reference ("&amp;" shown as written)
)
_LINE_START_SPECIAL = re.compile(r"^(\s*)(?:(#{1,6}|>|[-+](?=\s|$)|=+\s*$|-+\s*$)|(\d{1,9})([.)])(?=\s|$))")
"""What acts only at the start of a line: a heading ("# "), a quote ("> "), a list item
("- ", "+ ", "1. "), a heading's underline ("===", "---")."""


def readable_markdown(text: str) -> str:
    """`text` for a file others read as Markdown (CommonMark or GitHub's): escaped only where
    Markdown or HTML would act on it, so it reads as written ("507 (Rate = 156.5).") and a
    report's "# ...", "<script>", "[x](javascript:...)" or "**...**" is shown, never made
    markup; web and e-mail addresses go in code spans, where renderers do not link them. Each
    piece is escaped as if it began a line. (For Streamlit, which has markup of its own, use
    escape_markdown.)"""
    lines = []
    for line in text.split("\n"):
        pieces, last = [], 0
        for found in _LINKABLE.finditer(line):
            pieces += [_INLINE_SPECIAL.sub(r"\\\g<0>", line[last : found.start()]), f"`{found.group(0)}`"]
            last = found.end()
        pieces.append(_INLINE_SPECIAL.sub(r"\\\g<0>", line[last:]))
        escaped = "".join(pieces)
        lines.append(_LINE_START_SPECIAL.sub(_escape_line_start, escaped, count=1))
    return "\n".join(lines)


def _escape_line_start(found: re.Match) -> str:
    if found.group(2):
        return f"{found.group(1)}\\{found.group(2)}"
    return f"{found.group(1)}{found.group(3)}\\{found.group(4)}"


@dataclass(frozen=True)
class Source:
    """A passage shown under an answer."""

    ref: int | None
    """The [n] of the answer line that cites it; None for a passage offered but not cited."""
    rank: int
    title: str
    council: str | None
    date: str | None
    page: int | None
    paragraph: str | None
    source: str
    text: str
    """The whole passage."""
    highlight: tuple[int, int] | None
    """Span of `text` the answer quoted (the cited sentence), if any."""

    def location(self) -> str:
        return where(asdict(self))

    def quote(self) -> str | None:
        """The sentence the answer quoted, as the passage has it; None for a passage not quoted."""
        return self.text[self.highlight[0] : self.highlight[1]] if self.highlight else None


def where(item: Mapping) -> str:
    """Title — council, date — page, paragraph: where a passage or citation comes from."""
    parts = [
        item["title"],
        ", ".join(p for p in (item.get("council"), item.get("meeting"), item.get("date")) if p),
    ]
    place = ", ".join(
        p
        for p in (
            f"page {item['page']}" if item.get("page") else "",
            f"paragraph {item['paragraph']}" if item.get("paragraph") else "",
        )
        if p
    )
    return " — ".join(p for p in parts + [place] if p)


def answer_sources(answer: Mapping, limit: int | None = None) -> list[Source]:
    """What to show under an answer, in order: each citation (by its [n]) within its whole
    passage, the quoted sentence marked; then the other retrieved passages, up to `limit` in all.
    For a not-found answer: the closest passages."""
    passages = {p["rank"]: p for p in answer["passages"]}
    sources: list[Source] = []
    for citation in answer["citations"]:
        passage = passages.get(citation.get("passage_rank"))
        text = passage["text"] if passage else citation["text"]
        start = text.find(citation["text"])
        span = (start, start + len(citation["text"])) if start >= 0 else None
        rank = passage["rank"] if passage else 0
        sources.append(_source(citation, citation["ref"], rank, text, span))
    cited = {s.rank for s in sources}
    limit = max(limit or len(answer["passages"]), len(sources))
    for passage in answer["passages"]:
        if len(sources) >= limit:
            break
        if passage["rank"] not in cited:
            sources.append(_source(passage, None, passage["rank"], passage["text"], None))
    return sources


def _source(item: Mapping, ref: int | None, rank: int, text: str, span: tuple[int, int] | None) -> Source:
    return Source(
        ref,
        rank,
        item["title"],
        item.get("council"),
        item.get("date"),
        item.get("page"),
        item.get("paragraph"),
        item["source"],
        text,
        span,
    )


def excerpt_markdown(source: Source, escape: Callable[[str], str] = escape_markdown) -> str:
    """The passage as escaped Markdown, line by line, with the quoted sentence in bold; `escape`
    is escape_markdown (for Streamlit) or readable_markdown (for a file)."""
    lines, offset = [], 0
    for line in source.text.split("\n"):
        start, end = offset, offset + len(line)
        offset = end + 1
        if not line.strip():
            continue
        span = source.highlight
        if span and span[0] < end and start < span[1]:
            a, b = max(span[0], start) - start, min(span[1], end) - start
            pre, quoted, post = line[:a].strip(), line[a:b].strip(), line[b:].strip()
            pieces = [escape(pre), f"**{escape(quoted)}**" if quoted else "", escape(post)]
            lines.append(" ".join(p for p in pieces if p))
        else:
            lines.append(escape(line.strip()))
    return "  \n".join(lines)


def marker(ref: int) -> str:
    """How [n] is written in Markdown: escaped, so it is never read as a link."""
    return f"\\[{ref}\\]"


def answer_lines(answer: Mapping) -> list[tuple[str, list[int]]]:
    """Each line of the answer as (its text without the [n] markers, the n it cites in order)."""
    return [
        (re.sub(r"\s*\[\d+\]", "", line).strip(), [int(r) for r in re.findall(r"\[(\d+)\]", line)])
        for line in answer["answer"].split("\n")
    ]


def answer_markdown(
    answer: Mapping, cite: Callable[[int], str] = marker, escape: Callable[[str], str] = escape_markdown
) -> str:
    """The answer lines as escaped Markdown, one paragraph each; `cite` writes each [n] marker."""
    return "\n\n".join(
        " ".join([escape(body)] + [cite(ref) for ref in refs]) for body, refs in answer_lines(answer)
    )


OTHER_CANDIDATES = "Other passages that may answer it"
"""The heading of an answer's next best sentences (app, Markdown export, `rag ask`)."""


def candidate_lines(answer: Mapping, escape: Callable[[str], str] = escape_markdown) -> list[str]:
    """A refusal's best sentences, or an answer's next best, as Markdown list items, each with its
    report and meeting date."""
    lines = []
    for item in answer.get("candidates") or []:
        where = ", ".join(str(x) for x in (item["citation"]["title"], item["citation"]["date"]) if x)
        lines.append(f"- {escape(item['text'])} — *{escape(where)}*")
    return lines


def _offered(answer: Mapping, escape: Callable[[str], str]) -> list[str]:
    """The lines of an exported answer's or refusal's offered sentences, under their heading."""
    if not answer.get("candidates"):
        return []
    heading = "These passages may answer it" if answer["status"] == "not_found" else OTHER_CANDIDATES
    return [f"{heading}:", "", *candidate_lines(answer, escape), ""]


def describe_filters(filters: Filters, report_titles: Mapping[str, str] | None = None) -> str:
    """The filters in words, e.g. "council: Middlesbrough; from 2019-01-01"; "" when none."""
    parts = []
    if filters.council:
        parts.append(f"council: {filters.council}")
    if filters.source:
        source = _unescape_glob(filters.source)
        parts.append(f"report: {(report_titles or {}).get(source, source)}")
    if filters.title:
        parts.append(f"title: {filters.title}")
    if filters.since:
        parts.append(f"from {filters.since}")
    if filters.until:
        parts.append(f"until {filters.until}")
    return "; ".join(parts)


def filters_from_choices(
    council: str | None = None,
    report_source: str | None = None,
    since: date | None = None,
    until: date | None = None,
    date_range: tuple[date, date] | None = None,
) -> Filters:
    """Filters for what a user picked; a date equal to the corpus's own first or last date
    does not filter (so undated reports are not dropped by an untouched range)."""
    first, last = date_range or (None, None)
    return Filters(
        council=council or None,
        source=glob.escape(report_source) if report_source else None,
        since=since.isoformat() if since and since != first else None,
        until=until.isoformat() if until and until != last else None,
    )


def _unescape_glob(pattern: str) -> str:
    return re.sub(r"\[([*?\[])\]", r"\1", pattern)


def answer_as_text(answer: Mapping, filters: str = "") -> str:
    """The question, the answer and its sources as plain text, to paste into an e-mail or notes."""
    lines = [f"Q: {answer['question']}"]
    if filters:
        lines.append(f"Filters: {filters}")
    lines += ["", answer["answer"], ""]
    if answer["status"] == "answered":
        lines.append("Sources:")
        for citation in answer["citations"]:
            lines.append(f"[{citation['ref']}] {where(citation)} — {citation['source']}")
            lines.append(f'    "{" ".join(citation["text"].split())}"')
        if answer.get("candidates"):
            lines += ["", f"{OTHER_CANDIDATES}:"]
            lines += [f"- {item['text']} — {where(item['citation'])}" for item in answer["candidates"]]
    else:
        lines.append("Closest passages:")
        for passage in answer["passages"][:3]:
            lines.append(f"{passage['rank']}. {where(passage)} — {passage['source']}")
    return "\n".join(lines).rstrip() + "\n"


def conversation_markdown(
    turns: Iterable[Mapping],
    heading: str = "Questions to the council reports",
    index_info: Mapping | None = None,
    exported_at: datetime | None = None,
) -> str:
    """A conversation as a Markdown file to keep or share: when it was exported and from which
    index (`Index.info()`: reports, passages, build time); then each question as typed and, for a
    follow-up, as understood, the filters it was asked with, the answer with its [n] markers,
    and the sources with the quoted sentence in bold. Turns are {"question", "answer"
    (Answer.to_dict()), "filters" (words), "error", "asked_at" (ISO time)}. Text is escaped
    only where Markdown would act on it (readable_markdown), so the file reads as written."""
    esc = readable_markdown
    exported_at = exported_at or datetime.now(UTC)
    out = [f"# {esc(heading)}", "", f"Exported {_when(exported_at.isoformat())}"]
    if index_info:
        out[-1] += "  "
        out.append(
            f"Index: {index_info['documents']} reports, {index_info['chunks']} passages, "
            f"built {esc(_when(index_info['built_at']))}"
        )
    out.append("")
    for number, turn in enumerate(turns, start=1):
        out += [f"## {number}. {esc(turn['question'])}", ""]
        answer = turn.get("answer") or {}
        about = []
        if answer.get("rewritten_question"):
            about.append(f"Understood as: {esc(answer['rewritten_question'])}")
        about.append(f"Filters: {esc(turn['filters'])}" if turn.get("filters") else "All reports searched")
        if turn.get("asked_at"):
            about.append(f"Asked {esc(_when(turn['asked_at']))}")
        out += ["  \n".join(f"*{line}*" for line in about), ""]
        if turn.get("error"):
            out += [f"Error: {esc(turn['error'])}", ""]
            continue
        if answer.get("note"):
            out += [f"Note: {esc(answer['note'])}", ""]
        if answer["status"] == "not_found":
            out += ["**Not in these reports.** " + esc(answer["answer"]), "", *_offered(answer, esc)]
            out += ["You may mean:", ""]
            sources = answer_sources(answer, 3)
        else:
            out += [answer_markdown(answer, cite=_plain_marker, escape=esc), "", *_offered(answer, esc)]
            out += ["Sources:", ""]
            sources = [s for s in answer_sources(answer) if s.ref is not None]
        for position, source in enumerate(sources, start=1):
            label = _plain_marker(source.ref) if source.ref is not None else f"{position}\\."
            out.append(f"{label} {esc(source.location())} — `{source.source.replace('`', '')}`")
            out.append("")
            out += ["> " + line for line in excerpt_markdown(source, escape=esc).split("\n")]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _plain_marker(ref: int) -> str:
    """[n] in a Markdown file: no link, since document text cannot define one (its "[" are escaped)."""
    return f"[{ref}]"


def _when(stamp: str) -> str:
    """An ISO time as people write it: "4 Dec 2026, 13:40 UTC"."""
    try:
        when = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return str(stamp)
    return when.strftime("%-d %b %Y, %H:%M %Z").strip().rstrip(",")
