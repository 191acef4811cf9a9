"""Saved conversations: each chat kept in SQLite beside the index, so that a page reload, an app
restart or a shared link reopens it. One row per conversation (its id, an optional name, when it
began and when it last changed) and one per turn, the turn as JSON: the question, the answer
(`Answer.to_dict()`, what `rag ask --json` prints), the filters in words, how many sources were
shown and when it was asked.

The database is a file beside the index folder, never in it (an index folder holds only the
index's own files, and a rebuild swaps the whole folder): `index/` keeps its conversations in
`.index.conversations.sqlite`. Plain sqlite3 in WAL mode, a connection per call, so that any
number of server threads can read while one writes."""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rag.errors import RagError

BUSY_TIMEOUT_S = 10.0
"""How long a writer waits for another thread's write before giving up."""
TITLE_CHARS = 60
"""How much of the first question a conversation's title shows."""
SAVED_KEYS = ("question", "answer", "filters", "k", "asked_at", "error")
"""What a turn keeps: all JSON. A trend's or a mentions question's chart is not kept; its turn reopens
as its cited answer."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    name TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    question TEXT NOT NULL,
    asked_at TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (conversation_id, position)
);
CREATE INDEX IF NOT EXISTS conversations_by_update ON conversations(updated_at);
"""


class ConversationError(RagError):
    """The conversations database cannot be opened or written."""


def conversations_path(index_dir: Path) -> Path:
    """Where the conversations of the index at `index_dir` are kept: beside it, named after it."""
    index_dir = Path(index_dir).resolve()
    return index_dir.parent / f".{index_dir.name}.conversations.sqlite"


@dataclass(frozen=True)
class Conversation:
    """One saved conversation as the list shows it."""

    id: str
    name: str | None
    """The name a user gave it; None until renamed."""
    first_question: str
    created_at: str
    updated_at: str
    turns: int

    @property
    def title(self) -> str:
        """Its name, or else its first question (shortened)."""
        if self.name:
            return self.name
        question = " ".join(self.first_question.split())
        if len(question) <= TITLE_CHARS:
            return question or "(no question yet)"
        return question[: TITLE_CHARS - 1].rstrip() + "…"

    @property
    def date(self) -> str:
        """When it was last added to, e.g. "4 Dec 2026"."""
        return datetime.fromisoformat(self.updated_at).strftime("%-d %b %Y")


def saved_turn(turn: Mapping) -> dict:
    """The part of a chat turn that is kept (see SAVED_KEYS), as JSON-ready data."""
    return {key: turn[key] for key in SAVED_KEYS if key in turn}


class ConversationStore:
    """The conversations in one SQLite file. Safe to share between threads: every call opens its
    own connection."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)) as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConversationError(
                f"conversations cannot be saved in {self.path}: {exc}; "
                "make its folder writable (the chat works meanwhile, without saving)"
            ) from exc

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection for one call, committed on success (rolled back on error) and closed."""
        with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)) as db:
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _write(self, action) -> object:
        try:
            with self._connect() as db:
                return action(db)
        except sqlite3.Error as exc:
            raise ConversationError(f"the conversation could not be saved in {self.path}: {exc}") from exc

    def create(self, name: str | None = None) -> str:
        """A new, empty conversation; returns its id (random, hard to guess: it goes in links)."""
        conversation_id = secrets.token_urlsafe(12)
        now = _now()
        self._write(
            lambda db: db.execute(
                "INSERT INTO conversations (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)",
                (conversation_id, _clean_name(name), now, now),
            )
        )
        return conversation_id

    def append(self, conversation_id: str, turn: Mapping) -> int:
        """Add a turn at the end of the conversation; returns its position (0 for the first).
        Raises ConversationError when the conversation does not exist (deleted meanwhile)."""
        data = saved_turn(turn)
        asked_at = data.get("asked_at") or _now()

        def add(db: sqlite3.Connection) -> int:
            touched = db.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?", (_now(), conversation_id)
            ).rowcount
            if not touched:
                raise ConversationError("this conversation was deleted; start a new one")
            (position,) = db.execute(
                "SELECT COALESCE(MAX(position) + 1, 0) FROM turns WHERE conversation_id = ?",
                (conversation_id,),
            ).fetchone()
            db.execute(
                "INSERT INTO turns (conversation_id, position, question, asked_at, data) VALUES (?, ?, ?, ?, ?)",
                (conversation_id, position, str(data.get("question", "")), asked_at, json.dumps(data)),
            )
            return position

        return self._write(add)  # type: ignore[return-value]

    def load(self, conversation_id: str) -> list[dict] | None:
        """The turns of a conversation in order, or None when there is no such conversation."""
        with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)) as db:
            if not db.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)).fetchone():
                return None
            rows = db.execute(
                "SELECT data FROM turns WHERE conversation_id = ? ORDER BY position", (conversation_id,)
            ).fetchall()
        return [json.loads(data) for (data,) in rows]

    def get(self, conversation_id: str) -> Conversation | None:
        found = self.list(ids=[conversation_id])
        return found[0] if found else None

    def list(self, limit: int | None = None, ids: Iterable[str] | None = None) -> list[Conversation]:
        """Saved conversations, the most recently changed first, each with its first question;
        only those in `ids` when given."""
        query = (
            "SELECT c.id, c.name, c.created_at, c.updated_at,"
            " (SELECT question FROM turns t WHERE t.conversation_id = c.id ORDER BY position LIMIT 1),"
            " (SELECT COUNT(*) FROM turns t WHERE t.conversation_id = c.id)"
            " FROM conversations c"
        )
        params: list = []
        if ids is not None:
            ids = list(ids)
            query += f" WHERE c.id IN ({', '.join('?' * len(ids))})"
            params += ids
        query += " ORDER BY c.updated_at DESC, c.created_at DESC"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)) as db:
            rows = db.execute(query, params).fetchall()
        return [Conversation(r[0], r[1], r[4] or "", r[2], r[3], r[5]) for r in rows]

    def rename(self, conversation_id: str, name: str | None) -> bool:
        """Give a conversation a name (an empty one goes back to its first question); False
        when there is no such conversation."""
        return bool(
            self._write(
                lambda db: (
                    db.execute(
                        "UPDATE conversations SET name = ? WHERE id = ?", (_clean_name(name), conversation_id)
                    ).rowcount
                )
            )
        )

    def delete(self, conversation_id: str) -> bool:
        """Delete a conversation and its turns; False when there was no such conversation."""
        return bool(
            self._write(
                lambda db: db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,)).rowcount
            )
        )


def _clean_name(name: str | None) -> str | None:
    name = " ".join((name or "").split())
    return name[:200] or None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")
