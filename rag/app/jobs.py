"""Index builds started from the app: one at a time per server process, each on a worker thread
that the process owns, so a build outlives the page's script run (a rerun, a question, a closed
tab) and every session sees the same build, its progress and its outcome.

A build reports progress by passage, with an estimate of the time left, and can be cancelled: it
stops between two batches of passages, and the index being served stays as it was. An upload
never vanishes: a file that cannot be read, or that was waiting when a build failed or was
cancelled, is kept in the corpus folder's failed list (rag.app.corpus.keep_failed) with the reason,
to retry or remove."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from rag.app.corpus import (
    FailedFile,
    Refused,
    build_slot,
    corpus_file,
    describe_build,
    failed_files,
    forget_failed,
    keep_failed,
    known_files,
    remove_report,
    save_upload,
    take_failed,
    update_index,
)
from rag.build.ingest import build_index
from rag.errors import DocumentError, RagError
from rag.settings import Settings

log = logging.getLogger(__name__)

RUNNING, CANCELLING, DONE, CANCELLED, FAILED = "running", "cancelling", "done", "cancelled", "failed"
KEPT = "kept under Not indexed, to retry or remove"


class Cancelled(RagError):
    """The build was cancelled by the user; raised inside it at the next progress report."""


@dataclass(frozen=True)
class JobStatus:
    """One build as the page shows it: what it does, how far it is, and how it ended."""

    id: int
    title: str
    """What the build does: "Adding report.pdf", "Updating the index"..."""
    state: str = RUNNING
    """running, cancelling, done, cancelled or failed."""
    message: str = ""
    """The outcome, once it has ended."""
    ok: bool = True
    """False when the outcome needs the user's attention (files not indexed, a failure)."""
    stage: str = "Starting"
    files_done: int = 0
    files_total: int = 0
    files_read: int = 0
    passages_done: int = 0
    passages_total: int = 0
    """Passages embedded, of those read so far (more come as more files are read)."""
    started: float = 0.0
    """time.monotonic() when the build started."""
    embedding_started: float | None = None
    finished: float | None = None

    @property
    def running(self) -> bool:
        return self.state in (RUNNING, CANCELLING)

    def seconds(self, now: float | None = None) -> float:
        return (self.finished or now or time.monotonic()) - self.started

    @property
    def files_unread(self) -> int:
        """Files of this build not read yet (their passages are not counted yet)."""
        return max(0, self.files_total - max(self.files_done, self.files_read))

    def seconds_left(self, now: float | None = None) -> float | None:
        """Time left to embed the passages read so far, at the rate of those embedded so far
        (files not read yet are not counted: their size is unknown until they are read). None
        until a batch is embedded."""
        now = now or time.monotonic()
        if not self.running or not self.passages_done or self.embedding_started is None:
            return None
        rate = self.passages_done / max(1e-3, now - self.embedding_started)
        return max(0, self.passages_total - self.passages_done) / rate


def describe_progress(status: JobStatus, now: float | None = None) -> str:
    """A line under the progress bar: what is being done, how far, and about how long is left."""
    if status.state == CANCELLING:
        return f"{status.title}: cancelling at the next batch of passages…"
    parts = [status.title]
    if status.stage == "Checking":
        parts.append(
            f"checking file {min(status.files_done + 1, status.files_total)} of {status.files_total}"
        )
    else:
        if status.passages_total:
            parts.append(f"{status.passages_done} of {status.passages_total} passages embedded")
        if status.files_total > 1 or (status.files_total and not status.passages_total):
            parts.append(f"{max(status.files_done, status.files_read)} of {status.files_total} files read")
    left = status.seconds_left(now)
    if left is None:
        parts.append(f"{_duration(status.seconds(now))} so far")
    elif status.files_unread:
        parts.append(f"about {_duration(left)} left for the files read so far")
    else:
        parts.append(f"about {_duration(left)} left")
    return " · ".join(parts)


def progress_fraction(status: JobStatus) -> float:
    """How much of the build is done, 0 to 1, for a progress bar: the passages embedded, as a
    share of the files read."""
    if not status.files_total:
        return 0.0
    files = max(status.files_done, status.files_read) / status.files_total
    if status.passages_total:
        return min(1.0, files * status.passages_done / status.passages_total)
    return min(1.0, status.files_done / status.files_total)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s"


class _Build:
    """A running build's mutable state; the page reads JobStatus snapshots of it."""

    def __init__(self, status: JobStatus):
        self.status = status
        self.cancel = threading.Event()
        self.lock = threading.Lock()
        self.done = threading.Event()

    def snapshot(self) -> JobStatus:
        with self.lock:
            return self.status

    def update(self, **changes) -> None:
        with self.lock:
            self.status = replace(self.status, **changes)

    def on_progress(self, stage: str, done: int, total: int) -> None:
        """build_index's progress callback; raises Cancelled once the user has cancelled."""
        if self.cancel.is_set():
            raise Cancelled("cancelled")
        with self.lock:
            status = self.status
            if stage == "Embedding":
                started = status.embedding_started or time.monotonic()
                status = replace(
                    status, stage=stage, passages_done=done, passages_total=total, embedding_started=started
                )
            elif stage == "Reading":
                status = replace(status, files_read=done, files_total=total)
            else:
                status = replace(status, stage=stage, files_done=done, files_total=total)
            self.status = status


class IndexJobs:
    """The builds of one index in one server process (the app holds one per index folder with
    st.cache_resource). One build at a time: asking for a second while one runs is refused with
    a RagError saying which is running."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._build: _Build | None = None
        self._ids = itertools.count(1)

    # --- what the page shows -----------------------------------------------------------------

    def status(self) -> JobStatus | None:
        """The running build, or the last one to end (None before the first)."""
        build = self._build
        return build.snapshot() if build else None

    def failed(self) -> list[FailedFile]:
        """Uploads that could not be indexed, with why."""
        return failed_files(self.settings)

    def wait(self, timeout: float | None = None) -> JobStatus | None:
        """Block until the current build ends (for scripts and tests); its status."""
        build = self._build
        if build:
            build.done.wait(timeout)
        return self.status()

    # --- what the user asks for --------------------------------------------------------------

    def update(self, rebuild: bool = False) -> JobStatus:
        """Bring the index up to date with the corpus folder."""
        title = "Rebuilding the index" if rebuild else "Updating the index"
        return self._start(title, lambda build: self._update(build, rebuild))

    def add(self, files: list[tuple[str, bytes]]) -> JobStatus:
        """Add uploaded files (name, content) to the corpus folder and index them."""
        if not files:
            raise RagError("no files to add: choose one or more reports first")
        names = ", ".join(name for name, _ in files[:3]) + (
            f" and {len(files) - 3} more" if len(files) > 3 else ""
        )
        return self._start(f"Adding {names}", lambda build: self._add(build, files))

    def retry(self, name: str) -> JobStatus:
        """Try to index a file of the failed list again (it leaves the list; it comes back, with
        the new reason, if it fails again)."""
        taken: list[tuple[str, bytes]] = []

        def take() -> None:
            taken.append(take_failed(name, self.settings))

        return self._start(f"Retrying {name}", lambda build: self._add(build, taken), before=take)

    def forget(self, name: str) -> None:
        """Delete a file of the failed list."""
        self._refuse_if_read_only()
        with self._lock:
            forget_failed(name, self.settings)

    def remove(self, source: str, label: str | None = None) -> JobStatus:
        """Delete an indexed report's file from the corpus folder and update the index; refused
        at once when the file is not in the corpus folder."""
        corpus_file(source, self.settings)
        title = f"Removing {label or Path(source).name}"
        return self._start(title, lambda build: self._remove(build, source))

    def cancel(self) -> JobStatus | None:
        """Ask the running build to stop; it does at its next batch of passages (or file)."""
        build = self._build
        if build is None or not build.snapshot().running:
            return self.status()
        build.cancel.set()
        build.update(state=CANCELLING)
        return build.snapshot()

    # --- the worker thread -------------------------------------------------------------------

    def _start(
        self,
        title: str,
        work: Callable[[_Build], tuple[str, str, bool]],
        before: Callable[[], None] | None = None,
    ) -> JobStatus:
        self._refuse_if_read_only()
        with self._lock:
            running = self._build.snapshot() if self._build else None
            if running and running.running:
                raise RagError(
                    f"one update at a time: {running.title} is running. Wait for it to finish, or "
                    "cancel it, then try again"
                )
            if before:
                before()
            build = _Build(JobStatus(next(self._ids), title, started=time.monotonic()))
            self._build = build
            thread = threading.Thread(
                target=self._run, args=(build, work), name=f"index-build-{build.status.id}", daemon=True
            )
            thread.start()
        return build.snapshot()

    def _refuse_if_read_only(self) -> None:
        if self.settings.read_only:
            raise RagError(
                "this server is read-only (rag serve --read-only): update the index with `rag index`"
            )

    def _run(self, build: _Build, work: Callable[[_Build], tuple[str, str, bool]]) -> None:
        try:
            state, message, ok = work(build)
        except Cancelled:
            state, message, ok = CANCELLED, "Cancelled: the index is unchanged.", False
        except RagError as exc:
            state, message, ok = (
                FAILED,
                f"The update failed: {exc}"
                + ("" if "index is unchanged" in str(exc) else ". The index is unchanged."),
                False,
            )
        except Exception as exc:  # the page says what happened; the log has the trace
            log.exception("index build %s failed", build.status.title)
            state, message, ok = (
                FAILED,
                f"The update failed ({type(exc).__name__}: {exc}). The index is unchanged.",
                False,
            )
        build.update(state=state, message=message, ok=ok, finished=time.monotonic())
        build.done.set()

    def _update(self, build: _Build, rebuild: bool) -> tuple[str, str, bool]:
        report = update_index(self.settings, rebuild, build.on_progress)
        return DONE, describe_build(report), not report.skipped

    def _remove(self, build: _Build, source: str) -> tuple[str, str, bool]:
        report = remove_report(source, self.settings, build.on_progress)
        return DONE, f"Removed {Path(source).name} from the corpus folder. " + describe_build(report), True

    def _add(self, build: _Build, files: list[tuple[str, bytes]]) -> tuple[str, str, bool]:
        """Check each file and save it into the corpus folder, then index; a file that cannot be
        read is kept in the failed list, and so is every file saved, if the index update fails or
        is cancelled."""
        settings = self.settings
        added: list[Path] = []
        notes: list[str] = []
        problems = False
        known = known_files(settings)
        for number, (name, data) in enumerate(files):
            if build.cancel.is_set():
                for waiting, content in files[number:]:
                    keep_failed(waiting, content, "not checked: the upload was cancelled", settings)
                self._keep(added, "not indexed: the upload was cancelled")
                return (
                    CANCELLED,
                    _cancelled([a.name for a in added] + [n for n, _ in files[number:]], notes),
                    False,
                )
            build.update(stage="Checking", files_done=number, files_total=len(files))
            try:
                added.append(save_upload(name, data, settings, known))
            except Refused as exc:
                notes.append(f"Refused {name}: {exc}.")
                problems = True
            except DocumentError as exc:
                keep_failed(name, data, str(exc), settings)
                notes.append(f"Could not index {name}: {exc}; it is {KEPT}.")
                problems = True
        if not added:
            return DONE, " ".join(notes) or "Nothing to add.", not problems
        build.update(stage="Indexing", files_done=0, files_total=0)
        names = ", ".join(a.name for a in added)
        try:
            with build_slot():
                report = build_index(
                    [settings.corpus_dir], settings, progress=False, on_progress=build.on_progress
                )
        except Cancelled:
            self._keep(added, "not indexed: the upload was cancelled")
            return CANCELLED, _cancelled([a.name for a in added], notes), False
        except BaseException as exc:
            reason = str(exc) if isinstance(exc, RagError) else f"{type(exc).__name__}: {exc}"
            self._keep(added, f"not indexed: the index update failed ({reason})")
            if not isinstance(exc, Exception):
                raise
            if not isinstance(exc, RagError):
                log.exception("indexing %s failed", names)
            verb = "is" if len(added) == 1 else "are"
            message = f"The update failed: {reason}. The index is unchanged; {names} {verb} {KEPT}."
            return FAILED, " ".join([message, *notes]), False
        message = " ".join([f"Added {names}.", *notes, describe_build(report)])
        return DONE, message, not (problems or report.skipped)

    def _keep(self, added: list[Path], reason: str) -> None:
        for path in added:
            if path.exists():
                keep_failed(path.name, path, reason, self.settings)


def _cancelled(names: list[str], notes: list[str]) -> str:
    text = "Cancelled: the index is unchanged."
    if names:
        verbs = ("was", "is") if len(names) == 1 else ("were", "are")
        text += f" {', '.join(names)} {verbs[0]} not indexed and {verbs[1]} {KEPT}."
    return " ".join([text, *notes])
