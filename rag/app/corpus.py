"""The corpus as people see and change it outside the command line: what the index holds
(reports, date range, example questions), files added by upload and indexed incrementally, the
index updated with progress, and the original file behind a source (its page: rag.app.pages)."""

from __future__ import annotations

import hashlib
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from rag.build.ingest import BuildReport, ProgressCallback, build_index
from rag.errors import DocumentError, RagError
from rag.index.folder import read_manifest
from rag.index.store import Index
from rag.read.documents import SUPPORTED_SUFFIXES, load_document
from rag.settings import Settings

_BUILD_LOCK = threading.Lock()
"""One build at a time per process: two builds would write the same staging folder."""


# --- what the index holds ---------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    source: str
    title: str
    council: str | None
    date: str | None
    pages: int | None

    def label(self) -> str:
        """Title (council, date): tells apart reports that share a title."""
        detail = ", ".join(p for p in (self.council, self.date) if p)
        return f"{self.title} ({detail})" if detail else self.title


def list_reports(index: Index) -> list[Report]:
    """Every indexed report, newest first."""
    rows = index.query("SELECT source, title, council, date, pages FROM documents ORDER BY date DESC, title")
    return [Report(r["source"], r["title"], r["council"], r["date"], r["pages"]) for r in rows]


def date_bounds(info: dict) -> tuple[date, date] | None:
    """The first and last meeting dates of the index (`Index.info()`) as dates; a date given
    as a month or a year counts from its first day."""
    first, last = info.get("date_range") or (None, None)
    try:
        return (_as_date(first), _as_date(last)) if first and last else None
    except ValueError:  # a date the metadata step got wrong: no date filter rather than a crash
        return None


def _as_date(text: str) -> date:
    parts = [int(p) for p in text[:10].split("-")] + [1, 1]
    return date(parts[0], parts[1], parts[2])


def describe_corpus(info: dict) -> str:
    """One sentence on what the index holds, for a first screen."""
    councils = info["councils"]
    if len(councils) > 3:
        who = f"{len(councils)} councils"
    elif councils:
        who = " and ".join([", ".join(councils[:-1]), councils[-1]]) if len(councils) > 1 else councils[0]
    else:
        who = "councils not named in the text"
    first, last = info["date_range"]
    span = f", meetings from {readable_date(first)} to {readable_date(last)}" if first and last else ""
    built = readable_time(info["built_at"])
    noun = "report" if info["documents"] == 1 else "reports"
    return f"{info['documents']} {noun} from {who}{span}. Index built {built}."


def readable_time(stamp: str) -> str:
    try:
        when = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return str(stamp)
    return when.strftime("%-d %b %Y, %H:%M %Z").strip().rstrip(",")


def readable_date(text: str) -> str:
    """2018-09-11 as 11 Sep 2018, 2018-09 as Sep 2018, 2018 as 2018."""
    parts = text[:10].split("-")
    try:
        day = _as_date(text)
    except ValueError:
        return text
    return day.strftime({1: "%Y", 2: "%b %Y"}.get(len(parts), "%-d %b %Y"))


EXAMPLES_HEADING = re.compile(r"(?im)^#{1,6}\s*example questions\s*$")


def example_questions(settings: Settings, index: Index, count: int = 3) -> list[str]:
    """Questions to offer on the first screen: the list under "Example questions" in the corpus
    folder's README.md when it has one; otherwise questions about frequent section headings."""
    readme = settings.corpus_dir / "README.md"
    if readme.is_file():
        text = readme.read_text(encoding="utf-8", errors="replace")
        found = EXAMPLES_HEADING.search(text)
        if found:
            section = re.split(r"(?m)^#", text[found.end() :], maxsplit=1)[0]
            questions = [m.strip() for m in re.findall(r"(?m)^\s*[-*]\s+(.+\?)\s*$", section)]
            if questions:
                return questions[:count]
    headings = index.query(
        "SELECT heading, count(*) AS n FROM chunks WHERE heading IS NOT NULL GROUP BY heading ORDER BY n DESC, heading"
    )
    questions = []
    for row in headings:
        heading = row["heading"].split(" > ")[-1].strip()
        words = heading.split()
        if 1 < len(words) <= 6 and not heading.isupper() and re.fullmatch(r"[A-Za-z' ,&()-]+", heading):
            question = f"What do the reports say about {heading}?"
            if question not in questions:
                questions.append(question)
        if len(questions) == count:
            break
    return questions


# --- changing the corpus and the index -----------------------------------------------------------


def update_index(
    settings: Settings, rebuild: bool = False, on_progress: ProgressCallback | None = None
) -> BuildReport:
    """Bring the index up to date with the corpus folder (or rebuild it). The index being served
    stays in place until the new one is complete."""
    with build_slot():
        return build_index(
            [settings.corpus_dir], settings, rebuild=rebuild, progress=False, on_progress=on_progress
        )


@dataclass
class UploadResult:
    added: list[str] = field(default_factory=list)
    """Paths of the files written to the corpus folder."""
    rejected: list[dict[str, str]] = field(default_factory=list)
    """{"name", "reason"} for each file refused."""
    report: BuildReport | None = None
    """The index update that followed (None when nothing was added)."""


def add_files(
    files: list[tuple[str, bytes]], settings: Settings, on_progress: ProgressCallback | None = None
) -> UploadResult:
    """Add uploaded files (name, content) to the corpus folder and index them incrementally.
    Each file is checked first (type, size, a real PDF or UTF-8 text with words in it); a bad
    file is refused with the reason and never reaches the corpus. If the index update fails,
    the files just added are taken out again and the index being served is unchanged."""
    result = UploadResult()
    with build_slot():
        known = known_files(settings)
        for name, data in files:
            try:
                path = save_upload(name, data, settings, known)
            except DocumentError as exc:
                result.rejected.append({"name": name, "reason": str(exc)})
                continue
            result.added.append(str(path))
        if result.added:
            try:
                result.report = build_index(
                    [settings.corpus_dir], settings, progress=False, on_progress=on_progress
                )
            except BaseException:
                for added in result.added:
                    Path(added).unlink(missing_ok=True)
                raise
    return result


def safe_file_name(name: str) -> str:
    """An uploaded file's name, usable in the corpus folder: no folders, no hidden files, plain
    characters only."""
    base = re.split(r"[\\/]", name)[-1].strip()
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = re.sub(r"[^\w\-() ]+", "-", stem).strip(" .-_")[:120] or "upload"
    return f"{stem}.{suffix.lower()}" if suffix else stem


class Refused(DocumentError):
    """An upload refused before it is read: of a type not indexed, too large, empty, or in the
    corpus already. Nothing to keep or retry."""


def known_files(settings: Settings) -> dict[str, str]:
    """sha256 -> source of every file the index holds, for spotting an upload made twice."""
    manifest = read_manifest(settings.index_dir) or {"files": {}}
    return {entry["sha256"]: source for source, entry in manifest["files"].items()}


def save_upload(name: str, data: bytes, settings: Settings, known: dict[str, str]) -> Path:
    """Write an uploaded file into the corpus folder under a safe, free name, after checking
    that it reads as a document and is not in the corpus already (`known`: sha256 -> source,
    gains the file). Raises Refused, or DocumentError when the content cannot be read."""
    file_name = safe_file_name(name)
    suffix = Path(file_name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        allowed = ", ".join(SUPPORTED_SUFFIXES)
        raise Refused(f"unsupported file type {suffix or '(none)'}: upload one of {allowed}")
    size_mb = len(data) / 1e6
    if size_mb > settings.max_file_mb:
        raise Refused(f"too large ({size_mb:.0f} MB > max_file_mb {settings.max_file_mb:g})")
    if not data:
        raise Refused("empty file")
    digest = hashlib.sha256(data).hexdigest()
    if digest in known:
        raise Refused(f"already in the corpus as {known[digest]}")
    settings.corpus_dir.mkdir(parents=True, exist_ok=True)
    target = _free_name(settings.corpus_dir / file_name)
    staging = settings.corpus_dir / f".upload-{digest[:12]}{suffix}"  # hidden: never indexed
    try:
        staging.write_bytes(data)
        load_document(staging, file_name, digest)  # raises DocumentError: not a PDF, no text...
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    known[digest] = str(target)
    return target


def _free_name(path: Path) -> Path:
    """`path`, or `name (2).ext`, `name (3).ext`... when another file has that name."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem} ({number}){path.suffix}")
    return candidate


# --- files that could not be indexed, kept to retry or remove -----------------------------------

FAILED_FOLDER = ".failed"
"""Inside the corpus folder; hidden, so never indexed."""


@dataclass(frozen=True)
class FailedFile:
    name: str
    """The file's name in the failed folder (unique there)."""
    reason: str
    path: Path


def failed_files(settings: Settings) -> list[FailedFile]:
    """Uploads that could not be indexed, each with why, oldest first."""
    folder = settings.corpus_dir / FAILED_FOLDER
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES:
            note = path.with_name(path.name + ".reason")
            reason = note.read_text(encoding="utf-8") if note.is_file() else "not indexed"
            found.append((path.stat().st_mtime, FailedFile(path.name, reason, path)))
    return [f for _, f in sorted(found, key=lambda item: (item[0], item[1].name))]


def keep_failed(name: str, data: bytes | Path, reason: str, settings: Settings) -> FailedFile:
    """Keep an upload that could not be indexed in the failed folder, with the reason: `data`
    is its content, or a file in the corpus folder, moved there."""
    folder = settings.corpus_dir / FAILED_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    target = _free_name(folder / safe_file_name(name))
    if isinstance(data, Path):
        os.replace(data, target)
    else:
        target.write_bytes(data)
    target.with_name(target.name + ".reason").write_text(reason, encoding="utf-8")
    return FailedFile(target.name, reason, target)


def take_failed(name: str, settings: Settings) -> tuple[str, bytes]:
    """Take a file out of the failed folder (to try again): its name and content."""
    failed = _failed(name, settings)
    data = failed.path.read_bytes()
    forget_failed(name, settings)
    return failed.name, data


def forget_failed(name: str, settings: Settings) -> None:
    """Delete a file from the failed folder, with its reason."""
    failed = _failed(name, settings)
    failed.path.unlink(missing_ok=True)
    failed.path.with_name(failed.name + ".reason").unlink(missing_ok=True)


def _failed(name: str, settings: Settings) -> FailedFile:
    for failed in failed_files(settings):
        if failed.name == name:
            return failed
    raise RagError(f"{name} is not in the list of files that could not be indexed (removed already?)")


# --- removing a report --------------------------------------------------------------------------


def corpus_file(source: str, settings: Settings) -> Path:
    """The file in the corpus folder that an indexed report's `source` names, to remove; a
    RagError when it is elsewhere (the index was built from another folder), gone, or the only
    report (an index holds at least one)."""
    path = Path(source).resolve()
    corpus = settings.corpus_dir.resolve()
    if not path.is_relative_to(corpus):
        raise RagError(
            f"{source} is not in the corpus folder {settings.corpus_dir}: remove it where it is, "
            "then update the index"
        )
    if not path.is_file():
        raise RagError(f"{source} is no longer in the corpus folder: update the index to take it out")
    manifest = read_manifest(settings.index_dir) or {"files": {}}
    if list(manifest["files"]) == [source]:
        raise RagError(f"{path.name} is the only report in the index: add another before removing it")
    return path


def remove_report(
    source: str, settings: Settings, on_progress: ProgressCallback | None = None
) -> BuildReport:
    """Delete a report's file from the corpus folder and update the index without it. The file is
    set aside (hidden) while the index is rebuilt, and put back if the update fails or is stopped,
    so the corpus folder and the index served never disagree."""
    with build_slot():
        path = corpus_file(source, settings)
        aside = path.with_name(f".removing-{path.name}")
        os.replace(path, aside)
        try:
            report = build_index([settings.corpus_dir], settings, progress=False, on_progress=on_progress)
        except BaseException:
            os.replace(aside, path)
            raise
        aside.unlink()
        return report


class build_slot:
    """Hold the process's build lock; refuse at once, with a message, when a build is running."""

    def __enter__(self) -> None:
        if not _BUILD_LOCK.acquire(blocking=False):
            raise RagError(
                "the index is being updated already: wait for that update to finish, then try again"
            )

    def __exit__(self, *exc: object) -> None:
        _BUILD_LOCK.release()


def describe_build(report: BuildReport) -> str:
    """What an index update did, in a sentence or two."""
    text = (
        f"Index updated in {report.seconds:.0f} s: {report.documents} reports, {report.chunks} passages "
        f"({len(report.indexed)} read, {len(report.unchanged)} unchanged, {len(report.removed)} removed)."
    )
    if report.skipped:
        text += (
            " Could not index: " + "; ".join(f"{s['source']} ({s['reason']})" for s in report.skipped) + "."
        )
    return text


def describe_upload(result: UploadResult) -> str:
    """What an upload did: the files added (and the index update), the files refused and why."""
    parts = []
    if result.added:
        parts.append("Added " + ", ".join(Path(a).name for a in result.added) + ".")
    parts += [f"Refused {r['name']}: {r['reason']}." for r in result.rejected]
    if result.report:
        parts.append(describe_build(result.report))
    return " ".join(parts)


# --- the original behind a source -------------------------------------------------------------


def original_file(source: str) -> Path | None:
    """The file a citation's `source` names, when it is still there (sources are relative to
    the folder the index was built from)."""
    path = Path(source)
    return path if path.is_file() else None
