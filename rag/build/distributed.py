"""Ingestion on Ray (`rag index --engine ray`). The files a build has to read go through a Ray
Data pipeline: tasks read and chunk them (PDFs parsed by rag.read.workers, under the same time and
memory limits as the local engine), actors that each hold the embedding model embed the chunks,
and every file comes back to this process, where rag.build.ingest records it and writes the index as
the local engine does. Rows travel as strings, numbers and arrays; nothing of ours is pickled
but the settings and the two functions the cluster runs."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rag.build.prepare import Job, Prepared, Unreadable, load_parsed, prepare
from rag.errors import RagError
from rag.models.embeddings import get_embedder, resolve_model_path
from rag.read.documents import load_document
from rag.read.workers import parse_pdfs
from rag.settings import Settings

READ_BATCH = 4
"""Files one reading task takes: its PDFs share one parser process."""

READ_CPUS = 1.0
"""Ray CPUs of a reading task: its parser process keeps a core busy."""

EMBED_CPUS = 0.5
"""Ray CPUs of an embedding actor (one torch thread each). Actors start first and stay; at half
a CPU each they leave room for reading. The two steps asking for different resources also
keeps Ray from fusing them into one stage, which would hand files to the actors in batches of
embed_batch_size (one actor for a small build)."""

OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}


@dataclass(frozen=True)
class Done:
    """One file back from the cluster: prepared and embedded, or unreadable."""

    job: Job
    result: Prepared | Unreadable
    vectors: np.ndarray | None
    pages: int
    """PDF pages read (whether or not the file could be indexed)."""
    embed_seconds: float
    """Its share of the embedding actors' time."""


def ingest_on_ray(jobs: list[Job], settings: Settings, tesseract: str | None) -> Iterator[Done]:
    """Read, chunk and embed `jobs` on Ray; yield each file as soon as all its chunks are
    embedded (in no set order). Starts a local Ray instance for the build unless
    settings.ray_address names a cluster (or this process is connected to one already)."""
    ray = _import_ray()
    resolve_model_path(settings.embedding_model)  # a missing model is reported before Ray starts
    started_here = _connect(ray, settings)
    context = ray.data.DataContext.get_current()
    bars, data_log = context.enable_progress_bars, logging.getLogger("ray.data")
    level = data_log.level
    context.enable_progress_bars = False  # one bar over the files: rag.build.ingest's
    data_log.setLevel(logging.ERROR)  # Ray Data narrates each run on stderr; the bar says enough
    try:
        yield from _collect(_pipeline(ray, jobs, settings, tesseract), jobs)
    except ray.exceptions.RayError as exc:
        raise _as_user_error(exc) from exc
    finally:
        context.enable_progress_bars = bars
        data_log.setLevel(level)
        if started_here:
            ray.shutdown()


def _import_ray():
    try:
        import ray
        import ray.data
    except ImportError:
        raise RagError(
            "engine ray needs Ray: pip install 'ray[data]==2.60.0' (or pip install -e '.[ray]'), "
            "or use --engine local"
        ) from None
    return ray


def _connect(ray, settings: Settings) -> bool:
    """Start or join Ray; True when this call started it (and so shuts it down after)."""
    if ray.is_initialized():
        return False
    runtime_env = {"env_vars": OFFLINE}  # the workers load the model from its package, never a hub
    try:
        if settings.ray_address:
            ray.init(
                address=settings.ray_address,
                runtime_env=runtime_env,
                log_to_driver=False,
                logging_level=logging.WARNING,
            )
        else:
            ray.init(
                num_cpus=settings.workers or os.cpu_count() or 2,
                include_dashboard=False,
                log_to_driver=False,
                runtime_env=runtime_env,
                logging_level=logging.ERROR,  # a private instance for one build: its notices are noise
            )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = (
            f"the Ray cluster at {settings.ray_address!r}" if settings.ray_address else "a local Ray instance"
        )
        raise RagError(
            f"cannot start or reach {where} ({exc}); start one with `ray start --head`, "
            "set ray_address (RAG_RAY_ADDRESS) to its address, or leave it empty for a local instance"
        ) from None
    return True


def _pipeline(ray, jobs: list[Job], settings: Settings, tesseract: str | None):
    """from_items(jobs) -> read and chunk (tasks) -> embed (actors): one row per chunk."""
    workers = settings.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    items = [{"path": str(j.path), "source": j.source, "sha256": j.sha256, "mtime": j.mtime} for j in jobs]
    return (
        ray.data.from_items(items, override_num_blocks=len(items))  # a block a file: spread over workers
        .map_batches(
            _read,
            batch_size=READ_BATCH,
            fn_kwargs={"settings": settings, "tesseract": tesseract, "folder": os.getcwd()},
            num_cpus=READ_CPUS,
            compute=ray.data.TaskPoolStrategy(size=workers),
        )
        .map_batches(
            _Embed,
            batch_size=settings.embed_batch_size,
            fn_constructor_kwargs={
                "model": settings.embedding_model,
                "batch_size": settings.embed_batch_size,
            },
            num_cpus=EMBED_CPUS,
            compute=ray.data.ActorPoolStrategy(size=workers),
            udf_modifying_row_count=False,
        )
    )


def _read(batch: dict[str, np.ndarray], settings: Settings, tesseract: str | None, folder: str) -> dict:
    """A reading task: read and chunk a few files. One row per chunk to embed, the first also
    carrying the file's rows and manifest entry (as JSON); one row (n = -1) for a file skipped."""
    jobs = [
        Job(Path(str(path)), str(source), str(sha256), float(mtime))
        for path, source, sha256, mtime in zip(
            batch["path"], batch["source"], batch["sha256"], batch["mtime"]
        )
    ]
    rows: dict[str, list] = {"source": [], "n": [], "text": [], "file": []}
    with _working_folder(folder):
        for job, result, pages in _prepare_files(jobs, settings, tesseract):
            if isinstance(result, Prepared):
                file = {"prepared": {**asdict(result), "texts": []}, "pages": pages}
                texts, numbers = result.texts, range(len(result.texts))
            else:
                file, texts, numbers = {"unreadable": asdict(result), "pages": pages}, [""], [-1]
            for i, (n, text) in enumerate(zip(numbers, texts)):
                rows["source"].append(job.source)
                rows["n"].append(n)
                rows["text"].append(text)
                rows["file"].append(json.dumps(file) if i == 0 else "")
    return rows


def _prepare_files(
    jobs: list[Job], settings: Settings, tesseract: str | None
) -> Iterator[tuple[Job, Prepared | Unreadable, int]]:
    """(job, prepared or unreadable, PDF pages read) for each job, as rag.build.ingest prepares them."""
    pdfs = {job.path: job for job in jobs if job.path.suffix.lower() == ".pdf"}
    for job in jobs:
        if job.path not in pdfs:
            yield (
                job,
                prepare(job, lambda job=job: load_document(job.path, job.source, job.sha256), settings),
                0,
            )
    pages = 0

    def count_page() -> None:
        nonlocal pages
        pages += 1

    for parsed in parse_pdfs(
        list(pdfs), tesseract, 1, settings.parse_timeout, settings.worker_memory_mb, on_page=count_page
    ):
        job = pdfs[parsed.path]
        yield job, prepare(job, lambda job=job, parsed=parsed: load_parsed(job, parsed), settings), pages
        pages = 0  # one parser process reads the files one after another


@contextmanager
def _working_folder(folder: str):
    """Work in the folder `rag index` runs in (where this node has it), so that relative paths
    name the same files and give the same metadata as on the local engine."""
    previous = os.getcwd()
    if Path(folder).is_dir():
        os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


class _Embed:
    """An embedding actor: loads the model once, from its installed package, offline; then
    embeds batches of chunk texts (rows with n = -1 are skipped files and get zeros)."""

    def __init__(self, model: str, batch_size: int):
        self.embedder = get_embedder(model, batch_size)
        self.dimension = self.embedder.dimension  # loads the model now, not in the first batch

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        numbers = batch["n"]
        keep = np.flatnonzero(numbers >= 0)
        vectors = np.zeros((len(numbers), self.dimension), dtype=np.float32)
        started = time.perf_counter()
        if len(keep):
            vectors[keep] = self.embedder.embed_passages([str(batch["text"][i]) for i in keep])
        seconds = time.perf_counter() - started
        return {
            "source": batch["source"],
            "n": numbers,
            "file": batch["file"],
            "vector": vectors,
            "seconds": np.full(len(numbers), seconds / max(1, len(numbers))),
        }


def _collect(dataset, jobs: list[Job]) -> Iterator[Done]:
    """Gather the embedded chunk rows (they arrive in any order) into whole files."""
    by_source = {job.source: job for job in jobs}
    arriving: dict[str, dict] = {}
    done = 0
    for row in dataset.iter_rows():
        source = str(row["source"])
        state = arriving.setdefault(source, {"file": None, "vectors": {}, "seconds": 0.0})
        state["seconds"] += float(row["seconds"])
        if row["file"]:
            state["file"] = json.loads(row["file"])
        if row["n"] >= 0:
            state["vectors"][int(row["n"])] = np.asarray(row["vector"], dtype=np.float32)
        finished = _whole_file(by_source[source], state)
        if finished:
            del arriving[source]
            done += 1
            yield finished
    if done != len(jobs):
        raise RagError(
            f"the Ray pipeline returned {done} of {len(jobs)} files; the previous index is unchanged"
        )


def _whole_file(job: Job, state: dict) -> Done | None:
    file = state["file"]
    if file is None:
        return None
    if "unreadable" in file:
        return Done(job, Unreadable(**file["unreadable"]), None, file["pages"], state["seconds"])
    prepared = Prepared(**file["prepared"])
    if len(state["vectors"]) < len(prepared.chunks):
        return None
    vectors = np.vstack([state["vectors"][n] for n in range(len(prepared.chunks))])
    return Done(job, prepared, vectors, file["pages"], state["seconds"])


def _as_user_error(exc: Exception) -> RagError:
    """Our own error when a task or actor raised one (a model that cannot load), else one line
    naming what failed on the cluster."""
    seen = exc
    while seen is not None:
        cause = getattr(seen, "cause", None) or seen.__cause__
        if isinstance(cause, RagError):
            return cause
        seen = cause
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return RagError(f"the Ray pipeline failed: {first[:300]} (--debug shows the traceback)")
