"""Ingestion figures on ../shared/data: parsing and OCR pages per second (worker processes
alone), then a full build of each folder: files indexed and skipped, pages, chunks, embedding
speed, build time and index size. Prints Markdown rows for benchmarks/results.md.

    .venv/bin/python benchmarks/ingest.py [parse] [ocr] [build FOLDER...] [count FOLDER...]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from rag.build.ingest import build_index
from rag.read.pdf import tesseract_path
from rag.read.workers import parse_pdfs
from rag.settings import load_settings

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
KENT = DATA / "reports" / "kent-county-council"
SCANNED = DATA / "pdf-torture" / "souldern-parish"
SCANNED_FILES = [
    "2018-08-23 Agenda.pdf",
    "2018-12-18 Agenda.pdf",
    "2019-02-28 Agenda.pdf",
    "2019-05-23 Annual Parish Meeting Agenda.pdf",
    "SPC 201415 external auditor report.pdf",
    "SPC 201516 external auditor certificate.pdf",
    "SPC 201516 notice of conclusion of audit.pdf",
    "SPC 201819 Audit Report.pdf",
]
FOLDERS = [
    "reports/kent-county-council",
    "reports/west-sussex-jsna",
    "reports/limerick-council-minutes",
    "pdf-torture",
]


def parse_speed() -> None:
    files = sorted(KENT.rglob("*.pdf"))
    pages = 0

    def count() -> None:
        nonlocal pages
        pages += 1

    started = time.perf_counter()
    failed = sum(1 for parsed in parse_pdfs(files, None, on_page=count) if parsed.error)
    seconds = time.perf_counter() - started
    print(
        f"parse (text layer, {os.cpu_count()} workers): {len(files)} Kent PDFs, {pages} pages, "
        f"{seconds:.1f} s, {pages / seconds:.1f} pages/s, {failed} failed"
    )


def ocr_speed() -> None:
    tesseract = tesseract_path("tesseract")
    if not tesseract:
        print("ocr: Tesseract is not installed")
        return
    files = [SCANNED / name for name in SCANNED_FILES]
    started = time.perf_counter()
    ocr = sum(parsed.text.ocr_pages for parsed in parse_pdfs(files, tesseract) if parsed.text)
    seconds = time.perf_counter() - started
    print(
        f"ocr (the 8 scanned souldern-parish files, {os.cpu_count()} workers): {ocr} pages by OCR "
        f"in {seconds:.1f} s, {ocr / seconds:.2f} OCR pages/s"
    )


def build(folder: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        settings = load_settings(index_dir=Path(scratch) / "index")  # RAG_EMBEDDING_MODEL etc. apply
        report = build_index([DATA / folder], settings, progress=False)
        size = sum(p.stat().st_size for p in settings.index_dir.iterdir())
    embed = report.embedded_chunks / report.embed_seconds if report.embed_seconds else 0
    print(
        f"| {folder} | {settings.embedding_model} | {len(report.indexed)} | {len(report.skipped)} | "
        f"{report.pages} | {report.ocr_pages} | {report.chunks} | {embed:.1f} | {report.seconds:.0f} s | "
        f"{size / 1e6:.1f} MB | load {os.getloadavg()[0]:.1f} |"
    )
    print(
        f"    time: parse {report.parse_seconds:.0f} s (overlaps the rest), "
        f"embed {report.embed_seconds:.0f} s, write {report.write_seconds:.1f} s"
    )
    for item in report.skipped:
        print(f"    skipped {item['source']}: {item['reason']}")


def count(folder: str) -> None:
    """Files indexed and skipped, reading and chunking exactly as a build does but without
    embedding (cheap enough for every folder on 2 cores)."""
    from rag.build.ingest import collect_files
    from rag.chunking import chunk_document
    from rag.errors import DocumentError
    from rag.read.documents import load_document

    started = time.perf_counter()
    files, skipped = collect_files([DATA / folder])
    reasons = [s["reason"] for s in skipped]
    tesseract = tesseract_path("tesseract")
    pdfs = [f for f in files if f.suffix.lower() == ".pdf"]
    parsed = {p.path: p for p in parse_pdfs(pdfs, tesseract)}
    indexed = chunks = ocr = 0
    for path in files:
        try:
            result = parsed.get(path)
            if result and result.error:
                raise DocumentError(result.error)
            document = load_document(path, pdf=result.text if result else None)
            pieces = chunk_document(document)
            if not pieces:
                raise DocumentError("no text to index")
            indexed += 1
            chunks += len(pieces)
            ocr += document.ocr_pages
        except DocumentError as exc:
            reasons.append(str(exc))
    kinds: dict[str, int] = {}
    for reason in reasons:
        kind = reason.split(" (")[0].split(":")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    detail = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
    print(
        f"| {folder} | {len(files) + len(skipped)} | {indexed} | {len(reasons)} | {detail or '-'} | "
        f"{ocr} | {chunks} | {time.perf_counter() - started:.0f} s |"
    )


def main(args: list[str]) -> None:
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    if not args or "parse" in args:
        parse_speed()
    if not args or "ocr" in args:
        ocr_speed()
    if "count" in args:
        print(
            "| folder | files | indexed | skipped | skipped because | OCR pages | chunks | read + chunk time |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for folder in args[args.index("count") + 1 :] or FOLDERS:
            count(folder)
        return
    folders = args[args.index("build") + 1 :] if "build" in args else ([] if args else FOLDERS)
    if folders:
        print(
            "| folder | indexed | skipped | PDF pages | OCR pages | chunks | embedded chunks/s | build | index size |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
    for folder in folders:
        build(folder)


if __name__ == "__main__":
    main(sys.argv[1:])
