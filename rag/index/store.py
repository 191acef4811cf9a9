"""The index's contents: chunks.sqlite (documents, chunks, an FTS5 table, and every chunk's vector
by content hash so an unchanged passage is never embedded again) beside vectors.faiss (see
rag.index.vectors). `write_index` writes a build aside and swaps it in (rag.index.folder);
`Index` reads one, and holds every SQL query the program makes. rag.build decides what goes in."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from rag.chunking import spoken_date
from rag.errors import (
    IndexDamagedError,
    IndexMismatchError,
    IndexMissingError,
)
from rag.index.folder import (
    DATABASE,
    MANIFEST,
    VECTORS,
    check_compatible,
    check_index_folder,
    expected_manifest,
    manifest_problem,
    read_manifest,
    remove_stale,
    repair_hint,
    swap_in,
)
from rag.index.vectors import EXACT_BELOW, build_vector_index, tuning_queries, vector_index_kind
from rag.settings import Settings
from rag.types import Chunk, Document

TOKENIZER = "porter unicode61"
SCHEMA = f"""
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY, source TEXT UNIQUE NOT NULL, title TEXT NOT NULL,
    council TEXT, date TEXT, sha256 TEXT NOT NULL, pages INTEGER, text TEXT NOT NULL,
    meeting TEXT, author TEXT
);
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE NOT NULL, doc_id TEXT NOT NULL REFERENCES documents,
    text TEXT NOT NULL, heading TEXT, page INTEGER, page_end INTEGER, paragraphs TEXT NOT NULL,
    start INTEGER NOT NULL, end INTEGER NOT NULL, tokens INTEGER NOT NULL, embedding TEXT NOT NULL
);
CREATE TABLE embeddings (hash TEXT PRIMARY KEY, vector BLOB NOT NULL);
CREATE INDEX chunks_doc ON chunks(doc_id);
CREATE VIRTUAL TABLE chunks_fts USING fts5(text, context, tokenize='{TOKENIZER}');
CREATE TABLE term_docs (term TEXT PRIMARY KEY, docs INTEGER NOT NULL) WITHOUT ROWID;
"""
COUNTED_TERMS = 50
"""term_docs lists the indexed terms (stems) found in at least this many chunks, with their count,
so a keyword query can leave out words so common that scoring them would take long."""


# --- writing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One source file ready to be written: its documents row, its chunk rows (in order, without
    their row number), their vectors, and its manifest entry (sha256, doc_id, chunks, pages)."""

    document: dict
    chunks: list[dict]
    vectors: np.ndarray | None
    file: dict


def open_previous(index_dir: Path, settings: Settings, rebuild: bool) -> Index | None:
    """The current index, for its stored vectors (kept by content and model, so they are safe to
    reuse even from a damaged or mismatched index), or None when its database cannot be read.
    Its files' chunks are reused only when `reusable_files` says so."""
    if rebuild or not (index_dir / DATABASE).is_file():
        return None
    try:
        manifest = read_manifest(index_dir) or {}
    except IndexDamagedError:
        manifest = {}
    index = Index(index_dir, manifest)
    try:
        index.query("SELECT hash FROM embeddings LIMIT 1")
    except sqlite3.Error:
        index.close()
        return None
    return index


def reusable_files(index: Index | None, settings: Settings) -> bool:
    """Whether `index`'s files can be kept as they are: it is whole, of this format and model, and
    was cut as these settings would cut it. If not, every file is chunked again (and only the
    vectors of passages whose text is unchanged are reused)."""
    if index is None or index.problem:
        return False
    try:
        check_compatible(index.manifest, settings, index.index_dir)
    except IndexMismatchError:
        return False
    return index.manifest.get("chunker") == expected_manifest(settings)["chunker"]


def write_index(
    index_dir: Path, manifest: dict, entries: list[Entry], skipped: list[dict], index_type: str = "auto"
) -> tuple[int, int]:
    """Write `entries` (in this order) as a new index and swap it in place of `index_dir`;
    returns (documents, chunks). `manifest` holds the format, model, dimension and chunker.
    Each chunk row carries its `embedding` key; its vector is stored under that key."""
    import faiss

    index_dir = index_dir.resolve()
    check_index_folder(index_dir)
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(index_dir)
    staging = index_dir.parent / f".{index_dir.name}.building-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        db = sqlite3.connect(staging / DATABASE)
        db.executescript(SCHEMA)
        vectors: list[np.ndarray] = []
        files: dict[str, dict] = {}
        row = 0
        for entry in entries:
            _insert_document(db, entry.document)
            for chunk, vector in zip(entry.chunks, entry.vectors if entry.chunks else []):
                _insert_chunk(db, {**chunk, "row": row}, entry.document)
                db.execute(
                    "INSERT OR IGNORE INTO embeddings VALUES (?, ?)",
                    (chunk["embedding"], np.asarray(vector, np.float32).tobytes()),
                )
                row += 1
            if entry.chunks:
                vectors.append(entry.vectors)
            files[entry.document["source"]] = {**entry.file, "chunks": len(entry.chunks)}
        db.execute("CREATE VIRTUAL TABLE temp.fts_terms USING fts5vocab(main, chunks_fts, row)")
        db.execute(
            "INSERT INTO term_docs SELECT term, doc FROM temp.fts_terms WHERE doc >= ?", (COUNTED_TERMS,)
        )
        db.commit()
        db.close()

        dimension = manifest["dimension"]
        matrix = np.vstack(vectors).astype(np.float32) if vectors else np.zeros((0, dimension), np.float32)
        queries = None
        if vector_index_kind(len(matrix), index_type) != "flat":
            texts = [chunk["text"] for entry in entries for chunk in entry.chunks]
            queries = tuning_queries(texts, manifest["embedding_model"])
        vector_index, described = build_vector_index(matrix, index_type, queries)
        faiss.write_index(vector_index, str(staging / VECTORS))

        manifest = {
            **manifest,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "documents": len(files),
            "chunks": row,
            "vector_index": described,
            "files": dict(sorted(files.items())),
            "skipped": sorted(skipped, key=lambda s: s["source"]),
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        swap_in(staging, index_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return len(files), row


MIN_KEYWORD_TERMS = 2


class _Stemmer:
    """The index's own tokenizer (FTS5, porter) applied to query words, in a private in-memory
    database: a word can give several terms ("kcc's" gives kcc and s)."""

    def __init__(self):
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db.execute(f"CREATE VIRTUAL TABLE words USING fts5(word, tokenize='{TOKENIZER}')")
        self.db.execute("CREATE VIRTUAL TABLE word_terms USING fts5vocab(words, instance)")
        self._lock = threading.Lock()

    def stems(self, words: list[str]) -> list[list[str]]:
        with self._lock:
            self.db.execute("DELETE FROM words")
            self.db.executemany("INSERT INTO words(rowid, word) VALUES (?, ?)", enumerate(words))
            found = self.db.execute("SELECT doc, term FROM word_terms ORDER BY doc, offset").fetchall()
        stems: list[list[str]] = [[] for _ in words]
        for position, term in found:
            stems[position].append(term)
        return stems


def document_row(document: Document, sha256: str) -> dict:
    return {
        "doc_id": document.id,
        "source": document.source,
        "title": document.title,
        "council": document.council,
        "date": document.date,
        "sha256": sha256,
        "pages": len(document.page_starts) or None,
        "text": document.text,
        "meeting": document.meeting,
        "author": document.author,
    }


def chunk_row(chunk: Chunk) -> dict:
    return {
        "chunk_id": chunk.id,
        "doc_id": chunk.doc_id,
        "text": chunk.text,
        "heading": chunk.heading,
        "page": chunk.page,
        "page_end": chunk.page_end,
        "paragraphs": json.dumps(list(chunk.paragraphs)),
        "start": chunk.start,
        "end": chunk.end,
        "tokens": chunk.tokens,
    }


def _insert_document(db: sqlite3.Connection, row: dict) -> None:
    db.execute(
        "INSERT INTO documents (doc_id, source, title, council, date, sha256, pages, text, meeting, author)"
        " VALUES (:doc_id, :source, :title, :council, :date, :sha256, :pages, :text, :meeting, :author)",
        row,
    )


def _insert_chunk(db: sqlite3.Connection, row: dict, document_row: dict) -> None:
    db.execute(
        "INSERT INTO chunks VALUES (:row, :chunk_id, :doc_id, :text, :heading, :page, :page_end,"
        " :paragraphs, :start, :end, :tokens, :embedding)",
        row,
    )
    context = " — ".join(
        part
        for part in (
            document_row["council"],
            document_row.get("meeting"),
            document_row["title"],
            spoken_date(document_row["date"]),
            row["heading"],
        )
        if part
    )
    db.execute(
        "INSERT INTO chunks_fts(rowid, text, context) VALUES (?, ?, ?)", (row["row"], row["text"], context)
    )


# --- the vector index ------------------------------------------------------------------------


# --- reading ---------------------------------------------------------------------------------


class Index:
    """A built index opened for reading. Safe to share between threads."""

    def __init__(self, index_dir: Path, manifest: dict):
        """Open the files; never raises for damage: `problem` says what is wrong (see `measure`)."""
        import faiss

        self.index_dir = index_dir
        self.manifest = manifest
        self.db = sqlite3.connect(f"file:{index_dir / DATABASE}?mode=ro", uri=True, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        self._stemmer = _Stemmer()
        self.vectors = None
        try:
            self.vectors = faiss.read_index(str(index_dir / VECTORS))
        except RuntimeError:
            self.problem: str | None = f"{VECTORS} cannot be read"
        else:
            self.problem = manifest_problem(manifest) or self._disagreement()
        if self.problem is None:
            described = manifest.get("vector_index") or {}
            if described.get("type") == "ivf":
                self.vectors.nprobe = described["nprobe"]
            elif described.get("type") == "hnsw":
                self.vectors.hnsw.efSearch = described["efSearch"]

    def measure(self) -> dict[str, int]:
        """What the files hold, counted: vectors and their dimension, passages, keyword-index rows,
        documents. Raises sqlite3.Error when the database cannot be read."""
        counts = self.query(
            "SELECT (SELECT count(*) FROM chunks), (SELECT count(*) FROM chunks_fts), (SELECT count(*) FROM documents)"
        )[0]
        return {
            "vectors": int(self.vectors.ntotal) if self.vectors is not None else 0,
            "dimension": int(self.vectors.d) if self.vectors is not None else 0,
            "chunks": counts[0],
            "keyword_rows": counts[1],
            "documents": counts[2],
        }

    def _disagreement(self) -> str | None:
        """Where the files disagree with each other or the manifest, in words, or None."""
        try:
            found = self.measure()
        except sqlite3.Error as exc:
            return f"{DATABASE} cannot be read: {exc}"
        stated = self.manifest
        if found["dimension"] != stated["dimension"]:
            return f"vectors of dimension {found['dimension']}, the manifest says {stated['dimension']}"
        if not found["vectors"] == found["chunks"] == found["keyword_rows"] == stated["chunks"]:
            return (
                f"{found['vectors']} vectors, {found['chunks']} passages and {found['keyword_rows']} "
                f"keyword rows, the manifest says {stated['chunks']} passages"
            )
        if found["documents"] != stated["documents"]:
            return f"{found['documents']} documents, the manifest says {stated['documents']}"
        return None

    @property
    def dimension(self) -> int:
        return int(self.vectors.d)

    @property
    def size(self) -> int:
        return int(self.vectors.ntotal)

    def query(self, sql: str, params: Iterable = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self.db.execute(sql, tuple(params)).fetchall()

    def dense_search(
        self, vector: np.ndarray, k: int, rows: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """(row, cosine score) of the k nearest chunks, best first; only among `rows` when given."""
        import faiss

        k = min(k, self.size if rows is None else len(rows))
        if k <= 0:
            return []
        query = vector.reshape(1, -1).astype(np.float32)
        if query.shape[1] != self.dimension:
            raise IndexMismatchError(
                f"the index at {self.index_dir} holds vectors of dimension {self.dimension}, the embedding "
                f"model gives {query.shape[1]}: run `rag index --rebuild --index-dir {self.index_dir}`"
            )
        kind = (self.manifest.get("vector_index") or {}).get("type", "flat")
        if rows is None:
            scores, found = self.vectors.search(query, k)
        elif kind != "flat" and len(rows) <= EXACT_BELOW:
            return self._exact_among(query[0], rows, k)  # few rows: an approximate index may miss them
        else:
            selector = faiss.IDSelectorBatch(np.asarray(rows, dtype=np.int64))
            if kind == "ivf":
                params = faiss.SearchParametersIVF(sel=selector, nprobe=self.vectors.nprobe)
            elif kind == "hnsw":
                params = faiss.SearchParametersHNSW(sel=selector, efSearch=self.vectors.hnsw.efSearch)
            else:
                params = faiss.SearchParameters(sel=selector)
            scores, found = self.vectors.search(query, k, params=params)
        return [(int(r), float(s)) for r, s in zip(found[0], scores[0]) if r >= 0]

    def _exact_among(self, query: np.ndarray, rows: np.ndarray, k: int) -> list[tuple[int, float]]:
        found = self.query(
            "SELECT c.row, e.vector FROM chunks c JOIN embeddings e ON e.hash = c.embedding"
            " WHERE c.row IN (SELECT value FROM json_each(?))",
            [json.dumps([int(r) for r in rows])],
        )
        matrix = np.vstack([np.frombuffer(r[1], dtype=np.float32) for r in found])
        scores = matrix @ query
        best = np.argsort(-scores)[:k]
        return [(int(found[i][0]), float(scores[i])) for i in best]

    def keyword_search(
        self, terms: list[str], k: int, doc_ids: list[str] | None = None, max_postings: int = 0
    ) -> list[tuple[int, float]]:
        """(row, BM25 score) of the k chunks that best match any of `terms`, best first; only in
        the documents `doc_ids` when given. The context column (council, meeting, title, date,
        heading) weighs half as much as the text. With `max_postings`, see `affordable_terms`."""
        if max_postings:
            terms = self.affordable_terms(terms, max_postings)
        if not terms or k <= 0:
            return []
        match = " OR ".join('"' + t.replace('"', "") + '"' for t in terms)
        within, params = "", [match]
        if doc_ids is not None:
            # "+rowid": the documents' rows filter the matches; a bare rowid IN (...) has SQLite run
            # the full-text query once per row (1.3 s instead of 6 ms for one month of Kent papers)
            within = (
                " AND +rowid IN (SELECT row FROM chunks WHERE doc_id IN (SELECT value FROM json_each(?)))"
            )
            params.append(json.dumps(doc_ids))
        found = self.query(
            "SELECT rowid, -bm25(chunks_fts, 1.0, 0.5) FROM chunks_fts WHERE chunks_fts MATCH ?"
            f"{within} ORDER BY bm25(chunks_fts, 1.0, 0.5) LIMIT ?",
            [*params, k],
        )
        return [(int(r[0]), float(r[1])) for r in found]

    def affordable_terms(self, terms: list[str], max_postings: int) -> list[str]:
        """The rarest of `terms` whose chunk counts add up to at most `max_postings` (and always the
        two rarest): BM25 scores every chunk holding any query word, so in a large index a word
        found in a third of a million chunks costs a quarter of a second and, being common, moves
        the ranking little. In an index the size of Kent's no question comes near the budget."""
        if len(terms) <= MIN_KEYWORD_TERMS:
            return terms
        stems = self._stemmer.stems(terms)
        wanted = sorted({s for group in stems for s in group})
        marks = ",".join("?" * len(wanted))
        counts = (
            dict(self.query(f"SELECT term, docs FROM term_docs WHERE term IN ({marks})", wanted))
            if wanted
            else {}
        )
        cost = [sum(counts.get(s, 0) for s in group) for group in stems]
        kept, spent = set(), 0
        for i in sorted(range(len(terms)), key=lambda i: cost[i]):
            if len(kept) >= MIN_KEYWORD_TERMS and spent + cost[i] > max_postings:
                break
            kept.add(i)
            spent += cost[i]
        return [t for i, t in enumerate(terms) if i in kept]

    def documents(self) -> list[sqlite3.Row]:
        """Every document's id and the metadata filters look at."""
        return self.query("SELECT doc_id, title, source, council, date FROM documents")

    def rows_of(self, doc_ids: list[str]) -> np.ndarray:
        """The chunk rows of these documents."""
        found = self.query(
            "SELECT row FROM chunks WHERE doc_id IN (SELECT value FROM json_each(?))", [json.dumps(doc_ids)]
        )
        return np.array([r[0] for r in found], dtype=np.int64)

    def chunk_rows(self, rows: list[int]) -> dict[int, sqlite3.Row]:
        """Chunks with their document's metadata, by row."""
        if not rows:
            return {}
        marks = ",".join("?" * len(rows))
        found = self.query(
            "SELECT c.row, c.chunk_id, c.doc_id, c.text, c.heading, c.page, c.page_end, c.paragraphs,"
            " d.title, d.source, d.council, d.date, d.meeting, d.author"
            " FROM chunks c JOIN documents d USING (doc_id)"
            f" WHERE c.row IN ({marks})",
            rows,
        )
        return {r["row"]: r for r in found}

    def adjacent_rows(self, chunk_id: str) -> list[int]:
        """The rows of the chunks right before and right after this one in its document."""
        found = self.query(
            "SELECT (SELECT b.row FROM chunks b WHERE b.doc_id = c.doc_id AND b.start < c.start"
            " ORDER BY b.start DESC LIMIT 1), (SELECT a.row FROM chunks a WHERE a.doc_id = c.doc_id"
            " AND a.start > c.start ORDER BY a.start LIMIT 1) FROM chunks c WHERE c.chunk_id = ?",
            [chunk_id],
        )
        return [row for row in (found[0] if found else ()) if row is not None]

    def opening_rows(self, doc_ids: list[str]) -> list[int]:
        """The row of each document's first chunk."""
        found = self.query(
            "SELECT (SELECT c.row FROM chunks c WHERE c.doc_id = d.value ORDER BY c.start LIMIT 1)"
            " FROM json_each(?) d",
            [json.dumps(doc_ids)],
        )
        return [r[0] for r in found if r[0] is not None]

    def document_rows(self, doc_id: str) -> tuple[dict, list[dict], np.ndarray]:
        """A document's row, its chunk rows and their vectors, for reuse in a new build."""
        document = dict(self.query("SELECT * FROM documents WHERE doc_id = ?", [doc_id])[0])
        chunks = [dict(r) for r in self.query("SELECT * FROM chunks WHERE doc_id = ? ORDER BY row", [doc_id])]
        for chunk in chunks:
            del chunk["row"]
        stored = self.stored_vectors([c["embedding"] for c in chunks])
        vectors = np.vstack([stored[c["embedding"]] for c in chunks]) if chunks else None
        return document, chunks, vectors

    def stored_vectors(self, keys: list[str]) -> dict[str, np.ndarray]:
        """The vectors this index holds for these embedding keys (rag.models.embeddings.embedding_key)."""
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            rows = self.query(
                f"SELECT hash, vector FROM embeddings WHERE hash IN ({','.join('?' * len(part))})", part
            )
            found.update((r[0], np.frombuffer(r[1], dtype=np.float32)) for r in rows)
        return found

    def info(self) -> dict:
        """What the index holds, as measured (counts from the files, not the manifest)."""
        size = sum(p.stat().st_size for p in self.index_dir.iterdir() if p.is_file())
        found = self.measure()
        councils = [
            r[0]
            for r in self.query("SELECT DISTINCT council FROM documents WHERE council IS NOT NULL ORDER BY 1")
        ]
        dates = self.query("SELECT min(substr(date, 1, 10)), max(substr(date, 1, 10)) FROM documents")[0]
        return {
            "index_dir": str(self.index_dir),
            "documents": found["documents"],
            "chunks": found["chunks"],
            "model": self.manifest["embedding_model"],
            "dimension": found["dimension"],
            "built_at": self.manifest["built_at"],
            "size_bytes": size,
            "councils": councils,
            "date_range": [dates[0], dates[1]],
            "chunker": self.manifest["chunker"],
            "vector_index": self.manifest.get("vector_index", {"type": "flat"}),
            "skipped": [
                {"source": s["source"], "reason": s["reason"]} for s in self.manifest.get("skipped", [])
            ],
        }

    def close(self) -> None:
        self.db.close()


def open_index(settings: Settings) -> Index:
    """Open the index for reading; say what to run when it is missing, does not match the
    settings, or is damaged (its files disagree: `rag index` repairs it)."""
    index_dir = settings.index_dir
    manifest = read_manifest(index_dir)
    if manifest is None:
        raise IndexMissingError(
            f"no index at {index_dir}: run `rag index` to build it from {settings.corpus_dir}/"
        )
    check_compatible(manifest, settings, index_dir)
    try:
        index = Index(index_dir, manifest)
    except sqlite3.Error as exc:
        raise IndexDamagedError(
            f"the index at {index_dir} cannot be read ({exc}): {repair_hint(index_dir)}"
        ) from None
    if index.problem:
        index.close()
        raise IndexDamagedError(
            f"the index at {index_dir} is damaged ({index.problem}): {repair_hint(index_dir)}"
        )
    return index
