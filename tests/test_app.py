"""The real Streamlit app, driven through streamlit.testing.v1.AppTest: real index, real model."""

import functools
import re
import shutil
import time
from datetime import date

import pytest
from conftest import CORPUS, DATA, HOSTILE_QUESTION, HOSTILE_REPORT, ROOT, need
from streamlit.testing.v1 import AppTest

from rag.app.conversation import OTHER_CANDIDATES
from rag.build.ingest import build_index
from rag.index.store import open_index
from rag.settings import Settings

APP = str(ROOT / "app.py")
LAC = "How many children were looked after by Middlesbrough as of 10 August 2018?"
BADGE = re.compile(r":blue-badge\[source \d+\]")


def open_app(monkeypatch, index_dir, corpus_dir=CORPUS) -> AppTest:
    monkeypatch.setenv("RAG_INDEX_DIR", str(index_dir))
    monkeypatch.setenv("RAG_CORPUS_DIR", str(corpus_dir))
    app = AppTest.from_file(APP, default_timeout=180).run()
    assert not app.exception
    return app


def shown(markdown: str) -> str:
    """What a reader sees of escaped Markdown (backslash escapes removed)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def everything(app) -> str:
    parts = [m.value for m in app.markdown] + [c.value for c in app.caption] + [e.label for e in app.expander]
    parts += [a.value for kind in (app.warning, app.success, app.error, app.info) for a in kind]
    return shown("\n".join(parts))


def ask(app, question: str) -> AppTest:
    app.chat_input[0].set_value(question).run()
    assert not app.exception
    return app


def answers(app) -> list:
    return [m for m in app.chat_message if m.name == "assistant"]


def sources_of(reply) -> list:
    """An answer's source panels (not the panel of other passages that may answer it)."""
    return [e for e in reply.expander if e.label != OTHER_CANDIDATES]


def building(app) -> bool:
    """Whether the page shows a build running (its Cancel button)."""
    return any(b.key == "cancel-build" for b in app.button)


def wait_for_build(app, timeout: float = 600) -> AppTest:
    """Reload the page, as its progress panel does each second, until the build has ended."""
    deadline = time.monotonic() + timeout
    while building(app):
        assert time.monotonic() < deadline, "the build did not end"
        time.sleep(0.5)
        app.run()
        assert not app.exception
    return app


def progress_text(app) -> str:
    return shown(" ".join(p.proto.text for p in app.get("progress")))


def click(app, label: str) -> AppTest:
    next(b for b in app.button if b.label == label).click().run()
    assert not app.exception
    return app


@pytest.fixture
def small_index(small_corpus, tmp_path):
    settings = Settings(corpus_dir=small_corpus, index_dir=tmp_path / "index")
    build_index(None, settings, progress=False)
    return settings


def test_the_first_screen_says_what_is_loaded_and_offers_examples(monkeypatch, corpus_index):
    app = open_app(monkeypatch, corpus_index.index_dir)
    assert shown(app.caption[0].value).startswith(
        "5 reports from Middlesbrough Council and Stockton-on-Tees Borough Council, "
        "meetings from 14 Sep 2017 to 26 Mar 2025. Index built "
    )
    # the one paragraph of text: no comment of the code's shown by Streamlit's magic
    assert [m.value.split(".")[0] for m in app.main.markdown] == ["Ask a question about these reports"]
    examples = [b.label for b in app.button if (b.key or "").startswith("example-")]
    assert examples == [
        LAC,
        "Until what age are care leavers exempt from Council Tax in Stockton?",
        "Which providers won the Middlesbrough Youth Service tender?",
    ]
    councils = app.selectbox[0].options
    assert councils == ["All councils", "Middlesbrough Council", "Stockton-on-Tees Borough Council"]
    assert f"5 reports, {corpus_index.size} passages, built" in shown(
        "\n".join(c.value for c in app.sidebar.caption)
    )
    own = [b for b in app.sidebar.button if not (b.key or "").startswith("conversation-")]  # not saved ones
    assert [b.label for b in own] == ["New conversation", "Update the index"] + [
        "Delete and update the index"
    ] * 5  # one per report, inside its Remove popover


def test_an_example_asks_and_the_answer_is_tied_to_its_sources_then_a_follow_up_keeps_history(
    monkeypatch, corpus_index
):
    app = open_app(monkeypatch, corpus_index.index_dir)
    app.button(key="example-0").click().run()
    assert not app.exception
    assert not [
        b for b in app.button if (b.key or "").startswith("example-")
    ]  # examples give way to the chat

    reply = answers(app)[0]
    answer = reply.markdown[0].value
    assert shown(answer) == "Current Children Looked After (LAC): 507 (Rate = 156.5)."
    assert [(b.label, b.help) for b in reply.button] == [(":blue-badge[source 1]", "Open source 1 below")]
    sources = sources_of(reply)
    assert sources[0].label.startswith(":blue-badge[source 1] Executive Member Report to Council")
    assert "Middlesbrough Council, 2018-09" in shown(sources[0].label)
    assert [s.proto.expanded for s in sources] == [True] + [False] * (len(sources) - 1)  # cited: open
    assert len(sources) == 5  # "Sources shown" defaults to top_k
    others = [e for e in reply.expander if e.label == OTHER_CANDIDATES]  # after the sources, closed
    assert others and reply.expander[-1] == others[0] and not others[0].proto.expanded
    offered = answers(app)[0].expander[-1].markdown
    candidates = app.session_state["turns"][0]["answer"]["candidates"]
    assert len(offered) == len(candidates) and "507" not in "".join(c["text"] for c in candidates)
    excerpt = sources[0].markdown[0].value
    assert "**Current Children Looked After \\(LAC\\)\\: 507 \\(Rate \\= 156\\.5\\)**" in excerpt
    assert any("middlesbrough-2018-09" in shown(c.value) for c in sources[0].caption)
    assert [b.label for b in sources[0].get("download_button")] == ["Download the report"]
    copied = reply.code[0].value
    assert copied.startswith(f"Q: {LAC}\n") and "(Rate = 156.5). [1]" in copied
    assert "[1] Executive Member Report to Council — Middlesbrough Council, 2018-09 — corpus/" in copied
    assert "All reports searched" in shown(reply.caption[-1].value)
    export = [b for b in app.sidebar.get("download_button") if b.label == "Export as Markdown"]
    assert export and not export[0].proto.disabled

    ask(app, "Who chairs Middlesbrough's Strategic Improvement Board independently?")
    assert len(app.chat_message) == 4
    assert "507" in answers(app)[0].markdown[0].value  # the first answer is still there
    assert "John Pearce" in answers(app)[1].markdown[0].value


def test_a_source_badge_opens_its_source_and_brings_it_into_view(monkeypatch, corpus_index):
    app = ask(open_app(monkeypatch, corpus_index.index_dir), LAC)
    first = f"source-{app.session_state['conversation']}-0-0"  # this conversation's turn 0, source 1
    app.session_state[first] = False  # the reader closed source 1
    app.run()
    assert [e.proto.expanded for e in answers(app)[0].expander][:2] == [False, False]
    assert not [h for h in app.get("html") if "scrollIntoView" in h.proto.body]

    badge = answers(app)[0].button[0]
    assert badge.label == ":blue-badge[source 1]"
    badge.click().run()
    assert not app.exception
    sources = answers(app)[0].expander
    assert sources[0].label.startswith(":blue-badge[source 1] ")
    assert [e.proto.expanded for e in sources][:2] == [True, False]  # its source, and only it, opened
    scroll = [h.proto.body for h in app.get("html") if "scrollIntoView" in h.proto.body]
    assert len(scroll) == 1 and f'".st-key-{first} summary"' in scroll[0]  # and brought into view
    app.run()  # the next run (any click) leaves the page where the reader is
    assert not [h for h in app.get("html") if "scrollIntoView" in h.proto.body]
    assert answers(app)[0].expander[0].proto.expanded

    app.session_state[first] = False  # closed again; then the same question in a new conversation
    next(b for b in app.sidebar.button if b.label == "New conversation").click().run()
    ask(app, LAC)
    assert answers(app)[0].expander[0].proto.expanded  # opens as any new answer does


def test_a_follow_up_is_understood_from_the_conversation(monkeypatch, corpus_index):
    app = ask(open_app(monkeypatch, corpus_index.index_dir), LAC)
    ask(app, "And in March 2021?")
    reply = answers(app)[1]
    understood = [c.value for c in reply.caption if c.value.startswith("Understood as")]
    assert understood and "March 2021" in shown(understood[0])
    assert "609" in reply.markdown[0].value


def test_not_in_these_reports_is_said_plainly_with_what_you_may_mean(monkeypatch, corpus_index):
    app = ask(
        open_app(monkeypatch, corpus_index.index_dir), "How many potholes did Middlesbrough fill in 2021?"
    )
    reply = answers(app)[0]
    assert shown(reply.warning[0].value).startswith(
        "**Not in these reports.** The indexed reports do not appear"
    )
    shown_text = [m.value for m in reply.markdown]
    # the best sentences of a refusal, each with its report: what the reader may check by hand
    assert "These passages may answer it:" in shown_text
    offered = shown_text[shown_text.index("These passages may answer it:") + 1 :][:3]
    assert offered and all(line.startswith("- ") and " — *" in line for line in offered)
    labels = [e.label for e in reply.expander]
    assert 1 <= len(labels) <= 3 and not any(BADGE.search(label) for label in labels)
    assert [e.proto.expanded for e in reply.expander][:2] == [True, True]


def test_filters_apply_to_the_next_question_and_are_shown_with_its_answer(monkeypatch, corpus_index):
    app = open_app(monkeypatch, corpus_index.index_dir)
    app.selectbox[0].select("Stockton-on-Tees Borough Council").run()
    ask(app, "How many children were on a child protection plan?")
    reply = answers(app)[0]
    sources = sources_of(reply)
    assert sources and all("Stockton-on-Tees Borough Council" in shown(e.label) for e in sources)
    assert shown(reply.caption[-1].value).startswith("Filters: council: Stockton-on-Tees Borough Council")

    app.selectbox[0].select("All councils")
    app.date_input[0].set_value(date(2021, 1, 1)).run()
    ask(app, "How many children were looked after?")
    later = answers(app)[1]
    dates = [re.search(r"\d{4}-\d\d(-\d\d)?", shown(e.label)).group(0) for e in sources_of(later)]
    assert dates and all(d >= "2021" for d in dates)
    assert shown(later.caption[-1].value).startswith("Filters: from 2021-01-01")
    assert shown(answers(app)[0].caption[-1].value).startswith(
        "Filters: council: Stockton"
    )  # kept with its answer

    report = next(i for i, r in enumerate(app.selectbox[1].options) if "2018-09" in r)
    app.date_input[0].set_value(date(2017, 9, 14))
    app.selectbox[1].select_index(report).run()
    app.slider[0].set_value(2).run()
    ask(app, "How many children were in need?")
    third = answers(app)[2]
    assert len(sources_of(third)) == 2
    assert all("2018-09" in shown(e.label) for e in sources_of(third))
    assert "Filters: report: Executive Member Report to Council (Middlesbrough Council, 2018-09)" in shown(
        third.caption[-1].value
    )


def test_without_an_index_the_app_says_so_and_builds_one(monkeypatch, small_corpus, tmp_path):
    app = open_app(monkeypatch, tmp_path / "index", small_corpus)
    assert "There is no index yet" in app.info[0].value
    assert app.code[0].value == "rag index"
    assert not app.chat_input  # nothing to ask yet
    app.sidebar.button[0].click().run()  # "Build the index"
    wait_for_build(app)
    assert "Index updated" in shown(app.success[0].value)
    assert shown(app.caption[0].value).startswith("2 reports from Middlesbrough Council")
    assert app.chat_input


def test_upload_adds_a_good_pdf_and_refuses_a_bad_one(monkeypatch, small_index):
    pdf = need(DATA / "pdf-torture" / "souldern-parish" / "2024-05-23 Annual Parish Meeting minutes.pdf")
    app = open_app(monkeypatch, small_index.index_dir, small_index.corpus_dir)
    uploader = app.file_uploader[0]
    uploader.upload(pdf.name, pdf.read_bytes(), "application/pdf")
    uploader.upload("agenda.pdf", b"<html>this is not a PDF</html>", "application/pdf").run()
    wait_for_build(click(app, "Add and index"))
    notice = shown(app.warning[0].value)
    assert f"Added {pdf.name}." in notice
    assert "Could not index agenda.pdf: not a PDF (no %PDF- header); it is kept under Not indexed" in notice
    assert "Index updated" in notice and "3 reports" in notice
    assert (small_index.corpus_dir / pdf.name).is_file() and not (
        small_index.corpus_dir / "agenda.pdf"
    ).exists()
    assert shown(app.caption[0].value).startswith("3 reports")

    ask(app, "Which football club uses the Souldern playing fields?")
    reply = answers(app)[0]
    assert "Brackley Town football club" in shown(reply.markdown[0].value)
    assert "page 2" in shown(reply.expander[0].label)
    assert reply.expander[0].toggle[0].label == "Show page 2 of the PDF"
    reply.expander[0].toggle[0].set_value(True).run()
    assert not app.exception
    assert len(answers(app)[0].expander[0].get("image")) == 1
    image = answers(app)[0].expander[0].get("image")[0].proto
    assert [i.caption for i in image.imgs] == ["Page 2, the quoted sentence marked"]


def test_updating_the_index_picks_up_new_reports_while_the_app_runs(monkeypatch, small_index):
    app = open_app(monkeypatch, small_index.index_dir, small_index.corpus_dir)
    name = "middlesbrough-2021-03-24-executive-member-report-childrens-social-care.txt"
    shutil.copy(CORPUS / name, small_index.corpus_dir / name)
    wait_for_build(click(app, "Update the index"))
    assert "(1 read, 2 unchanged, 0 removed)" in shown(app.success[0].value)
    assert shown(app.caption[0].value).startswith("3 reports")
    ask(app, "Which providers won the Middlesbrough Youth Service tender?")
    assert "The Linx, The Junction" in shown(answers(app)[0].markdown[0].value)


def test_a_hostile_document_is_shown_as_text_never_as_html(monkeypatch, small_corpus, tmp_path):
    (small_corpus / "2022-05-12-parking-services-report.md").write_text(HOSTILE_REPORT, encoding="utf-8")
    settings = Settings(corpus_dir=small_corpus, index_dir=tmp_path / "index")
    build_index(None, settings, progress=False)
    app = ask(open_app(monkeypatch, settings.index_dir, small_corpus), HOSTILE_QUESTION)
    reply = answers(app)[0]
    assert '4,321 <script>window.__xss = 1; alert("script ran")</script>' in shown(reply.markdown[0].value)

    rendered = [*app.markdown, *app.caption]
    assert rendered and not any(m.proto.allow_html for m in rendered)
    texts = [m.value for m in rendered] + [e.label for e in app.expander] + [w.value for w in app.warning]
    for text in texts:
        plain = BADGE.sub("", re.sub(r"`[^`]*`", "", text))  # code spans are shown as text, never linked
        assert not re.search(r"(?<!\\)[<\[]", plain), text  # every < and [ is escaped
        assert "attacker.example" not in plain, text  # an address only inside a code span
    assert "window.__xss_img" in everything(app)
    html = [h.proto.body for h in app.get("html")]  # only the page's own fixed script
    assert html and not any("4,321" in body or "__xss" in body or "Penalty" in body for body in html)
    assert "`http://attacker.example/portal`" in "\n".join(texts)


def test_filters_that_exclude_every_report_say_so(monkeypatch, corpus_index):
    app = open_app(monkeypatch, corpus_index.index_dir)
    app.selectbox[0].select("Stockton-on-Tees Borough Council")
    app.date_input[0].set_value(date(2020, 1, 1))
    app.date_input[1].set_value(date(2021, 12, 31)).run()
    ask(app, "How many children are looked after?")
    assert [shown(e.value) for e in app.error] == [
        (
            "No report matches council = Stockton-on-Tees Borough Council, 2020-01-01 to 2021-12-31: widen or "
            "remove the filters (rag info lists the councils and dates the index holds)"
        )
    ]
    assert "You may mean" not in everything(app)


def test_read_only_mode_offers_no_upload_and_no_rebuild(monkeypatch, corpus_index):
    monkeypatch.setenv("RAG_READ_ONLY", "1")
    app = open_app(monkeypatch, corpus_index.index_dir)
    labels = [b.label for b in app.button]
    assert "Update the index" not in labels and "Add and index" not in labels
    assert not app.get("file_uploader") and not app.checkbox
    assert "Read-only" in everything(app)
    ask(app, LAC)
    assert "507" in everything(app)
    monkeypatch.setenv("RAG_READ_ONLY", "0")
    app = open_app(monkeypatch, corpus_index.index_dir)
    assert "Update the index" in [b.label for b in app.button] and app.get("file_uploader")


def test_dates_the_wrong_way_round_are_an_error_not_an_empty_answer(monkeypatch, corpus_index):
    app = open_app(monkeypatch, corpus_index.index_dir)
    app.date_input[0].set_value(date(2022, 1, 1))
    app.date_input[1].set_value(date(2019, 12, 31)).run()
    assert not app.exception
    assert [shown(e.value) for e in app.error] == [
        "since 2022-01-01 is after until 2019-12-31: no meeting is in both; swap them"
    ]


# --- indexing while the app serves (issue 18, item 4) -----------------------------------------

BIG = "2022-06-01-highways-appendix.txt"
EV_QUESTION = "How many electric vehicle charging points did the highways appendix count?"
WARDS = ["Acklam", "Ayresome", "Berwick Hills", "Brambles", "Central", "Coulby Newham", "Hemlington", "Kader"]
WORKS = [
    "resurfacing",
    "drainage repairs",
    "kerb replacement",
    "street lighting",
    "signage",
    "footway repairs",
]


@functools.cache
def big_report(kilobytes: int = 400) -> bytes:
    """A plain-text report of about `kilobytes` kB (the upload in the issue was 800 kB), with one fact
    that no sample report holds; every paragraph differs, so every passage is embedded."""
    lines = [
        "# Highways Capital Programme: Scheme Appendix",
        "",
        "Middlesbrough Council, Executive, 1 June 2022",
        "",
        "1. The highways appendix counted 4,321 electric vehicle charging points across the borough.",
    ]
    number = 1
    while sum(len(line) + 1 for line in lines) < kilobytes * 1000:
        number += 1
        ward, work = WARDS[number % len(WARDS)], WORKS[number % len(WORKS)]
        lines.append("")
        lines.append(
            f"{number}. Scheme {number} in {ward} ward covers {work} on {number % 97 + 3} streets, at an "
            f"estimated cost of £{number * 137 % 90_000 + 5_000:,}, starting in week {number % 52 + 1}; "
            f"residents of {ward} were consulted on scheme {number} and {number % 40 + 2} responses came back."
        )
    return "\n".join(lines).encode()


def add_upload(app, name: str, data: bytes, mime: str = "text/plain") -> AppTest:
    app.file_uploader[0].upload(name, data, mime).run()
    return click(app, "Add and index")


def not_indexed(app) -> list[str]:
    """The names in the page's Not indexed list."""
    panels = [e for e in app.sidebar.expander if e.label.startswith("Not indexed")]
    return [re.match(r"\*\*(.+?)\*\*", shown(m.value)).group(1) for p in panels for m in p.markdown]


def test_an_upload_indexes_in_the_background_while_questions_are_answered_from_the_old_index(
    monkeypatch, small_index
):
    # 800 kB, as in the issue: long enough to be still embedding while another user asks, even on a
    # busy machine (at 400 kB a loaded 2-core machine once finished before the page showed it)
    app = add_upload(
        open_app(monkeypatch, small_index.index_dir, small_index.corpus_dir), BIG, big_report(800)
    )
    assert building(app)
    app.run()  # a rerun (any click, any question) used to end the build and delete the upload
    assert building(app) and not app.exception

    deadline = time.monotonic() + 300
    while not re.search(r"passages embedded · about (\d+ min )?\d+ s left", progress_text(app)):
        assert building(app) and time.monotonic() < deadline, progress_text(app)
        time.sleep(0.5)
        app.run()
    assert progress_text(app).startswith(f"Adding {BIG} · ")

    other = ask(open_app(monkeypatch, small_index.index_dir, small_index.corpus_dir), LAC)  # another user
    assert "507" in shown(answers(other)[0].markdown[0].value)
    assert building(other)  # the other user sees the build too, and it is still running
    assert not any(BIG in shown(e.label) or "Highways" in e.label for e in answers(other)[0].expander)
    click(other, "Update the index")
    assert shown(other.warning[0].value).startswith(f"one update at a time: Adding {BIG} is running")

    wait_for_build(app)
    notice = shown(app.success[0].value)
    assert (
        notice.startswith(f"Added {BIG}.")
        and "3 reports" in notice
        and "(1 read, 2 unchanged, 0 removed)" in notice
    )
    assert (small_index.corpus_dir / BIG).read_bytes() == big_report(800)
    assert shown(app.caption[0].value).startswith("3 reports")
    ask(app, EV_QUESTION)
    assert "4,321" in shown(answers(app)[0].markdown[0].value)
    assert not not_indexed(app)


def test_cancelling_an_upload_keeps_the_old_index_and_the_file(monkeypatch, small_index):
    served = open_index(small_index).manifest["built_at"]
    app = add_upload(open_app(monkeypatch, small_index.index_dir, small_index.corpus_dir), BIG, big_report())
    assert building(app)
    app.button(key="cancel-build").click().run()
    wait_for_build(app)
    assert shown(app.warning[0].value) == (
        f"Cancelled: the index is unchanged. {BIG} was not indexed and is kept under Not indexed, "
        "to retry or remove."
    )
    assert open_index(small_index).manifest["built_at"] == served
    assert shown(app.caption[0].value).startswith("2 reports")
    assert not (small_index.corpus_dir / BIG).exists()
    assert not_indexed(app) == [BIG]
    assert "the upload was cancelled" in everything(app)

    app.button(key=f"forget-{BIG}").click().run()
    assert not app.exception and not not_indexed(app)
    assert not list(small_index.corpus_dir.rglob(BIG))


def test_a_file_that_cannot_be_read_is_kept_with_the_reason_to_retry_or_remove(monkeypatch, small_index):
    app = wait_for_build(
        add_upload(
            open_app(monkeypatch, small_index.index_dir, small_index.corpus_dir),
            "x.pdf",
            b"not a pdf",
            "application/pdf",
        )
    )
    assert "Could not index x.pdf: not a PDF (no %PDF- header)" in shown(app.warning[0].value)
    assert not_indexed(app) == ["x.pdf"]
    assert "x.pdf: not a PDF (no %PDF- header)" in everything(app)
    assert not (small_index.corpus_dir / "x.pdf").exists()

    wait_for_build(app.button(key="retry-x.pdf").click().run())
    assert "Could not index x.pdf: not a PDF" in shown(app.warning[0].value)  # the same bytes fail again
    assert not_indexed(app) == ["x.pdf"]

    app.button(key="forget-x.pdf").click().run()
    assert not app.exception and not not_indexed(app)
    assert shown(app.success[0].value) == "Removed x.pdf."
    assert not list(small_index.corpus_dir.rglob("x.pdf"))
    assert shown(app.caption[0].value).startswith("2 reports")


def test_a_report_removed_from_the_corpus_list_leaves_the_folder_and_the_index(monkeypatch, small_index):
    app = open_app(monkeypatch, small_index.index_dir, small_index.corpus_dir)
    listed = next(e for e in app.sidebar.expander if e.label.startswith("Reports in the index"))
    assert listed.label == "Reports in the index (2)"
    labels = [shown(m.value) for m in listed.markdown]
    assert "Executive Member Report to Council (Middlesbrough Council, 2018-09)" in labels
    name = "middlesbrough-2018-09-executive-member-report-childrens-care.txt"
    source = next(b.key for b in listed.button if b.key.endswith(name)).removeprefix("remove-")
    wait_for_build(app.button(key=f"remove-{source}").click().run())
    assert shown(app.success[0].value).startswith(f"Removed {name} from the corpus folder. Index updated")
    assert not (small_index.corpus_dir / name).exists()
    sources = [row["source"] for row in open_index(small_index).query("SELECT source FROM documents")]
    assert len(sources) == 1 and not any(s.endswith(name) for s in sources)
    listed = next(e for e in app.sidebar.expander if e.label.startswith("Reports in the index"))
    assert listed.label == "Reports in the index (1)"
    ask(app, LAC)
    assert not any("2018-09" in shown(e.label) for e in answers(app)[0].expander)
