"""Answers as people read them: sources with the quoted sentence marked, plain text to copy,
Markdown to export; document text always escaped. Markdown is checked by rendering it with a
real CommonMark renderer that lets HTML through (markdown-it-py, html=True)."""

import copy
import html
import re
from datetime import UTC, date, datetime

import pytest
from conftest import HOSTILE_REPORT
from markdown_it import MarkdownIt

from rag.app.conversation import (
    OTHER_CANDIDATES,
    answer_as_text,
    answer_markdown,
    answer_sources,
    conversation_markdown,
    describe_filters,
    escape_markdown,
    excerpt_markdown,
    filters_from_choices,
    readable_markdown,
)
from rag.followup import turn_from_json
from rag.qa import ask
from rag.types import Filters

LAC = "How many children were looked after by Middlesbrough as of 10 August 2018?"
POTHOLES = "How many potholes did Middlesbrough fill in 2021?"
render = MarkdownIt("commonmark", {"html": True}).render
render_gfm = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render
"""GitHub's Markdown: tables and strikethrough too (its autolinks are checked by the code spans)."""
HOSTILE_TEXT = (
    '<script>alert(1)</script> <img src=x onerror="alert(2)"> ![i](http://attacker.example/p.png) '
    "[link](javascript:alert(3)) <http://attacker.example/auto> **bold** _it_ `code` # heading\n"
    "1. item\n- item\n> quote\n| a | b |\n:material/home: :red[x] $x^2$ a@example.com www.example.com &amp; \\ end"
)


def _text_of(rendered: str) -> str:
    return html.unescape(re.sub(r"</?(p|code|br ?/?)>", "", rendered))


@pytest.mark.parametrize("text", [HOSTILE_TEXT, HOSTILE_REPORT])
def test_escaped_text_renders_as_exactly_that_text(text):
    rendered = render(escape_markdown(text))
    assert not re.search(r"<(?!/?(p|code)>)", rendered)  # no element but paragraphs and code spans
    assert " ".join(_text_of(rendered).split()) == " ".join(text.split())


def test_addresses_are_shown_in_code_spans_so_renderers_do_not_link_them():
    escaped = escape_markdown("see http://attacker.example/p?x=1 or www.example.com or a.b@example.com.")
    assert "`http://attacker.example/p?x=1`" in escaped
    assert "`www.example.com`" in escaped and escaped.endswith("`a.b@example.com`\\.")


@pytest.fixture(scope="module")
def lac_answer(corpus_index, corpus_settings):
    return ask(corpus_index, LAC, corpus_settings).to_dict()


def test_sources_show_each_citation_in_its_passage_then_the_other_passages(lac_answer):
    sources = answer_sources(lac_answer, limit=4)
    assert len(sources) == 4
    first = sources[0]
    assert first.ref == 1 and first.source.endswith(
        "middlesbrough-2018-09-executive-member-report-childrens-care.txt"
    )
    start, end = first.highlight
    assert first.text[start:end] == lac_answer["citations"][0]["text"]
    assert [s.ref for s in sources[1:]] == [None, None, None]
    assert len({s.rank for s in sources}) == 4

    rendered = render(excerpt_markdown(first))
    assert "<strong>Current Children Looked After (LAC): 507 (Rate = 156.5)</strong>" in rendered
    assert "Current Child Protection (CP): 224" in rendered  # the rest of the passage, not bold
    quoted_lines = [line for line in lac_answer["citations"][0]["text"].split("\n") if line.strip()]
    assert rendered.count("<strong>") == len(quoted_lines)  # each line of the quote in bold, no more


def test_the_answer_markdown_keeps_its_markers(lac_answer):
    assert answer_markdown(lac_answer).endswith("\\[1\\]")
    assert answer_markdown(lac_answer, cite=lambda n: f"<{n}>").endswith(" <1>")
    assert "507" in render(answer_markdown(lac_answer))


def test_not_found_offers_the_closest_passages(corpus_index, corpus_settings):
    answer = ask(corpus_index, POTHOLES, corpus_settings).to_dict()
    sources = answer_sources(answer, limit=3)
    assert answer["status"] == "not_found"
    assert len(sources) == 3 and all(s.ref is None and s.highlight is None for s in sources)


def test_an_answer_copied_as_text_carries_its_citations(lac_answer):
    text = answer_as_text(lac_answer, filters="council: Middlesbrough Council")
    lines = text.splitlines()
    assert lines[0] == f"Q: {LAC}"
    assert lines[1] == "Filters: council: Middlesbrough Council"
    assert "Current Children Looked After (LAC): 507 (Rate = 156.5). [1]" in lines
    assert (
        "[1] Executive Member Report to Council — Middlesbrough Council, 2018-09 — "
        "corpus/middlesbrough-2018-09-executive-member-report-childrens-care.txt"
    ) in lines
    assert '    "Current Children Looked After (LAC): 507 (Rate = 156.5)"' in lines
    if lac_answer.get("candidates"):  # the next best sentences, each with its report
        others = lines[lines.index(f"{OTHER_CANDIDATES}:") + 1 :]
        assert [line.split(" — ")[0] for line in others] == [
            f"- {c['text']}" for c in lac_answer["candidates"]
        ]


def test_a_conversation_exports_as_markdown_with_nothing_live(lac_answer, corpus_index, corpus_settings):
    hostile_question = "What about <img src=x onerror=alert(1)> and ![x](http://attacker.example/q.png)?"
    turns = [
        {"question": LAC, "answer": lac_answer, "filters": "council: Middlesbrough Council"},
        {
            "question": POTHOLES,
            "answer": ask(corpus_index, POTHOLES, corpus_settings).to_dict(),
            "filters": "",
        },
        {"question": hostile_question, "error": "the question is too long", "filters": ""},
    ]
    markdown = conversation_markdown(turns)
    rendered = render(markdown)
    assert rendered.count("<h2>") == 3
    assert f"<h2>1. {LAC}</h2>" in rendered
    assert "<em>Filters: council: Middlesbrough Council</em>" in rendered
    assert "Current Children Looked After (LAC): 507 (Rate = 156.5). [1]" in rendered
    assert "<strong>Current Children Looked After (LAC): 507 (Rate = 156.5)</strong>" in rendered
    assert "<strong>Not in these reports.</strong>" in rendered and "You may mean:" in rendered
    assert lac_answer["candidates"] and rendered.count(f"{OTHER_CANDIDATES}:") == 1
    assert rendered.index(f"{OTHER_CANDIDATES}:") < rendered.index("Sources:")
    assert "<img" not in rendered and "<a " not in rendered
    assert "What about &lt;img src=x onerror=alert(1)&gt;" in rendered


def test_filters_from_the_sidebar_choices():
    corpus_range = (date(2017, 9, 14), date(2025, 3, 26))
    assert not filters_from_choices(None, None, *corpus_range, date_range=corpus_range)
    chosen = filters_from_choices(
        "Stockton-on-Tees Borough Council", None, date(2020, 1, 1), corpus_range[1], corpus_range
    )
    assert chosen == Filters(council="Stockton-on-Tees Borough Council", since="2020-01-01")
    assert describe_filters(chosen) == "council: Stockton-on-Tees Borough Council; from 2020-01-01"

    odd = "corpus/[draft] report*.txt"
    by_report = filters_from_choices(report_source=odd)
    row = {"council": None, "title": "Draft", "date": None}
    assert by_report.accepts({**row, "source": odd})
    assert not by_report.accepts({**row, "source": "corpus/d report1.txt"})
    assert describe_filters(by_report, {odd: "Draft report (2020)"}) == "report: Draft report (2020)"


MARKUP_LINES = (
    "# Parking Services\n## 2. Fees\n===\n---\n2021. The year the fees rose\n+ one\n- two\n> quoted\n"
    "<script>alert(1)</script> [x](javascript:alert(2)) ![y](http://attacker.example/p.png) **b** _i_ ~~s~~ "
    "`c` a | b &amp; &#60; \\ $x$ file_name"
)


@pytest.mark.parametrize("text", [HOSTILE_TEXT, HOSTILE_REPORT, MARKUP_LINES])
def test_a_file_export_escapes_what_markdown_acts_on(text):
    for renderer in (render, render_gfm):
        rendered = renderer(readable_markdown(text))
        assert not re.search(r"<(?!/?(p|code)>)", rendered), rendered  # no heading, list, link, tag ...
        assert " ".join(_text_of(rendered).split()) == " ".join(text.split())


def test_a_file_export_leaves_ordinary_text_as_written():
    for text in (
        "Current Children Looked After (LAC): 507 (Rate = 156.5).",
        "3.2 The budget is £1.5m (2024-25), up 4.1% on last year; see para. 4 - and Table 2!",
        "Children's Services' file_name: 10/08/2018, 09:30 = on time?",
    ):
        assert readable_markdown(text) == text


def test_a_conversation_exports_as_readable_markdown_with_its_date_index_and_follow_ups(
    lac_answer, corpus_index, corpus_settings
):
    follow = ask(
        corpus_index, "And in March 2021?", corpus_settings, history=[turn_from_json(lac_answer)]
    ).to_dict()
    hostile = copy.deepcopy(lac_answer)  # the cited passage with a report's own markup around the sentence
    cited = hostile["citations"][0]
    passage = next(p for p in hostile["passages"] if p["rank"] == cited["passage_rank"])
    passage["text"] = (
        f"# Injected heading\n<script>alert(1)</script> [x](javascript:alert(2))\n{cited['text']}\n{HOSTILE_REPORT}"
    )
    turns = [
        {"question": LAC, "answer": lac_answer, "filters": "", "asked_at": "2026-12-04T13:39:05+00:00"},
        {"question": "And in March 2021?", "answer": follow, "filters": "council: Middlesbrough Council"},
        {"question": "# <b>Hostile</b> [x](javascript:alert(3))", "answer": hostile, "filters": ""},
    ]
    info = corpus_index.info()
    markdown = conversation_markdown(
        turns, index_info=info, exported_at=datetime(2026, 12, 4, 13, 40, tzinfo=UTC)
    )

    assert "Exported 4 Dec 2026, 13:40 UTC" in markdown
    assert f"Index: {info['documents']} reports, {info['chunks']} passages, built " in markdown
    assert (
        "Current Children Looked After (LAC): 507 (Rate = 156.5). [1]" in markdown
    )  # not 507 \\(Rate \\= 156\\.5\\)\\.
    assert "*All reports searched*  \n*Asked 4 Dec 2026, 13:39 UTC*" in markdown
    assert "## 2. And in March 2021?" in markdown  # as typed, and beside it as understood
    assert (
        f"*Understood as: {follow['rewritten_question']}*  \n*Filters: council: Middlesbrough Council*"
        in markdown
    )
    assert "March 2021" in follow["rewritten_question"]

    for renderer in (render, render_gfm):
        rendered = renderer(markdown)
        assert rendered.count("<h1>") == 1 and rendered.count("<h2>") == 3  # the report's "#" lines are text
        assert not re.search(r"<(script|img|a|b|table|ol)[\s>]", rendered)
        offered = sum(len(t["answer"].get("candidates") or []) for t in turns)  # our own lists only
        assert rendered.count("<li>") == offered and rendered.count("<ul>") == len(turns)
        assert "<strong>Current Children Looked After (LAC): 507 (Rate = 156.5)</strong>" in rendered
        assert "# Injected heading" in rendered and "[x](javascript:alert(2))" in rendered
        assert "<h2>3. # &lt;b&gt;Hostile&lt;/b&gt; [x](javascript:alert(3))</h2>" in rendered
