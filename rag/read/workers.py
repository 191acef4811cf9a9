"""A pool of worker processes that parse PDFs (`python -m rag.read.pdf --worker`), one file at a time
each, so that no file can hang or crash the build: a worker that reports no progress (a page read)
for `timeout` seconds is killed and replaced, and each runs under a memory limit (RLIMIT_AS).
Requests and answers are JSON lines on the workers' stdin and stdout; nothing is pickled."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.read.pdf import PdfText


@dataclass(frozen=True)
class Parsed:
    path: Path
    text: PdfText | None
    error: str | None
    """Why the file could not be read (None when `text` is set)."""


class _Worker:
    def __init__(self, memory_mb: int):
        env = {**os.environ, "RAG_WORKER_MEMORY_MB": str(memory_mb), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rag.read.pdf", "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.buffer = b""
        self.path: Path | None = None
        self.last_seen = 0.0

    def send(self, path: Path, request: dict) -> None:
        self.path, self.last_seen, self.buffer = path, time.monotonic(), b""
        try:
            self.process.stdin.write((json.dumps({**request, "path": str(path)}) + "\n").encode())
            self.process.stdin.flush()
        except OSError:  # it died already: its closed stdout reports the file
            pass

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass


def parse_pdfs(
    paths: list[Path],
    tesseract: str | None,
    workers: int = 0,
    timeout: float = 30.0,
    memory_mb: int = 2048,
    on_page: Callable[[], None] | None = None,
    stop: threading.Event | None = None,
) -> Iterator[Parsed]:
    """Parse each PDF in a worker process; yield each result as it is done (in no set order).
    `workers` defaults to the number of cores; setting `stop` ends the work and the workers."""
    pool = _Pool(list(reversed(paths)), {"tesseract": tesseract, "page_timeout": timeout}, memory_mb, on_page)
    try:
        for _ in range(min(len(paths), workers or os.cpu_count() or 1)):
            pool.assign(pool.start())
        while pool.workers and not (stop and stop.is_set()):
            for key, _ in pool.selector.select(timeout=1.0):
                yield from pool.read(key.data)
            yield from pool.stalled(timeout)
    finally:
        pool.close()


class _Pool:
    """The running workers and the files still to hand out."""

    def __init__(
        self, pending: list[Path], request: dict, memory_mb: int, on_page: Callable[[], None] | None
    ):
        self.pending, self.request, self.memory_mb, self.on_page = pending, request, memory_mb, on_page
        self.selector = selectors.DefaultSelector()
        self.workers: list[_Worker] = []

    def start(self) -> _Worker:
        worker = _Worker(self.memory_mb)
        self.selector.register(worker.process.stdout, selectors.EVENT_READ, worker)
        self.workers.append(worker)
        return worker

    def retire(self, worker: _Worker) -> None:
        self.selector.unregister(worker.process.stdout)
        worker.kill()
        self.workers.remove(worker)

    def assign(self, worker: _Worker) -> None:
        """Give the worker the next file, or retire it when none is left."""
        if self.pending:
            worker.send(self.pending.pop(), self.request)
        else:
            self.retire(worker)

    def replace(self, worker: _Worker) -> None:
        self.retire(worker)
        if self.pending:
            self.assign(self.start())

    def read(self, worker: _Worker) -> Iterator[Parsed]:
        """What the worker wrote: progress (pages read), or its file's result, after which it gets
        the next file. A worker whose output ends has died on its file (a crash in a C library,
        or killed for memory)."""
        chunk = os.read(worker.process.stdout.fileno(), 1 << 16)
        if not chunk:
            path = worker.path
            code = worker.process.wait()
            self.replace(worker)
            if path is not None:
                yield Parsed(path, None, f"the PDF parser crashed on this file (exit {code})")
            return
        worker.last_seen = time.monotonic()
        worker.buffer += chunk
        while b"\n" in worker.buffer:
            line, worker.buffer = worker.buffer.split(b"\n", 1)
            try:
                message = json.loads(line)
            except ValueError:  # something a C library printed: not ours
                continue
            if "page" in message or "ocr" in message:
                if self.on_page and "page" in message:
                    self.on_page()
                continue
            path, worker.path = worker.path, None
            if "ok" in message:
                yield Parsed(path, PdfText.from_json(message["ok"]), None)
            else:
                yield Parsed(path, None, message["error"])
            self.assign(worker)
            return

    def stalled(self, timeout: float) -> Iterator[Parsed]:
        """Kill and replace the workers that have reported no progress for `timeout` seconds."""
        now = time.monotonic()
        for worker in [w for w in self.workers if w.path and now - w.last_seen > timeout]:
            path = worker.path
            self.replace(worker)
            yield Parsed(path, None, f"timed out: no progress for {timeout:g} s (killed)")

    def close(self) -> None:
        for worker in self.workers:
            worker.kill()
        self.selector.close()
