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
        "answer": {"question": question, "answer": answer, "status": "answered", "citations": []},
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
