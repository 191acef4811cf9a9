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
    pending = list(reversed(paths))
    count = min(len(paths), workers or os.cpu_count() or 1)
    request = {"tesseract": tesseract, "page_timeout": timeout}
    selector = selectors.DefaultSelector()
    pool: list[_Worker] = []

    def start() -> _Worker:
        worker = _Worker(memory_mb)
        selector.register(worker.process.stdout, selectors.EVENT_READ, worker)
        pool.append(worker)
        return worker

    def retire(worker: _Worker) -> None:
        selector.unregister(worker.process.stdout)
        worker.kill()
        pool.remove(worker)

    def assign(worker: _Worker) -> None:
        if pending:
            worker.send(pending.pop(), request)
        else:
            retire(worker)

    def replace(worker: _Worker) -> None:
        retire(worker)
        if pending:
            assign(start())

    try:
        for _ in range(count):
            assign(start())
        while pool and not (stop and stop.is_set()):
            for key, _ in selector.select(timeout=1.0):
                worker: _Worker = key.data
                chunk = os.read(worker.process.stdout.fileno(), 1 << 16)
                if not chunk:  # the worker died (a crash in a C library, or killed for memory)
                    path = worker.path
                    code = worker.process.wait()
                    replace(worker)
                    if path is not None:
                        yield Parsed(path, None, f"the PDF parser crashed on this file (exit {code})")
                    continue
                worker.last_seen = time.monotonic()
                worker.buffer += chunk
                while b"\n" in worker.buffer:
                    line, worker.buffer = worker.buffer.split(b"\n", 1)
                    try:
                        message = json.loads(line)
                    except ValueError:  # something a C library printed: not ours
                        continue
                    if "page" in message or "ocr" in message:
                        if on_page and "page" in message:
                            on_page()
                        continue
                    path = worker.path
                    worker.path = None
                    if "ok" in message:
                        yield Parsed(path, PdfText.from_json(message["ok"]), None)
                    else:
                        yield Parsed(path, None, message["error"])
                    assign(worker)
                    break
            now = time.monotonic()
            for worker in [w for w in pool if w.path and now - w.last_seen > timeout]:
                path = worker.path
                replace(worker)
                yield Parsed(path, None, f"timed out: no progress for {timeout:g} s (killed)")
    finally:
        for worker in pool:
            worker.kill()
        selector.close()
