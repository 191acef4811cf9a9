"""Ingestion: from folders of files to a built index. Finds the files, keeps what is unchanged,
parses PDFs in worker processes (rag.read.workers) and other files here, prepares each file
(rag.build.prepare) and embeds it, stores each finished file in the build cache (rag.build.cache)
so an interrupted build resumes, and writes the index (rag.index.store). Every file ends up indexed, unchanged or skipped with a reason."""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.build.cache import BuildCache
from rag.build.distributed import ingest_on_ray
from rag.build.prepare import Job, Prepared, Unreadable, failure, load_parsed, prepare
from rag.errors import DocumentError, RagError, SettingsError
from rag.index.folder import build_lock, cache_dir, check_index_folder, expected_manifest
from rag.index.store import Entry, Index, open_previous, reusable_files, write_index
from rag.index.vectors import INDEX_TYPES
from rag.models.embeddings import get_embedder
from rag.read.documents import SUPPORTED_SUFFIXES, file_sha256, load_document
from rag.read.pdf import tesseract_path
from rag.read.workers import Parsed, parse_pdfs
from rag.settings import Settings

NO_OCR_NOTE = "scanned page(s) left out: no OCR (install tesseract-ocr to read them)"
ENGINES = ("local", "ray")
"""Where files are read and embedded: worker processes on this machine, or a Ray Data pipeline
(rag.build.distributed). Everything else, and the index written, is the same."""


@dataclass
class BuildReport:
    indexed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    """Files taken from the cache of an interrupted build (also counted in `indexed`)."""
    removed: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    notes: list[dict[str, str]] = field(default_factory=list)
    """Files indexed with a caveat (pages left out, pages read by OCR)."""
    documents: int = 0
    chunks: int = 0
    embedded_chunks: int = 0
    pages: int = 0
    """PDF pages read by this build (text layer and OCR)."""
    ocr_pages: int = 0
    parse_seconds: float = 0.0
    """Wall time until the last file was read (reading overlaps embedding); with engine ray, the
    pipeline's wall time."""
    embed_seconds: float = 0.0
    write_seconds: float = 0.0
    """Time spent writing the database and the vector index and swapping them in."""
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
    left out), and the paths that cannot be indexed: missing, or of a type not read."""
    files, skipped = [], []
    for path in paths:
        if not path.exists():
            skipped.append({"source": str(path), "reason": "no such file or folder"})
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
                    else:
                        kind = item.suffix.lower() or "(no extension)"
                        skipped.append(
                            {"source": source_name(item), "reason": f"unsupported file type {kind}"}
                        )
    return sorted(set(files)), skipped


ProgressCallback = Callable[[str, int, int], None]
"""Called as (stage, done, total) while a build reads, chunks and embeds files: ("Indexing",
files done, files to read), ("Reading", files read and chunked, files to read) and ("Embedding",
passages embedded, passages read so far). An exception it raises stops the build, leaving the
index as it was (the files finished so far stay in the build cache)."""


def build_index(
    paths: list[Path] | None,
    settings: Settings,
    rebuild: bool = False,
    progress: bool = True,
    on_progress: ProgressCallback | None = None,
    on_busy: Callable[[str], None] | None = None,
) -> BuildReport:
    """Index the files under `paths` (default: the corpus folder) into settings.index_dir.
    Unchanged files keep their chunks and vectors; changed and new files are read, chunked and
    embedded; files that are gone leave the index. Unreadable files are reported and skipped.
    `progress` shows a bar on stderr; `on_progress` reports the same steps to a caller (the app).
    One build at a time writes an index: while another holds it, raise IndexBusyError, or with
    `on_busy`, tell it why and wait. A folder that is not an index is never replaced."""
    started = time.perf_counter()
    if settings.index_type not in INDEX_TYPES:
        raise SettingsError(
            f"index_type must be one of {', '.join(INDEX_TYPES)}, not {settings.index_type!r}"
        )
    if settings.engine not in ENGINES:
        raise SettingsError(
            f"engine must be local or ray, not {settings.engine!r} (engine in rag.toml, RAG_ENGINE or --engine)"
        )
    check_index_folder(settings.index_dir)
    try:
        with build_lock(settings.index_dir, on_busy):
            return _build(paths, settings, rebuild, progress, on_progress, started)
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        raise RagError(
            f"could not build the index at {settings.index_dir} ({exc.strerror or exc}{where}); "
            "the previous index is unchanged"
        ) from None


def _build(
    paths: list[Path] | None,
    settings: Settings,
    rebuild: bool,
    progress: bool,
    on_progress: ProgressCallback | None,
    started: float,
) -> BuildReport:
    index_dir = settings.index_dir
    files, skipped = collect_files(paths or [settings.corpus_dir])
    if not files and any(s["reason"] == "no such file or folder" for s in skipped):
        raise RagError(f"nothing to index: {skipped[0]['source']} does not exist")

    tesseract = tesseract_path(settings.tesseract)
    old = open_previous(index_dir, settings, rebuild)
    same_chunks = reusable_files(old, settings)
    old_files: dict = old.manifest["files"] if same_chunks else {}
    old_skips = {s["source"]: s for s in old.manifest.get("skipped", [])} if same_chunks else {}
    cache = BuildCache(cache_dir(index_dir), _fingerprint(settings, tesseract))
    report = BuildReport(skipped=skipped)
    entries, jobs = _plan(files, settings, tesseract, old, old_files, old_skips, cache, report)

    _ingest(jobs, settings, tesseract, cache, entries, report, progress, on_progress, old)

    seen = set(entries)
    report.removed = sorted(set(old_files) - seen - {s["source"] for s in report.skipped})
    if not entries:
        reasons = "; ".join(f"{s['source']}: {s['reason']}" for s in report.skipped[:3])
        raise RagError(f"no file could be indexed ({reasons}); the previous index is unchanged")
    same_skips = (
        sorted(report.skipped, key=_by_source) == sorted(old.manifest.get("skipped", []), key=_by_source)
        if same_chunks
        else False
    )
    if same_chunks and not report.indexed and not report.removed and same_skips:
        report.documents, report.chunks = len(report.unchanged), old.size  # up to date: no rewrite
        old.close()
        cache.clear()
        report.seconds = time.perf_counter() - started
        return report

    dimension = next((e.vectors.shape[1] for e in entries.values() if e.vectors is not None), None)
    dimension = dimension or (old.dimension if same_chunks else 0)
    writing = time.perf_counter()
    report.documents, report.chunks = write_index(
        index_dir,
        {**expected_manifest(settings), "dimension": dimension},
        [entries[source] for source in sorted(entries)],
        report.skipped,
        settings.index_type,
    )
    report.write_seconds = time.perf_counter() - writing
    if old:
        old.close()
    cache.clear()
    report.seconds = time.perf_counter() - started
    return report


def _plan(
    files: list[Path],
    settings: Settings,
    tesseract: str | None,
    old: Index | None,
    old_files: dict,
    old_skips: dict,
    cache: BuildCache,
    report: BuildReport,
) -> tuple[dict[str, Entry], list[Job]]:
    """What each file needs: nothing (unchanged since the last build, or failing as it did with
    the same bytes, settings and code), its rows from the build cache, or reading (a Job)."""
    entries: dict[str, Entry] = {}
    jobs: list[Job] = []
    for path in files:
        source = source_name(path)
        try:
            size_mb = path.stat().st_size / 1e6
            if size_mb > settings.max_file_mb:
                raise DocumentError(f"too large ({size_mb:.0f} MB > max_file_mb {settings.max_file_mb:g})")
            sha256 = file_sha256(path)
            mtime = path.stat().st_mtime
        except DocumentError as exc:
            report.skipped.append({"source": source, "reason": str(exc)})
            continue
        except OSError as exc:
            report.skipped.append({"source": source, "reason": f"cannot read ({exc.strerror})"})
            continue
        previous = old_files.get(source)
        ocr_now = tesseract and previous and previous.get("unread_pages")  # Tesseract came since
        if previous and previous["sha256"] == sha256 and not ocr_now:
            entries[source] = Entry(*old.document_rows(previous["doc_id"]), file=previous)
            report.unchanged.append(source)
            if previous.get("unread_pages"):
                _note(report, source, {"unread_pages": previous["unread_pages"]})
            continue
        skip = old_skips.get(source)
        if skip and skip.get("sha256") == sha256 and skip.get("read_with") == cache.key:
            report.skipped.append(skip)  # the same bytes, settings and code fail the same way
            continue
        cached = cache.get(source, sha256)
        if cached:
            record, vectors = cached
            if "skipped" in record:
                report.skipped.append(record["skipped"])
            else:
                entries[source] = Entry(record["document"], record["chunks"], vectors, record["file"])
                report.indexed.append(source)
                report.resumed.append(source)
                _note(report, source, record["file"])
            continue
        jobs.append(Job(path, source, sha256, mtime))

    return entries, jobs


def _by_source(item: dict) -> str:
    return item["source"]


PACKAGE = Path(__file__).resolve().parent.parent
SHAPING_CODE = (
    "read",
    "models",
    "index",
    "build",
    "data",
    "chunking.py",
    "dates.py",
    "text.py",
    "errors.py",
    "types.py",
    "glossary.py",
    "settings.py",
)
"""What turns a file into index rows (whole subpackages, so a module moved or added in one of
them is part of the build cache's key)."""


def _code_files() -> list[Path]:
    files = []
    for name in SHAPING_CODE:
        path = PACKAGE / name
        found = [path] if path.is_file() else path.rglob("*")
        files += [p for p in found if p.suffix in (".py", ".toml", ".csv", ".txt")]
    return sorted(files)


def _fingerprint(settings: Settings, tesseract: str | None) -> str:
    """What a cached file depends on: settings, OCR, and the code that reads and chunks it."""
    import hashlib
    import json

    code = hashlib.sha256()
    for path in _code_files():
        code.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes())
    fields = {**expected_manifest(settings), "ocr": bool(tesseract), "code": code.hexdigest()}
    return json.dumps(fields, sort_keys=True)


def _note(report: BuildReport, source: str, file: dict) -> None:
    if file.get("unread_pages"):
        report.notes.append({"source": source, "note": f"{file['unread_pages']} {NO_OCR_NOTE}"})
    if file.get("ocr_pages"):
        report.notes.append({"source": source, "note": f"{file['ocr_pages']} page(s) read by OCR"})


def _ingest(
    jobs: list[Job],
    settings: Settings,
    tesseract: str | None,
    cache: BuildCache,
    entries: dict[str, Entry],
    report: BuildReport,
    progress: bool,
    on_progress: ProgressCallback | None = None,
    old: Index | None = None,
) -> None:
    """Read, chunk and embed each job's file (reusing `old`'s vectors of unchanged passages);
    PDFs are parsed by worker processes in the background while this thread chunks and embeds
    what is ready."""
    if not jobs:
        return
    if settings.engine == "ray":
        _ingest_on_ray(jobs, settings, tesseract, cache, entries, report, progress, on_progress)
        return
    pdfs = {job.path: job for job in jobs if job.path.suffix.lower() == ".pdf"}
    others = [job for job in jobs if job.path not in pdfs]
    bar = _Progress(len(jobs), progress, on_progress)
    results: queue.Queue = queue.Queue()
    stop = threading.Event()

    parse_done: list[float] = []

    def parse_in_background() -> None:
        try:
            for parsed in parse_pdfs(
                list(pdfs),
                tesseract,
                settings.workers,
                settings.parse_timeout,
                settings.worker_memory_mb,
                on_page=bar.page,
                stop=stop,
            ):
                results.put(parsed)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            results.put(exc)
        finally:
            parse_done.append(time.perf_counter())
            results.put(None)

    thread = threading.Thread(target=parse_in_background, name="pdf-workers", daemon=True)
    parse_started = time.perf_counter()
    if pdfs:
        thread.start()
    group = _EmbeddingGroup(settings, cache, entries, report, bar, old)
    try:
        for job in others:
            group.add(
                job, prepare(job, lambda job=job: load_document(job.path, job.source, job.sha256), settings)
            )
        while pdfs:
            item = results.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            parsed: Parsed = item
            job = pdfs[parsed.path]
            group.add(job, prepare(job, lambda job=job, parsed=parsed: load_parsed(job, parsed), settings))
        group.flush()
    finally:
        stop.set()
        if pdfs:
            thread.join(timeout=10)
        bar.close()
    report.parse_seconds = (parse_done[0] if parse_done else time.perf_counter()) - parse_started
    report.pages = bar.pages


def _ingest_on_ray(
    jobs: list[Job],
    settings: Settings,
    tesseract: str | None,
    cache: BuildCache,
    entries: dict[str, Entry],
    report: BuildReport,
    progress: bool,
    on_progress: ProgressCallback | None = None,
) -> None:
    """The same work as a Ray Data pipeline (rag.build.distributed); each file that comes back is
    recorded here as the local engine records it."""
    bar = _Progress(len(jobs), progress, on_progress)
    started = time.perf_counter()
    try:
        for done in ingest_on_ray(jobs, settings, tesseract):
            bar.pages += done.pages
            report.embed_seconds += done.embed_seconds
            if isinstance(done.result, Unreadable):
                _skip(done.job, done.result, cache, report, bar)
            else:
                _add(
                    done.job, done.result.entry(done.vectors), cache, entries, report, bar, len(done.vectors)
                )
    finally:
        bar.close()
    report.parse_seconds = time.perf_counter() - started  # reading and embedding overlap on the cluster
    report.pages = bar.pages


def _vectors(
    texts: list[str],
    keys: list[str],
    settings: Settings,
    old: Index | None,
    built: dict[str, np.ndarray],
    on_embed: Callable[[int], Callable[[int], None]] | None = None,
) -> tuple[np.ndarray, list[int]]:
    """Vectors for `texts`, and which were embedded: those the previous index holds under the
    same key are reused (a changed file re-embeds only its changed passages), and so are those
    this build has embedded already (`built`, which gains the new ones: the same report attached
    to two packs is embedded once)."""
    stored = old.stored_vectors(keys) if old else {}
    stored.update((key, built[key]) for key in keys if key in built)
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key not in stored:
            first.setdefault(key, i)
    missing = list(first.values())
    fresh = get_embedder(settings.embedding_model, settings.embed_batch_size).embed_passages(
        [texts[i] for i in missing], progress=on_embed(len(missing)) if on_embed else None
    )
    stored.update((keys[i], vector) for i, vector in zip(missing, fresh))
    vectors = np.vstack([stored[key] for key in keys])
    built.update((keys[i], vectors[i]) for i in missing)  # rows of the array the entries keep
    return vectors, missing


EMBEDDING_GROUP = 16
"""Files are embedded together once they hold this many chunks between them: a folder of
one-chunk files (abstracts, short notes) then keeps every core busy as a long report does."""


class _EmbeddingGroup:
    """Files read and chunked, waiting to be embedded together; each is recorded (and cached)
    once its vectors are in, in the order the files came."""

    def __init__(self, settings: Settings, cache: BuildCache, entries, report: BuildReport, bar, old):
        self.settings, self.cache, self.entries, self.report, self.bar = settings, cache, entries, report, bar
        self.old = old
        self.waiting: list[tuple[Job, Prepared]] = []
        self.built: dict[str, np.ndarray] = {}
        """The vectors this build has embedded, by embedding key."""

    def add(self, job: Job, ready: Prepared | Unreadable) -> None:
        if isinstance(ready, Unreadable):
            _skip(job, ready, self.cache, self.report, self.bar)
            return
        self.waiting.append((job, ready))
        if sum(len(r.texts) for _, r in self.waiting) >= EMBEDDING_GROUP:
            self.flush()

    def flush(self) -> None:
        waiting, self.waiting = self.waiting, []
        if not waiting:
            return
        started = time.perf_counter()
        texts = [t for _, ready in waiting for t in ready.texts]
        keys = [c["embedding"] for _, ready in waiting for c in ready.chunks]
        try:
            vectors, embedded = _vectors(
                texts,
                keys,
                self.settings,
                self.old,
                self.built,
                lambda count: self.bar.embedding(count, len(waiting)),
            )
        except RagError:
            raise  # the model itself is missing or unusable (or the caller stopped the build)
        except Exception as exc:  # noqa: BLE001 - find the file at fault; the others go on
            self.report.embed_seconds += time.perf_counter() - started
            if len(waiting) > 1:
                for one in waiting:
                    self.waiting = [one]
                    self.flush()
                return
            job, _ = waiting[0]
            _skip(
                job,
                Unreadable(f"could not be embedded: {failure(exc)}", lasting=False),
                self.cache,
                self.report,
                self.bar,
            )
            return
        self.report.embed_seconds += time.perf_counter() - started
        start = 0
        for job, ready in waiting:
            end = start + len(ready.texts)
            fresh = sum(1 for i in embedded if start <= i < end)
            _add(job, ready.entry(vectors[start:end]), self.cache, self.entries, self.report, self.bar, fresh)
            start = end


def _skip(job: Job, unreadable: Unreadable, cache: BuildCache, report: BuildReport, bar) -> None:
    """Record a file that could not be indexed; when its bytes are at fault, store that in the
    cache and the manifest, so that the next build skips the same bytes without reading them."""
    skip = {"source": job.source, "reason": unreadable.reason}
    if unreadable.lasting:
        skip["sha256"] = job.sha256
        if "timed out" not in skip["reason"]:  # a busy machine may not time out next time
            skip["read_with"] = cache.key
        cache.put(job.source, job.sha256, {"skipped": skip})
    report.skipped.append(skip)
    bar.file(0)


def _add(job: Job, entry: Entry, cache: BuildCache, entries, report: BuildReport, bar, embedded: int) -> None:
    """Record a file read, chunked and embedded, and store it in the cache."""
    record = {"document": entry.document, "chunks": entry.chunks, "file": entry.file}
    cache.put(job.source, job.sha256, record, entry.vectors)
    entries[job.source] = entry
    report.indexed.append(job.source)
    report.embedded_chunks += embedded
    report.ocr_pages += entry.file["ocr_pages"]
    _note(report, job.source, entry.file)
    bar.file(len(entry.chunks))


class _Progress:
    """One bar over the files to read, with pages and chunks per second."""

    def __init__(self, total: int, enabled: bool, on_progress: ProgressCallback | None = None):
        self.total = total
        self.done = 0
        self.on_progress = on_progress
        if on_progress:
            on_progress("Indexing", 0, total)
        self.pages = 0
        self.chunks = 0
        self.files_read = self.passages_read = self.passages_embedded = 0
        self.started = time.perf_counter()
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc="Indexing", unit="file", file=sys.stderr, dynamic_ncols=True)

    def page(self) -> None:
        self.pages += 1

    def embedding(self, passages: int, files: int) -> Callable[[int], None]:
        """`files` more files are read and chunked, with `passages` new passages to embed:
        report ("Reading", files read, files) and ("Embedding", passages embedded, passages read)
        now, and the second again after each batch (the callback returned). A callback that
        raises stops the build, leaving the index as it was."""
        self.files_read += files
        self.passages_read += passages
        if self.on_progress:
            self.on_progress("Reading", self.files_read, self.total)
            self.on_progress("Embedding", self.passages_embedded, self.passages_read)

        def embedded(count: int) -> None:
            self.passages_embedded += count
            if self.on_progress:
                self.on_progress("Embedding", self.passages_embedded, self.passages_read)

        return embedded

    def file(self, chunks: int) -> None:
        self.chunks += chunks
        self.done += 1
        if self.on_progress:
            self.on_progress("Indexing", self.done, self.total)
        if self.bar is not None:
            elapsed = max(1e-6, time.perf_counter() - self.started)
            self.bar.set_postfix_str(
                f"{self.pages / elapsed:.1f} pages/s, {self.chunks / elapsed:.1f} chunks/s", refresh=False
            )
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
