"""The index directory: manifest.json, vectors.faiss (FAISS inner-product index over normalised
vectors: exact for small corpora, IVF or HNSW for large ones) and chunks.sqlite (documents,
chunks, an FTS5 table, and every chunk's vector by content hash so an unchanged passage is never
embedded again). An index is written to a sibling folder and swapped in, so readers never see
half an index. rag.ingest decides what goes in."""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from rag.chunking import CHUNKER_VERSION, ENCODING, Chunk, spoken_date
from rag.documents import Document
from rag.errors import (
    IndexBusyError,
    IndexDamagedError,
    IndexMismatchError,
    IndexMissingError,
    NotAnIndexError,
)
from rag.settings import Settings

FORMAT_VERSION = 4
MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
DATABASE = "chunks.sqlite"

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


def expected_manifest(settings: Settings) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "embedding_model": settings.embedding_model,
        "chunker": {
            "chunk_tokens": settings.chunk_tokens,
            "chunk_overlap": settings.chunk_overlap,
            "encoding": ENCODING,
            "version": CHUNKER_VERSION,
        },
    }


INDEX_FILES = {MANIFEST, VECTORS, DATABASE} | {f"{DATABASE}-{end}" for end in ("journal", "wal", "shm")}
"""Every name an index folder may hold: a folder holding anything else is not an index of ours."""
MANIFEST_KEYS = ("format_version", "embedding_model", "dimension", "documents", "chunks", "files", "built_at")


def repair_hint(index_dir: Path) -> str:
    return f"run `rag index --index-dir {index_dir}` to repair it"


def check_index_folder(index_dir: Path) -> None:
    """Refuse an --index-dir that is a file or a folder holding anything but an index's files: a
    build replaces the whole folder, and must never delete reports or a working folder."""
    if index_dir.exists() and not index_dir.is_dir():
        raise NotAnIndexError(f"--index-dir {index_dir} is a file, not an index folder: name a folder")
    if index_dir.is_dir():
        others = sorted(p.name for p in index_dir.iterdir() if p.name not in INDEX_FILES)
        if others:
            shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
            raise NotAnIndexError(
                f"{index_dir} is not an index folder (it holds {shown}): give --index-dir an empty "
                "or new folder (a build replaces its folder, so it never writes into one like this)"
            )


def read_manifest(index_dir: Path) -> dict | None:
    """The index's manifest, None when there is none; IndexDamagedError when it is not one."""
    check_index_folder(index_dir)
    try:
        manifest = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
        raise IndexDamagedError(
            f"{index_dir / MANIFEST} cannot be read ({exc}): {repair_hint(index_dir)}"
        ) from None
    problem = manifest_problem(manifest)
    if problem:
        raise IndexDamagedError(f"{index_dir / MANIFEST} is damaged ({problem}): {repair_hint(index_dir)}")
    return manifest


def manifest_problem(manifest) -> str | None:
    """What makes `manifest` unusable, in words, or None."""
    if not isinstance(manifest, dict):
        return f"it holds a {type(manifest).__name__}, not an object"
    missing = [key for key in MANIFEST_KEYS if key not in manifest]
    if missing:
        return f"no {', '.join(missing)}"
    if not isinstance(manifest["files"], dict):
        return "files is not an object"
    for key in ("dimension", "documents", "chunks"):
        if not isinstance(manifest[key], int) or manifest[key] < 0:
            return f"{key} is not a count"
    described = manifest.get("vector_index") or {"type": "flat"}
    setting = {"ivf": "nprobe", "hnsw": "efSearch"}.get(
        described.get("type") if isinstance(described, dict) else None
    )
    if not isinstance(described, dict) or described.get("type") not in ("flat", "ivf", "hnsw"):
        return "vector_index has no known type"
    if setting and not (isinstance(described.get(setting), int) and described[setting] > 0):
        return f"vector_index of type {described['type']} has no {setting}"
    return None


def _check_compatible(manifest: dict, settings: Settings, index_dir: Path) -> None:
    expected = expected_manifest(settings)
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


# --- writing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One source file ready to be written: its documents row, its chunk rows (in order, without
    their row number), their vectors, and its manifest entry (sha256, doc_id, chunks, pages)."""

    document: dict
    chunks: list[dict]
    vectors: np.ndarray | None
    file: dict


def cache_dir(index_dir: Path) -> Path:
    """The build cache beside the index (see rag.cache)."""
    index_dir = index_dir.resolve()
    return index_dir.parent / f".{index_dir.name}.cache"


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
        _check_compatible(index.manifest, settings, index.index_dir)
    except IndexMismatchError:
        return False
    return index.manifest.get("chunker") == expected_manifest(settings)["chunker"]


@contextmanager
def build_lock(index_dir: Path, on_busy: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the index's build lock (a file beside it, holding the builder's pid): one writer at a
    time. When another build holds it, raise IndexBusyError, or with `on_busy`, tell it why and
    wait for that build to end."""
    index_dir = index_dir.resolve()
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    path = index_dir.parent / f".{index_dir.name}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            message = f"the index at {index_dir} is being built by process {holder}"
            if on_busy is None:
                raise IndexBusyError(f"{message}: wait for that build to finish, then try again") from None
            on_busy(f"{message}: waiting for it to finish...")
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock


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
    _remove_stale(index_dir)
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
        _swap_in(staging, index_dir)
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


def _remove_stale(index_dir: Path) -> None:
    """Staging and retired folders left by a build that was killed."""
    for folder in index_dir.parent.glob(f".{index_dir.name}.*-*"):
        pid = folder.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _swap_in(staging: Path, index_dir: Path) -> None:
    """Replace `index_dir` with `staging` in one step (Linux: the two folders exchange names), so
    a reader never finds the index missing; the old copy is deleted after. Where the exchange is
    not supported, two renames do it."""
    check_index_folder(index_dir)
    if index_dir.exists() and _exchange(staging, index_dir):
        shutil.rmtree(staging, ignore_errors=True)  # it holds the old build now
        return
    retired = index_dir.parent / f".{index_dir.name}.retired-{os.getpid()}"
    if index_dir.exists():
        os.rename(index_dir, retired)
    os.rename(staging, index_dir)
    shutil.rmtree(retired, ignore_errors=True)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(first: Path, second: Path) -> bool:
    """Atomically swap two paths' names (renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    done = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    return done == 0


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

INDEX_TYPES = ("auto", "flat", "ivf", "hnsw")
APPROXIMATE_FROM = 200_000
"""With index_type "auto": exact search below this many chunks, IVF from here on
(benchmarks/scale.py measures both; benchmarks/results.md has the figures)."""
RECALL_TARGET = 0.95
"""Search effort (IVF nprobe, HNSW efSearch) is raised until recall@10 against exact search
reaches this on question-like queries made from the index's own text (tuning_queries)."""
TUNING_QUERIES = 500
TUNING_WORDS = 8
EXACT_BELOW = 20_000
"""A filtered search over fewer passages than this scores them all exactly (from the stored
vectors) instead of asking an approximate index, which might not reach them."""


def vector_index_kind(count: int, index_type: str) -> str:
    """The index type `index_type` means for `count` passages ("auto" chooses by size)."""
    if index_type not in INDEX_TYPES:
        raise ValueError(f"index_type must be one of {', '.join(INDEX_TYPES)}, got {index_type!r}")
    if count == 0:
        return "flat"
    if index_type == "auto":
        return "ivf" if count >= APPROXIMATE_FROM else "flat"
    return index_type


def tuning_queries(texts: list[str], model_name: str) -> np.ndarray:
    """Question-like queries to tune an approximate index with: a random TUNING_WORDS-word window
    from each of a sample of the passages, embedded as a query. A passage's own vector is a far
    easier query than a question (on Kent its nearest other passage scores 0.92 against 0.58 for
    the dev questions' best match), so tuning on it leaves real questions short of the target;
    short fragments score 0.5-0.55 and ask for at least the effort the dev questions need."""
    from rag.embeddings import get_embedder

    rng = np.random.default_rng(1)
    sample = rng.choice(len(texts), size=min(len(texts), TUNING_QUERIES), replace=False)
    windows = []
    for i in sorted(sample):
        words = texts[i].split()
        start = int(rng.integers(0, max(1, len(words) - TUNING_WORDS + 1)))
        windows.append(" ".join(words[start : start + TUNING_WORDS]))
    return get_embedder(model_name).embed_queries(windows)


def build_vector_index(matrix: np.ndarray, index_type: str = "auto", queries: np.ndarray | None = None):
    """A FAISS inner-product index over `matrix` and its description for the manifest:
    "flat" (exact), "ivf" (inverted lists, 8-bit scalar-quantised vectors: a quarter of the
    memory) or "hnsw" (graph over full vectors); "auto" chooses by size. An approximate index's
    search effort is tuned on `queries` (see tuning_queries), else on its own passages."""
    import faiss

    count, dimension = matrix.shape
    kind = vector_index_kind(count, index_type)
    if kind == "flat":
        index = faiss.IndexFlatIP(dimension)
        index.add(matrix)
        return index, {"type": "flat"}
    if kind == "ivf":
        lists = max(1, min(int(4 * count**0.5), count // 39))  # FAISS wants >= 39 points per list
        quantizer = faiss.IndexFlatIP(dimension)
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dimension, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        sample = np.random.default_rng(0).choice(count, size=min(count, lists * 64), replace=False)
        index.train(matrix[np.sort(sample)])
        index.add(matrix)
        effort, recall = _tune(
            index, matrix, queries, lambda n: setattr(index, "nprobe", n), [1, 2, 4, 8, 16, 32, 64, 128, 256]
        )
        return index, {"type": "ivf", "storage": "sq8", "nlist": lists, "nprobe": effort, "recall@10": recall}
    index = faiss.IndexHNSWFlat(dimension, 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 80
    index.add(matrix)
    effort, recall = _tune(
        index, matrix, queries, lambda n: setattr(index.hnsw, "efSearch", n), [16, 32, 64, 128, 256, 512]
    )
    return index, {"type": "hnsw", "M": 32, "efSearch": effort, "recall@10": recall}


def _tune(index, matrix: np.ndarray, queries, set_effort, efforts: list[int]) -> tuple[int, float]:
    """The least effort whose recall@10 reaches RECALL_TARGET (else the most), and that recall."""
    effort, recall = efforts[-1], 0.0
    for effort in efforts:
        set_effort(effort)
        recall = search_recall(index, matrix, queries)
        if recall >= RECALL_TARGET:
            break
    return effort, round(recall, 3)


def search_recall(index, matrix: np.ndarray, queries: np.ndarray | None = None, k: int = 10) -> float:
    """recall@k of `index` against exact search over `matrix`. Without `queries`, a sample of the
    indexed vectors asks, each leaving itself out. A result counts when its exact score is at
    least the exact k-th best (so ties between duplicate passages are not misses)."""
    import faiss

    count = matrix.shape[0]
    own = queries is None
    if own:
        rows = np.random.default_rng(1).choice(count, size=min(count, TUNING_QUERIES), replace=False)
        queries = matrix[rows]
    depth = min(count, k + 1 if own else k)
    exact_scores, exact_rows = faiss.knn(queries, matrix, depth, metric=faiss.METRIC_INNER_PRODUCT)
    _, found = index.search(queries, depth)
    hits = total = 0
    for q, query in enumerate(queries):
        keep = [i for i, r in enumerate(exact_rows[q]) if not (own and r == rows[q])][:k]
        if not keep:
            continue
        threshold = exact_scores[q][keep[-1]] - 1e-5
        results = [r for r in found[q] if r >= 0 and not (own and r == rows[q])][: len(keep)]
        hits += sum(1 for r in results if float(matrix[r] @ query) >= threshold)
        total += len(keep)
    return hits / total if total else 1.0


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
        """The vectors this index holds for these embedding keys (rag.embeddings.embedding_key)."""
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
    _check_compatible(manifest, settings, index_dir)
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
