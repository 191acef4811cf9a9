"""The index directory: manifest.json, vectors.faiss (FAISS inner-product index over normalised
vectors) and chunks.sqlite (documents, chunks and an FTS5 table). Builds are incremental by
file hash, written to a sibling folder and swapped in, so readers never see half an index."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from rag.chunking import ENCODING, Chunk, chunk_context, chunk_document, embedding_text
from rag.documents import SUPPORTED_SUFFIXES, Document, file_sha256, load_document
from rag.embeddings import get_embedder
from rag.errors import DocumentError, IndexMismatchError, IndexMissingError, RagError
from rag.settings import Settings

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
DATABASE = "chunks.sqlite"

SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY, source TEXT UNIQUE NOT NULL, title TEXT NOT NULL,
    council TEXT, date TEXT, sha256 TEXT NOT NULL, pages INTEGER, text TEXT NOT NULL
);
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE NOT NULL, doc_id TEXT NOT NULL REFERENCES documents,
    text TEXT NOT NULL, heading TEXT, page INTEGER, page_end INTEGER, paragraphs TEXT NOT NULL,
    start INTEGER NOT NULL, end INTEGER NOT NULL, tokens INTEGER NOT NULL
);
CREATE INDEX chunks_doc ON chunks(doc_id);
CREATE VIRTUAL TABLE chunks_fts USING fts5(text, context, tokenize='porter unicode61');
"""


@dataclass
class BuildReport:
    indexed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    documents: int = 0
    chunks: int = 0
    embedded_chunks: int = 0
    seconds: float = 0.0


def source_name(path: Path) -> str:
    """How a file is named in the index and in citations: relative to the working folder
    when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


def collect_files(paths: Iterable[Path]) -> tuple[list[Path], list[dict[str, str]]]:
    """The supported files under `paths` (hidden files and README.md describing a folder are
    left out), and the given paths that do not exist."""
    files, missing = [], []
    for path in paths:
        if not path.exists():
            missing.append({"source": str(path), "reason": "no such file or folder"})
        elif path.is_file():
            files.append(path)
        else:
            for item in sorted(path.rglob("*")):
                relative = item.relative_to(path)
                if any(part.startswith(".") for part in relative.parts):
                    continue
                if item.is_file() and item.name.lower() != "readme.md":
                    if item.suffix.lower() in SUPPORTED_SUFFIXES:
                        files.append(item)
    return sorted(set(files)), missing


def _expected_manifest(settings: Settings) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "embedding_model": settings.embedding_model,
        "chunker": {
            "chunk_tokens": settings.chunk_tokens,
            "chunk_overlap": settings.chunk_overlap,
            "encoding": ENCODING,
        },
    }


def read_manifest(index_dir: Path) -> dict | None:
    try:
        return json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise IndexMismatchError(
            f"{index_dir / MANIFEST} is damaged: run `rag index --rebuild --index-dir {index_dir}`"
        ) from None


def _check_compatible(manifest: dict, settings: Settings, index_dir: Path) -> None:
    expected = _expected_manifest(settings)
    fix = f"run `rag index --rebuild --index-dir {index_dir}`"
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index at {index_dir} has format {manifest.get('format_version')}, "
            f"this version reads format {FORMAT_VERSION}: {fix}"
        )
    if manifest.get("embedding_model") != expected["embedding_model"]:
        raise IndexMismatchError(
            f"index at {index_dir} was built with embedding model "
            f"{manifest.get('embedding_model')!r}, settings say {settings.embedding_model!r}: {fix}"
        )


# --- building --------------------------------------------------------------------------------


ProgressCallback = Callable[[str, int, int], None]
"""Called as (stage, done, total) while a build reads files ("Reading") and embeds chunks ("Embedding")."""


def build_index(
    paths: list[Path] | None,
    settings: Settings,
    rebuild: bool = False,
    progress: bool = True,
    on_progress: ProgressCallback | None = None,
) -> BuildReport:
    """Index the files under `paths` (default: the corpus folder) into settings.index_dir.
    Unchanged files keep their chunks and vectors; changed and new files are read, chunked and
    embedded; files that are gone leave the index. Unreadable files are reported and skipped.
    `progress` shows bars on stderr; `on_progress` reports the same steps to a caller (the app)."""
    started = time.perf_counter()
    index_dir = settings.index_dir
    paths = paths or [settings.corpus_dir]
    files, skipped = collect_files(paths)
    if not files and skipped:
        raise RagError(f"nothing to index: {skipped[0]['source']} does not exist")

    old = _open_previous(index_dir, settings, rebuild)
    old_files: dict = old.manifest["files"] if old else {}
    report = BuildReport(skipped=skipped)
    kept: list[tuple[dict, list[dict], np.ndarray]] = []  # unchanged: document row, chunk rows, vectors
    fresh: list[tuple[Document, list[Chunk], str, float]] = []  # new or changed

    for done, path in enumerate(_progress(files, "Reading", progress)):
        if on_progress:
            on_progress("Reading", done, len(files))
        source = source_name(path)
        try:
            size_mb = path.stat().st_size / 1e6
            if size_mb > settings.max_file_mb:
                raise DocumentError(f"too large ({size_mb:.0f} MB > max_file_mb {settings.max_file_mb:g})")
            sha256 = file_sha256(path)
            previous = old_files.get(source)
            if old and previous and previous["sha256"] == sha256:
                kept.append(old.document_rows(previous["doc_id"]))
                report.unchanged.append(source)
                continue
            document = load_document(path, source, sha256)
            chunks = chunk_document(document, settings.chunk_tokens, settings.chunk_overlap)
            if not chunks:
                raise DocumentError("no text to index")
            fresh.append((document, chunks, sha256, path.stat().st_mtime))
            report.indexed.append(source)
        except DocumentError as exc:
            report.skipped.append({"source": source, "reason": str(exc)})
        except OSError as exc:
            report.skipped.append({"source": source, "reason": f"cannot read ({exc.strerror})"})

    seen = set(report.indexed) | set(report.unchanged)
    report.removed = sorted(set(old_files) - seen - {s["source"] for s in report.skipped})
    if not seen:
        reasons = "; ".join(f"{s['source']}: {s['reason']}" for s in report.skipped[:3])
        raise RagError(f"no file could be indexed ({reasons}); the previous index is unchanged")

    if old and not fresh and not report.removed and report.skipped == old.manifest.get("skipped", []):
        report.documents, report.chunks = len(report.unchanged), old.size  # up to date: no rewrite
        old.close()
        report.seconds = time.perf_counter() - started
        return report

    texts = [
        embedding_text(c, chunk_context(c, d.title, d.council, d.date)) for d, chunks, _, _ in fresh for c in chunks
    ]
    if texts:
        embedder = get_embedder(settings.embedding_model, settings.embed_batch_size)
        bar = _bar(len(texts), "Embedding", progress)
        embedded = 0

        def step(count: int) -> None:
            nonlocal embedded
            embedded += count
            if bar:
                bar.update(count)
            if on_progress:
                on_progress("Embedding", embedded, len(texts))

        new_vectors = embedder.embed_passages(texts, progress=step)
        if bar:
            bar.close()
        dimension = new_vectors.shape[1]
    else:  # nothing new: the model is not even loaded
        new_vectors, dimension = None, old.dimension
    report.embedded_chunks = len(texts)

    _write_index(index_dir, settings, dimension, kept, fresh, new_vectors, report)
    if old:
        old.close()
    report.seconds = time.perf_counter() - started
    return report


def _open_previous(index_dir: Path, settings: Settings, rebuild: bool) -> Index | None:
    """The current index when its vectors can be reused by this build."""
    if rebuild:
        return None
    try:
        manifest = read_manifest(index_dir)
        if manifest is None:
            return None
        _check_compatible(manifest, settings, index_dir)
        if manifest.get("chunker") != _expected_manifest(settings)["chunker"]:
            return None  # other chunk sizes: every file is chunked again
        return Index(index_dir, manifest)
    except (IndexMismatchError, sqlite3.Error, RuntimeError):
        return None


def _write_index(
    index_dir: Path,
    settings: Settings,
    dimension: int,
    kept: list[tuple[dict, list[dict], np.ndarray]],
    fresh: list[tuple[Document, list[Chunk], str, float]],
    new_vectors: np.ndarray | None,
    report: BuildReport,
) -> None:
    import faiss

    index_dir = index_dir.resolve()
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = index_dir.parent / f".{index_dir.name}.building-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        db = sqlite3.connect(staging / DATABASE)
        db.executescript(SCHEMA)
        vectors: list[np.ndarray] = []
        files: dict[str, dict] = {}
        row = 0
        for document_row, chunk_rows, chunk_vectors in kept:
            _insert_document(db, document_row)
            for chunk_row in chunk_rows:
                _insert_chunk(db, {**chunk_row, "row": row}, document_row)
                row += 1
            vectors.append(chunk_vectors)
            files[document_row["source"]] = _file_entry(document_row, len(chunk_rows))
        offset = 0
        for document, chunks, sha256, mtime in fresh:
            document_row = _document_row(document, sha256)
            _insert_document(db, document_row)
            for chunk in chunks:
                _insert_chunk(db, _chunk_row(chunk, row), document_row)
                row += 1
            vectors.append(new_vectors[offset : offset + len(chunks)])
            offset += len(chunks)
            files[document.source] = {**_file_entry(document_row, len(chunks)), "mtime": mtime}
        db.commit()
        db.close()

        matrix = np.vstack(vectors).astype(np.float32) if vectors else np.zeros((0, dimension), np.float32)
        vector_index = faiss.IndexFlatIP(dimension)
        vector_index.add(matrix)
        faiss.write_index(vector_index, str(staging / VECTORS))

        report.documents, report.chunks = len(files), row
        manifest = {
            **_expected_manifest(settings),
            "dimension": dimension,
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "documents": len(files),
            "chunks": row,
            "files": dict(sorted(files.items())),
            "skipped": report.skipped,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        _swap_in(staging, index_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap_in(staging: Path, index_dir: Path) -> None:
    """Replace `index_dir` with `staging` by two renames; the old copy is deleted after."""
    retired = index_dir.parent / f".{index_dir.name}.retired-{os.getpid()}"
    if index_dir.exists():
        os.rename(index_dir, retired)
    os.rename(staging, index_dir)
    shutil.rmtree(retired, ignore_errors=True)


def _document_row(document: Document, sha256: str) -> dict:
    return {
        "doc_id": document.id,
        "source": document.source,
        "title": document.title,
        "council": document.council,
        "date": document.date,
        "sha256": sha256,
        "pages": len(document.page_starts) or None,
        "text": document.text,
    }


def _chunk_row(chunk: Chunk, row: int) -> dict:
    return {
        "row": row,
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


def _file_entry(document_row: dict, chunks: int) -> dict:
    return {"sha256": document_row["sha256"], "doc_id": document_row["doc_id"], "chunks": chunks}


def _insert_document(db: sqlite3.Connection, row: dict) -> None:
    db.execute(
        "INSERT INTO documents VALUES (:doc_id, :source, :title, :council, :date, :sha256, :pages, :text)",
        row,
    )


def _insert_chunk(db: sqlite3.Connection, row: dict, document_row: dict) -> None:
    db.execute(
        "INSERT INTO chunks VALUES (:row, :chunk_id, :doc_id, :text, :heading, :page, :page_end,"
        " :paragraphs, :start, :end, :tokens)",
        row,
    )
    context = " — ".join(
        part for part in (document_row["council"], document_row["title"], row["heading"]) if part
    )
    db.execute("INSERT INTO chunks_fts(rowid, text, context) VALUES (?, ?, ?)", (row["row"], row["text"], context))


def _progress(items: list, label: str, enabled: bool):
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=label, unit="file", file=sys.stderr, dynamic_ncols=True)


def _bar(total: int, label: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="chunk", file=sys.stderr, dynamic_ncols=True)


# --- reading ---------------------------------------------------------------------------------


class Index:
    """A built index opened for reading. Safe to share between threads."""

    def __init__(self, index_dir: Path, manifest: dict):
        import faiss

        self.index_dir = index_dir
        self.manifest = manifest
        self.vectors = faiss.read_index(str(index_dir / VECTORS))
        self.db = sqlite3.connect(
            f"file:{index_dir / DATABASE}?mode=ro", uri=True, check_same_thread=False
        )
        self.db.row_factory = sqlite3.Row
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        return int(self.vectors.d)

    @property
    def size(self) -> int:
        return int(self.vectors.ntotal)

    def query(self, sql: str, params: Iterable = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self.db.execute(sql, tuple(params)).fetchall()

    def dense_search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(row, cosine score) of the k nearest chunks, best first."""
        k = min(k, self.size)
        if k <= 0:
            return []
        scores, rows = self.vectors.search(vector.reshape(1, -1).astype(np.float32), k)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]

    def keyword_search(self, terms: list[str], k: int) -> list[tuple[int, float]]:
        """(row, BM25 score) of the k chunks that best match any of `terms`, best first.
        The context column (council, title, heading) weighs half as much as the text."""
        if not terms or k <= 0:
            return []
        match = " OR ".join('"' + t.replace('"', "") + '"' for t in terms)
        found = self.query(
            "SELECT rowid, -bm25(chunks_fts, 1.0, 0.5) FROM chunks_fts WHERE chunks_fts MATCH ?"
            " ORDER BY bm25(chunks_fts, 1.0, 0.5) LIMIT ?",
            [match, k],
        )
        return [(int(r[0]), float(r[1])) for r in found]

    def chunk_rows(self, rows: list[int]) -> dict[int, sqlite3.Row]:
        """Chunks with their document's metadata, by row."""
        if not rows:
            return {}
        marks = ",".join("?" * len(rows))
        found = self.query(
            "SELECT c.row, c.chunk_id, c.doc_id, c.text, c.heading, c.page, c.page_end, c.paragraphs,"
            " d.title, d.source, d.council, d.date FROM chunks c JOIN documents d USING (doc_id)"
            f" WHERE c.row IN ({marks})",
            rows,
        )
        return {r["row"]: r for r in found}

    def document_rows(self, doc_id: str) -> tuple[dict, list[dict], np.ndarray]:
        """A document's row, its chunk rows and their vectors, for reuse in a new build."""
        document = dict(self.query("SELECT * FROM documents WHERE doc_id = ?", [doc_id])[0])
        chunks = [dict(r) for r in self.query("SELECT * FROM chunks WHERE doc_id = ? ORDER BY row", [doc_id])]
        vectors = np.vstack([self.vectors.reconstruct(c["row"]) for c in chunks]) if chunks else None
        return document, chunks, vectors

    def info(self) -> dict:
        size = sum(p.stat().st_size for p in self.index_dir.iterdir() if p.is_file())
        councils = [r[0] for r in self.query("SELECT DISTINCT council FROM documents WHERE council IS NOT NULL ORDER BY 1")]
        dates = self.query("SELECT min(substr(date, 1, 10)), max(substr(date, 1, 10)) FROM documents")[0]
        return {
            "index_dir": str(self.index_dir),
            "documents": self.manifest["documents"],
            "chunks": self.manifest["chunks"],
            "model": self.manifest["embedding_model"],
            "dimension": self.manifest["dimension"],
            "built_at": self.manifest["built_at"],
            "size_bytes": size,
            "councils": councils,
            "date_range": [dates[0], dates[1]],
            "chunker": self.manifest["chunker"],
            "skipped": self.manifest.get("skipped", []),
        }

    def close(self) -> None:
        self.db.close()


def open_index(settings: Settings) -> Index:
    """Open the index for reading; say what to run when it is missing or does not match."""
    index_dir = settings.index_dir
    manifest = read_manifest(index_dir)
    if manifest is None:
        raise IndexMissingError(
            f"no index at {index_dir}: run `rag index` to build it from {settings.corpus_dir}/"
        )
    _check_compatible(manifest, settings, index_dir)
    try:
        return Index(index_dir, manifest)
    except (RuntimeError, sqlite3.Error) as exc:
        raise IndexMismatchError(
            f"index at {index_dir} cannot be read ({exc}): run `rag index --rebuild --index-dir {index_dir}`"
        ) from None
