"""One file made ready for the index, the same way by both engines (here and on Ray): read it,
chunk it, and turn it into index rows with the text to embed for each chunk; or say why it
could not be (Unreadable). Plain JSON-able records, so they travel between processes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.chunking import chunk_context, chunk_document, embedding_text
from rag.errors import DocumentError
from rag.index.store import Entry, chunk_row, document_row
from rag.models.embeddings import embedding_key
from rag.read.documents import load_document
from rag.read.workers import Parsed
from rag.settings import Settings
from rag.types import Document


@dataclass(frozen=True)
class Job:
    path: Path
    source: str
    sha256: str
    mtime: float


@dataclass(frozen=True)
class Prepared:
    """One file read and chunked, ready to embed: its rows for the index, its manifest entry, and
    the text embedded for each chunk. Plain JSON-able data, so it can travel between processes."""

    document: dict
    chunks: list[dict]
    file: dict
    texts: list[str]

    def entry(self, vectors) -> Entry:
        return Entry(self.document, self.chunks, vectors, self.file)


@dataclass(frozen=True)
class Unreadable:
    """Why a file could not be indexed."""

    reason: str
    lasting: bool
    """True when the file's bytes are at fault (remembered until they change); False for an I/O
    error, which may pass."""


def prepare(job: Job, load: Callable[[], Document], settings: Settings) -> Prepared | Unreadable:
    """Read a file (`load` returns its Document), chunk it, and turn it into index rows with the
    text to embed for each chunk. Both engines (here and rag.build.distributed) prepare files with this."""
    try:
        document = load()
        chunks = chunk_document(document, settings.chunk_tokens, settings.chunk_overlap)
        if not chunks:
            raise DocumentError("no text to index")
        texts = [
            embedding_text(c, chunk_context(c, document.title, document.council, document.date))
            for c in chunks
        ]
        rows = [
            {**chunk_row(c), "embedding": embedding_key(settings.embedding_model, t)}
            for c, t in zip(chunks, texts)
        ]
        document_fields = document_row(document, job.sha256)
    except DocumentError as exc:
        return Unreadable(str(exc), lasting=True)
    except OSError as exc:
        return Unreadable(f"cannot read ({exc.strerror})", lasting=False)
    except Exception as exc:  # noqa: BLE001 - one file's fault never stops the build
        return Unreadable(f"could not be read: {failure(exc)}", lasting=True)
    file = {
        "sha256": job.sha256,
        "doc_id": document.id,
        "chunks": len(chunks),
        "mtime": job.mtime,
        "pages": len(document.page_starts) or None,
        "ocr_pages": document.ocr_pages,
        "unread_pages": document.unread_pages,
    }
    return Prepared(document_fields, rows, file, texts)


def failure(exc: BaseException) -> str:
    """An unexpected error, in words: its kind and message (the reason shown for a skipped file)."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def load_parsed(job: Job, parsed: Parsed) -> Document:
    if parsed.error:
        raise DocumentError(parsed.error)
    return load_document(job.path, job.source, job.sha256, pdf=parsed.text)
