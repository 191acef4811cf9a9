"""The index folder itself: its manifest (what is in it, checked on open), what a folder must
hold to count as an index of ours, the build lock (one writer at a time), the build cache's
place beside it, and the swap that puts a finished build in place of the old one."""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.chunking import CHUNKER_VERSION, ENCODING
from rag.errors import (
    IndexBusyError,
    IndexDamagedError,
    IndexMismatchError,
    NotAnIndexError,
)
from rag.settings import Settings

FORMAT_VERSION = 4


MANIFEST = "manifest.json"


VECTORS = "vectors.faiss"


DATABASE = "chunks.sqlite"


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


def check_compatible(manifest: dict, settings: Settings, index_dir: Path) -> None:
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


def cache_dir(index_dir: Path) -> Path:
    """The build cache beside the index (see rag.build.cache)."""
    index_dir = index_dir.resolve()
    return index_dir.parent / f".{index_dir.name}.cache"


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


def remove_stale(index_dir: Path) -> None:
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


def swap_in(staging: Path, index_dir: Path) -> None:
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
