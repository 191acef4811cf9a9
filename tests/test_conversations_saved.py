"""Saved conversations: the store on real SQLite, and the real app (AppTest) keeping a
conversation across a restart, renaming, deleting and starting a new one."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from conftest import ROOT
from streamlit.testing.v1 import AppTest

from rag.app.conversations import ConversationError, ConversationStore, conversations_path
from rag.index.folder import INDEX_FILES

APP = str(ROOT / "app.py")
LAC = "How many children were looked after by Middlesbrough as of 10 August 2018?"


def turn(question: str, answer: str = "An answer [1].") -> dict:
    return {
        "question": question,
        "answer": {
            "question": question,
            "rewritten_question": None,
            "note": None,
            "answer": answer,
            "status": "answered",
            "confidence": 1.0,
            "citations": [],
            "passages": [],
            "timings_ms": {"total": 1.0},
        },
        "filters": "council: Middlesbrough Council",
        "k": 5,
        "asked_at": "2026-12-04T13:40:00+00:00",
    }


@pytest.fixture
def store(tmp_path):
    return ConversationStore(conversations_path(tmp_path / "index"))


# --- the store -------------------------------------------------------------------------------


def test_the_database_lies_beside_the_index_folder_never_in_it(tmp_path):
    path = conversations_path(tmp_path / "index")
    assert path == tmp_path / ".index.conversations.sqlite"
    assert path.name not in INDEX_FILES
    ConversationStore(path)
    assert not (tmp_path / "index").exists()
    (mode,) = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()
    assert mode == "wal"


def test_a_conversation_is_created_appended_to_listed_and_loaded(store):
    first = store.create()
    assert store.load(first) == []
    assert store.append(first, turn(LAC)) == 0
    assert store.append(first, {**turn("And in March 2021?"), "trend": object()}) == 1  # not JSON: dropped
    second = store.create()
    store.append(second, turn("Who chairs the board?"))

    listed = store.list()
    assert [c.id for c in listed] == [second, first]  # the latest changed first
    assert listed[1].first_question == LAC and listed[1].turns == 2
    assert listed[1].title == LAC[:59].rstrip() + "…"
    assert listed[0].title == "Who chairs the board?"
    assert listed[0].date  # e.g. "4 Dec 2026"

    loaded = store.load(first)
    assert [t["question"] for t in loaded] == [LAC, "And in March 2021?"]
    assert loaded[0] == turn(LAC)  # the answer, filters, k and time come back as saved
    assert "trend" not in loaded[1]
    assert store.load("no-such-id") is None

    store.append(first, turn("A third question"))
    assert [c.id for c in store.list()] == [first, second]  # adding to it brings it to the top
    assert [c.id for c in store.list(limit=1)] == [first]
    assert [c.id for c in store.list(ids=[second])] == [second]
    assert store.list(ids=[]) == []


def test_rename_and_delete(store):
    conversation = store.create()
    store.append(conversation, turn(LAC))
    assert store.rename(conversation, "  Looked-after   children ")
    assert store.get(conversation).title == "Looked-after children"
    assert store.rename(conversation, "")  # no name: the first question again
    assert store.get(conversation).title.startswith("How many children")
    assert not store.rename("no-such-id", "x")

    assert store.delete(conversation)
    assert store.load(conversation) is None and store.list() == []
    assert not store.delete(conversation)
    with pytest.raises(ConversationError, match="deleted"):
        store.append(conversation, turn("Too late"))
    (orphans,) = sqlite3.connect(store.path).execute("SELECT COUNT(*) FROM turns").fetchone()
    assert orphans == 0


def test_conversations_survive_reopening_the_file(tmp_path):
    path = conversations_path(tmp_path / "index")
    conversation = ConversationStore(path).create("Kept")
    ConversationStore(path).append(conversation, turn(LAC))
    again = ConversationStore(path)
    assert again.get(conversation).title == "Kept"
    assert again.load(conversation)[0]["question"] == LAC


def test_an_unwritable_place_is_one_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ConversationError, match="cannot be saved"):
        ConversationStore(blocker / ".index.conversations.sqlite")


def test_many_threads_append_and_read_at_once(store):
    conversations = [store.create() for _ in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(conversation: str, number: int) -> None:
        try:
            start.wait()
            for position in range(15):
                store.append(conversation, turn(f"question {number}-{position}"))
                store.list()
                store.load(conversation)
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(conversations[n % 4], n)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for number, conversation in enumerate(conversations):
        questions = [t["question"] for t in store.load(conversation)]
        assert len(questions) == 30  # two writers each, nothing lost, positions unique
        for writer_number in (number, number + 4):
            mine = [q for q in questions if q.startswith(f"question {writer_number}-")]
            assert mine == [f"question {writer_number}-{p}" for p in range(15)]  # in the order written
    assert sorted(c.turns for c in store.list()) == [30] * 4


# --- the app ---------------------------------------------------------------------------------


def start_app(monkeypatch, index_dir, conversation: str | None = None) -> AppTest:
    """The app as a browser opens it: a new AppTest is a new session of a restarted app."""
    monkeypatch.setenv("RAG_INDEX_DIR", str(index_dir))
    app = AppTest.from_file(APP, default_timeout=180)
    if conversation:
        app.query_params["conversation"] = conversation
    app.run()
    assert not app.exception
    return app


def ask(app: AppTest, question: str) -> AppTest:
    app.chat_input[0].set_value(question).run()
    assert not app.exception
    return app


def said(app: AppTest, who: str) -> list[str]:
    """The questions (who="user") or answers ("assistant") shown, as text."""
    return [m.markdown[0].value for m in app.chat_message if m.name == who]


def button(app: AppTest, key: str):
    return next(b for b in app.sidebar.button if b.key == key)


def test_a_conversation_survives_a_restart_and_its_link_reopens_it(monkeypatch, corpus_index):
    app = ask(start_app(monkeypatch, corpus_index.index_dir), LAC)
    conversation = app.query_params["conversation"]  # in the address: a reload keeps it
    assert "507" in said(app, "assistant")[0]
    store = ConversationStore(conversations_path(corpus_index.index_dir))
    assert store.get(conversation).first_question == LAC

    again = start_app(monkeypatch, corpus_index.index_dir, conversation)  # a restart, or the link shared
    assert [m.name for m in again.chat_message] == ["user", "assistant"]
    assert said(again, "user") == [LAC]
    answer = said(again, "assistant")[0]
    assert "507" in answer
    badges = [b.label for b in again.chat_message[1].button]
    assert badges == [":blue-badge[source 1]"]  # the citation badge, its spoken name "source 1"
    assert again.chat_message[0].caption[0].value == "You asked"
    assert again.chat_message[1].caption[0].value == "Answer"
    listed = button(again, f"conversation-{conversation}")
    assert listed.disabled and "How many children" in listed.label  # listed, marked as the open one

    ask(again, "And in March 2021?")  # a follow-up in the reopened conversation uses its history
    assert "609" in said(again, "assistant")[1]
    assert [t["question"] for t in store.load(conversation)] == [LAC, "And in March 2021?"]


def test_rename_delete_and_new_conversation_in_the_sidebar(monkeypatch, corpus_index):
    app = ask(start_app(monkeypatch, corpus_index.index_dir), LAC)
    conversation = app.query_params["conversation"]
    store = ConversationStore(conversations_path(corpus_index.index_dir))

    app.sidebar.text_input(key=f"name-{conversation}").set_value("Children looked after")
    button(app, "rename-conversation").click().run()
    assert not app.exception
    assert store.get(conversation).title == "Children looked after"
    assert button(app, f"conversation-{conversation}").label.startswith("Children looked after · ")

    new = next(b for b in app.sidebar.button if b.label == "New conversation")
    new.click().run()
    assert not app.exception
    assert not app.chat_message and "conversation" not in app.query_params  # starts empty
    assert any((b.key or "").startswith("example-") for b in app.button)
    reopen = button(app, f"conversation-{conversation}")
    assert not reopen.disabled
    reopen.click().run()
    assert not app.exception
    assert app.query_params["conversation"] == conversation
    assert len(app.chat_message) == 2 and "507" in said(app, "assistant")[0]

    button(app, "delete-conversation").click().run()  # inside its Delete popover: the confirmation
    assert not app.exception
    assert store.load(conversation) is None
    assert not app.chat_message and "conversation" not in app.query_params
    assert not [b for b in app.sidebar.button if b.key == f"conversation-{conversation}"]
    assert "deleted" in " ".join(s.value for s in app.success)

    gone = start_app(monkeypatch, corpus_index.index_dir, conversation)  # its old link
    assert not gone.chat_message
    assert "not saved here" in " ".join(w.value for w in gone.warning)


def test_read_only_still_saves_but_lists_only_this_sessions_conversations(monkeypatch, corpus_index):
    store = ConversationStore(conversations_path(corpus_index.index_dir))
    someone_else = store.create()
    store.append(someone_else, turn("Someone else's question"))
    monkeypatch.setenv("RAG_READ_ONLY", "1")
    app = ask(start_app(monkeypatch, corpus_index.index_dir), LAC)
    mine = app.query_params["conversation"]
    listed = [b.key for b in app.sidebar.button if (b.key or "").startswith("conversation-")]
    assert listed == [f"conversation-{mine}"]
    assert store.load(mine)[0]["question"] == LAC
    other = start_app(monkeypatch, corpus_index.index_dir, someone_else)  # a link still opens it
    assert "Someone else" in said(other, "user")[0]
