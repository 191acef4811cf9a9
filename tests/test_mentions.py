"""rag mentions: exhaustive, checked against a brute-force scan of every passage; the JSON and CSV
contracts; bad input in one line; the app's Mentions view; "Which reports mention X?" in the
chat. Real index, real model, real SQLite."""

import csv
import io
import json
import re

import pytest
from conftest import ROOT
from streamlit.testing.v1 import AppTest

from rag.app.conversation import conversation_markdown
from rag.build.ingest import build_index
from rag.cli import main
from rag.dates import period_at_end
from rag.index.store import open_index
from rag.mentions import (
    find_mentions,
    matcher,
    mention_names,
    mentions_answer,
    mentions_question,
    mentions_scope,
    printable,
    summary,
)
from rag.settings import Settings
from rag.types import Filters


def reference(index, names: list[str]) -> dict[int, str]:
    """Brute force, written apart from rag.mentions: every passage in the index whose text holds
    one of the names as whole words (any white space between them), its last word optionally in
    the regular plural (+s; +es after s/x/z/ch/sh; y -> ies after a consonant), ignoring case
    except in acronyms (LAC, CiC, DfE: as written, + s only), either apostrophe for one
    ("children's", "children’s"). {row: doc_id}."""
    patterns = []
    for name in names:
        acronym = name.isupper() or bool(re.fullmatch(r"[A-Z][A-Za-z]*[A-Z][a-z]?", name))
        *head, last = name.split()
        lasts = [last]
        if last[-1].isalpha():
            lasts.append(last + "s")
            if not acronym and re.search(r"(s|x|z|ch|sh)$", last, re.IGNORECASE):
                lasts.append(last + "es")
            if not acronym and re.search(r"[^aeiou]y$", last, re.IGNORECASE):
                lasts.append(last[:-1] + "ies")
        for word in lasts:
            words = [re.sub("['’]", "['’]", re.escape(w)) for w in [*head, word]]
            body = r"\s+".join(words)
            start = r"(?<!\w)" if re.match(r"\w", name) else ""
            end = r"(?!\w)" if word[-1].isalnum() or word[-1] == "_" else ""
            patterns.append(re.compile(start + body + end, 0 if acronym else re.IGNORECASE))
    return {
        row: doc_id
        for row, doc_id, text in index.query("SELECT row, doc_id, text FROM chunks")
        if any(p.search(text) for p in patterns)
    }


def found_rows(result) -> dict[int, str]:
    return {p.row: r.doc_id for r in result.reports for p in r.passages}


TERMS = [
    "social worker",  # plural: "social workers" counts
    "care leaver",
    "Youth Service",  # case ignored
    "looked after children",  # glossary: LAC, CLA, children in care, ...
    "CiC",
    "foster carer",
    "Council Tax",
    "children's services",  # an apostrophe: an FTS5 token separator
    "Ofsted",
    "2018",
    "the",  # in nearly every passage
]


@pytest.mark.parametrize("term", TERMS)
def test_mentions_are_exactly_the_passages_a_brute_force_scan_finds(corpus_index, term):
    result = find_mentions(corpus_index, term)
    expected = reference(corpus_index, list(result.names))
    assert found_rows(result) == expected
    assert result.total == len(expected) > 0
    assert [r.count for r in result.reports] == [len(r.passages) for r in result.reports]
    assert sum(c for _, c in result.by_month) + result.undated == result.total


def test_glossary_names_count_and_no_glossary_searches_the_term_alone(corpus_index):
    assert mention_names("looked after children")[:4] == ["looked after children", "LAC", "CLA", "CiC"]
    assert mention_names("LACs")[1:3] == ["LAC", "CLA"]  # a plural of a glossary name is that name
    assert mention_names("lac") == ["lac"]  # an acronym is a name only in capitals
    with_glossary = find_mentions(corpus_index, "looked after children")
    alone = find_mentions(corpus_index, "looked after children", use_glossary=False)
    assert alone.names == ("looked after children",)
    assert set(found_rows(alone)) < set(found_rows(with_glossary))
    assert found_rows(alone) == reference(corpus_index, ["looked after children"])


def test_filters_narrow_the_mentions_as_they_narrow_a_search(corpus_index):
    stockton = find_mentions(corpus_index, "social worker", Filters(council="Stockton"))
    everywhere = find_mentions(corpus_index, "social worker")
    assert stockton.reports and {r.council for r in stockton.reports} == {"Stockton-on-Tees Borough Council"}
    assert set(found_rows(stockton)) == {
        row for row, doc in found_rows(everywhere).items() if doc in {r.doc_id for r in stockton.reports}
    }
    since = find_mentions(corpus_index, "social worker", Filters(since="2020-01-01"))
    assert since.reports and all(r.date >= "2020" for r in since.reports)


HANDMADE = """# Family Hubs Update

Example Borough Council, Cabinet, 12 May 2022

1. The first Family Hub opened in March; two more family hubs open in June.
2. The family
hub at Park Road is busy. Families at the hub. A family-hub model, and family hub-based visits.
3. Not these: a family hubbub, a family's hub, familyhub, family_hub.
6. Children's social care and children’s social care are one service.
4. The SEND team will send letters to send families. Local authorities and the local authority agree.
5. An escape \x1b[31mred\x1b[0m family hub and a \u202egnirts reversed family hub.
"""


@pytest.fixture(scope="module")
def handmade_index(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mentions-corpus")
    (folder / "2022-05-12-family-hubs-update.md").write_text(HANDMADE, encoding="utf-8")
    settings = Settings(corpus_dir=folder, index_dir=folder.parent / "mentions-index")
    build_index(None, settings, progress=False)
    return open_index(settings)


def spans_of(index, term: str) -> list[str]:
    result = find_mentions(index, term, use_glossary=False)
    return [p.text[a:b] for r in result.reports for p in r.passages for a, b in result.spans(p)]


def test_what_counts_as_a_mention(handmade_index):
    # plurals, any case, a line break between the words and a hyphen after them count; a longer
    # word, a hyphen or a possessive between the words, a joined word or an underscore do not
    assert spans_of(handmade_index, "family hub") == [
        "Family Hubs",  # the title
        "Family Hub",
        "family hubs",
        "family\nhub",
        "family hub",  # "family hub-based"
        "family hub",  # after an escape sequence
        "family hub",  # after a right-to-left override
    ]
    assert spans_of(handmade_index, "SEND") == ["SEND"]  # an acronym as written, never the verb
    both = ["Children's social care", "children’s social care"]  # either apostrophe
    assert spans_of(handmade_index, "children's social care") == both
    assert spans_of(handmade_index, "children’s social care") == both
    assert spans_of(handmade_index, "local authority") == ["Local authorities", "local authority"]
    assert len(spans_of(handmade_index, "hub")) == 10  # "family-hub", "family's hub" (not hubbub, family_hub)
    for term in ("family hub", "SEND", "send", "local authority", "hub", "families", "family", "children's"):
        result = find_mentions(handmade_index, term)
        assert found_rows(result) == reference(handmade_index, list(result.names))


def test_the_texts_scanned_joined_are_the_texts_that_each_mention_the_term():
    # a text that ends with the first word and one that begins with the second make no mention
    # together; a letter whose lower case is longer ("İ") shifts no other text's offsets
    texts = [
        "the family",
        "hub opened",
        "Family\nHubs and LACs",
        "İstanbul family hub",
        "LAC",
        "",
        "lac and family hubbub",
        "a family hub",
    ]
    for names in (("family hub",), ("LAC", "family hub"), ("hub",), ("İstanbul",)):
        rule = matcher(names)
        assert rule.which(texts) == [i for i, text in enumerate(texts) if rule.found(text)]
        assert rule.which([t for t in texts if "İ" not in t]) == [
            i for i, text in enumerate(t for t in texts if "İ" not in t) if rule.found(text)
        ]
    assert matcher(("family hub",)).which(texts) == [2, 3, 7]


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_follows_the_design_contract(capsys, corpus_index):
    code, out, err = run(
        capsys, "mentions", "social worker", "--json", "--index-dir", str(corpus_index.index_dir)
    )
    assert code == 0 and err == ""
    result = json.loads(out)
    assert set(result) >= {"term", "total", "reports", "by_month", "status"}
    assert result["term"] == "social worker" and result["status"] == "found"
    texts = {row[0] for row in corpus_index.query("SELECT text FROM chunks")}
    for report in result["reports"]:
        assert set(report) >= {"doc_id", "title", "source", "council", "date", "count", "passages"}
        assert report["count"] == len(report["passages"])
        for passage in report["passages"]:
            assert set(passage) >= {"page", "paragraph", "text"}
            assert passage["text"] in texts and re.search(r"(?i)social\s+workers?", passage["text"])
    assert result["total"] == sum(r["count"] for r in result["reports"])
    assert [m["month"] for m in result["by_month"]] == sorted(m["month"] for m in result["by_month"])
    assert all(re.fullmatch(r"\d{4}-\d\d", m["month"]) for m in result["by_month"])
    assert sum(m["count"] for m in result["by_month"]) == result["total"]
    assert len(out.splitlines()) > result["total"]  # a small result is indented


def test_a_large_result_is_the_same_json_on_one_line(capsys, monkeypatch, corpus_index):
    where = ["--index-dir", str(corpus_index.index_dir)]
    _, indented, _ = run(capsys, "mentions", "social worker", "--json", *where)
    monkeypatch.setattr("rag.mentions.INDENTED_UP_TO", 1)
    code, one_line, err = run(capsys, "mentions", "social worker", "--json", *where)
    assert code == 0 and err == "" and json.loads(indented)["total"] > 1
    assert len(one_line.splitlines()) == 1
    assert json.loads(one_line) == json.loads(indented) | {"timings_ms": json.loads(one_line)["timings_ms"]}


def test_csv_has_one_row_per_passage_and_text_output_escapes_control_characters(capsys, handmade_index):
    where = ["--index-dir", str(handmade_index.index_dir)]
    code, out, _ = run(capsys, "mentions", "family hub", "--csv", *where)
    rows = list(csv.DictReader(io.StringIO(out)))
    total = find_mentions(handmade_index, "family hub").total
    assert code == 0 and len(rows) == total
    assert list(rows[0]) == ["report", "source", "date", "council", "page", "paragraph", "text"]
    assert rows[0]["date"] == "2022-05-12" and rows[0]["report"] == "Family Hubs Update"

    code, out, _ = run(capsys, "mentions", "family hub", *where)
    assert code == 0 and out.startswith(f'"family hub": {total} passages in 1 report')
    assert "«family hub»" in out.lower() or "«Family Hub»" in out
    assert "\x1b" not in out and "\u202e" not in out
    assert printable("red \x1b[31m\u202eend\nnext") == "red \\x1b[31m\\u202eend next"


@pytest.mark.parametrize(
    "args, message",
    [
        (["   "], "the term is empty"),
        (['"'], "has no letters or digits"),
        (["*"], "has no letters or digits"),
        (['"(*):^'], "has no letters or digits"),
        (["x" * 201], "the limit is 200"),
        (
            ["social worker", "--council", "Nowhere"],
            "No report matches council = Nowhere",
        ),
        (["social worker", "--since", "2099-01-01"], "No report matches from 2099-01-01"),
        (["social worker", "--since", "soon"], "is not a date"),
    ],
)
def test_bad_input_gets_one_clear_line(capsys, corpus_index, args, message):
    code, out, err = run(capsys, "mentions", *args, "--index-dir", str(corpus_index.index_dir))
    assert code == 1 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "term", ["NEAR(", "AND", "social OR worker", "care*", "text : zebra", "zebra crossing"]
)
def test_fts5_syntax_is_searched_as_text_and_a_term_found_nowhere_says_so(capsys, corpus_index, term):
    code, out, err = run(capsys, "mentions", term, "--json", "--index-dir", str(corpus_index.index_dir))
    result = json.loads(out)
    expected = reference(corpus_index, result["names"])
    assert code == 0 and result["total"] == len(expected)
    if not expected:
        assert result["status"] == "not_found" and result["reports"] == [] and result["by_month"] == []
        assert err.startswith("no passage mentions") and len(err.strip().splitlines()) == 1
        code, out, _ = run(capsys, "mentions", term, "--index-dir", str(corpus_index.index_dir))
        assert code == 0 and out.startswith("no passage mentions")


def test_the_app_shows_the_chart_the_reports_and_the_passages_safely(
    monkeypatch, handmade_index, corpus_index
):
    monkeypatch.setenv("RAG_INDEX_DIR", str(corpus_index.index_dir))
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    app.sidebar.radio[0].set_value("Mentions").run()
    app.text_input(key="mentions-term").set_value("social worker").run()
    assert not app.exception
    result = find_mentions(corpus_index, "social worker")
    assert app.get("arrow_vega_lite_chart") or app.get("vega_lite_chart")
    labels = [e.label for e in app.main.expander]
    assert len(labels) == len(result.reports)
    assert all(label.startswith(f"**{r.count}** · ") for label, r in zip(labels, result.reports))
    assert any("**social workers**" in m.value or "**Social Workers**" in m.value for m in app.markdown)
    assert [b.label for b in app.download_button if "CSV" in b.label]

    # a hostile report: its text is escaped, so no HTML and no Markdown of its own reaches the page
    monkeypatch.setenv("RAG_INDEX_DIR", str(handmade_index.index_dir))
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    app.sidebar.radio[0].set_value("Mentions").run()
    app.text_input(key="mentions-term").set_value("family hub").run()
    assert not app.exception
    shown = "\n".join(m.value for m in app.markdown)
    assert "**Family Hub**" in shown and "family\\_hub" in shown and "<" not in shown.replace("\\<", "")
    app.text_input(key="mentions-term").set_value("zebra").run()
    assert any("no passage mentions" in i.value for i in app.info)


# --- in the chat -------------------------------------------------------------------------------

MENTIONS_QUESTIONS = {
    "Which reports mention family hubs?": "family hubs",
    "Which reports mention family hubs in 2019?": "family hubs",  # the year is a filter (below)
    "Which reports mention Section 2019?": "Section 2019",  # a number in a name is not a year asked
    "Which papers mention SEND, and when?": "SEND",  # an acronym keeps its capitals
    "Where is the Youth Service mentioned?": "Youth Service",
    "List the reports that mention LAC": "LAC",
    "In which reports are family hubs mentioned?": "family hubs",
    "which documents have mentioned “social workers” and how often?": "social workers",
    "Did any report mention Ofsted?": "Ofsted",
    "Which report is the Youth Service mentioned in?": "Youth Service",
    "Can you list all the reports that mention care leavers, and when?": "care leavers",
    "Where does foster care come up?": "foster care",
}
OTHER_QUESTIONS = [
    "What did the report mention about costs?",  # "mention" in another sense
    "Is the mention of family hubs in the 2025 report positive?",
    "Mention family hubs",
    "Which council mentioned family hubs?",  # a council is not a report
    "Where is the family hub?",
    "How has the number of children looked after changed since 2017?",
    "How many children were looked after by Middlesbrough as of 10 August 2018?",
    "Which reports mention it?",  # a follow-up: answered as usual
    "Which reports mention ?",  # nothing to search
    "Which reports mention ***?",
    'Which reports mention ""?',
    "Which reports mention somewhen?".replace("somewhen", "x" * 201),  # too long to be a term
]


@pytest.mark.parametrize("question", MENTIONS_QUESTIONS)
def test_a_question_asking_which_reports_mention_a_term_gives_the_term(question):
    assert mentions_question(question) == MENTIONS_QUESTIONS[question]


@pytest.mark.parametrize("question", OTHER_QUESTIONS)
def test_other_questions_are_not_mentions_questions(question):
    assert mentions_question(question) is None


def test_the_chat_answer_cites_each_reports_first_mention_with_an_excerpt(corpus_index, handmade_index):
    result = find_mentions(corpus_index, "social worker")
    answer = mentions_answer(result, "Which reports mention social workers?")
    assert answer["status"] == "answered" and answer["passages"] == []
    assert len(answer["citations"]) == len(result.reports) > 1
    lines = answer["answer"].split("\n")
    assert lines[0] == summary(result) + "."
    for line, citation, report in zip(lines[1:], answer["citations"], result.reports, strict=True):
        assert line.endswith(f": {report.count} passage{'s' * (report.count > 1)} [{citation['ref']}]")
        assert line.startswith(report.title)
        first = report.passages[0]
        assert citation["text"] in first.text  # an exact excerpt of the report's first passage
        assert matcher(result.names).found(citation["text"])  # that mentions the term
        assert (citation["source"], citation["page"], citation["paragraph"]) == (
            report.source,
            first.page,
            first.paragraph,
        )

    # a mention broken over two lines quotes both
    result = find_mentions(handmade_index, "family hub")
    quoted = mentions_answer(result, "Where is family hub mentioned?")["citations"][0]["text"]
    assert quoted in result.reports[0].passages[0].text and matcher(result.names).found(quoted)

    nowhere = mentions_answer(find_mentions(corpus_index, "zebra"), "Which reports mention zebras?")
    assert nowhere["status"] == "not_found" and nowhere["citations"] == []
    assert nowhere["answer"].startswith('no passage mentions "zebra"')


def test_the_chat_answers_which_reports_mention_a_term_with_the_mentions(monkeypatch, corpus_index):
    monkeypatch.setenv("RAG_INDEX_DIR", str(corpus_index.index_dir))
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    app.chat_input[0].set_value("Which reports mention social workers?").run()
    assert not app.exception
    result = find_mentions(corpus_index, "social workers")
    reply = next(m for m in app.chat_message if m.name == "assistant")
    assert reply.get("arrow_vega_lite_chart") or reply.get("vega_lite_chart")  # by month
    assert re.sub(r"\\(.)", r"\1", reply.markdown[0].value) == summary(result)
    assert f": {result.total} passages in {len(result.reports)} reports" in summary(result)
    labels = [e.label for e in reply.expander]
    assert labels == [label for label in labels if label.startswith("**")]
    assert [int(label.split("**")[1]) for label in labels] == [r.count for r in result.reports]
    assert any("**social workers**" in m.value.lower() for m in reply.markdown)  # the term in bold
    assert [b.label for b in reply.get("download_button")] == ["Download every passage (CSV)"]

    # saved and exported as an answer with its citations
    turns = app.session_state["turns"]
    assert turns[0]["answer"] == mentions_answer(result, "Which reports mention social workers?") | {
        "timings_ms": turns[0]["answer"]["timings_ms"]
    }
    exported = conversation_markdown(turns)
    assert "## 1. Which reports mention social workers?" in exported
    assert f"{len(result.reports)} reports" in exported
    assert f"[{len(result.reports)}] " in exported.split("Sources:")[1]  # every report's first mention

    # reopened from its link: the cited answer, one badge per report
    again = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    again.query_params["conversation"] = app.query_params["conversation"]
    again.run()
    assert not again.exception
    reply = next(m for m in again.chat_message if m.name == "assistant")
    assert re.sub(r"\\(.)", r"\1", reply.markdown[0].value) == summary(result) + "."
    assert [b.label for b in reply.button] == [
        f":blue-badge[source {n}]" for n in range(1, len(result.reports) + 1)
    ]

    # the sidebar's filters apply
    app.sidebar.selectbox[0].set_value("Stockton-on-Tees Borough Council").run()
    app.chat_input[0].set_value("Where are social workers mentioned?").run()
    assert not app.exception
    stockton = find_mentions(
        corpus_index, "social workers", Filters(council="Stockton-on-Tees Borough Council")
    )
    assert 0 < len(stockton.reports) < len(result.reports)
    reply = [m for m in app.chat_message if m.name == "assistant"][1]
    assert [int(e.label.split("**")[1]) for e in reply.expander] == [r.count for r in stockton.reports]
    assert "Filters: council" in reply.caption[-1].value

    # a term found nowhere: the exhaustive search says so, and no sentence is passed off as an answer
    app.chat_input[0].set_value("Which reports mention zebras?").run()
    assert not app.exception
    reply = [m for m in app.chat_message if m.name == "assistant"][2]
    assert not reply.expander and "zebras" in reply.info[0].value
    assert app.session_state["turns"][2]["answer"]["status"] == "not_found"


def test_years_that_end_a_mentions_question_narrow_its_reports(monkeypatch, corpus_index):
    assert period_at_end("Which reports mention Ofsted in 2019") == (
        "Which reports mention Ofsted",
        "2019",
        "2019",
    )
    assert period_at_end("mention SEND between 2018 and 2020") == ("mention SEND", "2018", "2020")
    assert period_at_end("mention family hubs since 2017") == ("mention family hubs", "2017", None)
    assert period_at_end("mention Section 2019") == ("mention Section 2019", None, None)

    monkeypatch.setenv("RAG_INDEX_DIR", str(corpus_index.index_dir))
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    app.chat_input[0].set_value("Which reports mention social workers in 2025?").run()
    assert not app.exception
    result = app.session_state["turns"][0]["mentions"]
    expected = find_mentions(corpus_index, "social workers", Filters(since="2025", until="2025"))
    assert result.total == expected.total and 0 < len(result.reports) < len(
        find_mentions(corpus_index, "social workers").reports
    )
    assert all(r.date.startswith("2025") for r in result.reports)


def test_a_council_that_ends_a_mentions_question_narrows_its_reports(monkeypatch, corpus_index):
    assert mentions_question("Which reports mention family hubs in Kent in 2019?") == "family hubs"
    assert mentions_scope("Which reports mention family hubs in Kent in 2019?") == (
        "Kent County Council",
        "2019",
        "2019",
    )
    assert mentions_scope("Which reports mention SEND in 2019 by Stockton?") == (
        "Stockton-on-Tees Borough Council",
        "2019",
        "2019",
    )
    assert (
        mentions_scope("Where is the youth service in Middlesbrough mentioned?")[0] == "Middlesbrough Council"
    )
    for whole_term in ("family hubs in schools", "Kent County Council", "the Mayor of Limerick"):
        assert mentions_scope(f"Which reports mention {whole_term}?") == (None, None, None)
        assert mentions_question(f"Which reports mention {whole_term}?") in (whole_term, "Mayor of Limerick")

    monkeypatch.setenv("RAG_INDEX_DIR", str(corpus_index.index_dir))
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    app.chat_input[0].set_value("Which reports mention social workers in Stockton?").run()
    assert not app.exception
    result = app.session_state["turns"][0]["mentions"]
    everywhere = find_mentions(corpus_index, "social workers")
    assert {r.council for r in everywhere.reports} > {"Stockton-on-Tees Borough Council"}
    assert result.term == "social workers" and result.reports
    assert {r.council for r in result.reports} == {"Stockton-on-Tees Borough Council"}
    assert result.total == find_mentions(corpus_index, "social workers", Filters(council="Stockton")).total
