"""A table-aware extractor beside pypdf: pdfplumber's table finder on the table pages of council PDFs.

For the pages `rag/pdf.py` would treat as holding figures (three or more lines with two numbers or
more, in the text pypdf gives), it times pdfplumber's `find_tables` and counts the tables it finds,
their data rows, the rows that have a header row above them, and the rows that pypdf's text holds
whole on one line (those a labelling step could rewrite with their column headers in place).

    .venv/bin/pip install pdfplumber==0.11.10    # in the `bench` extra; rag/ does not use it
    .venv/bin/python benchmarks/pdf_tables.py [FILES/FOLDERS...]

The index-level trial (rows rewritten "Band D | 2025-26 (incl. increase in ASCL) £p: 1,691.19 | ...")
is commit ea85bb1, reverted after measuring it: see benchmarks/results.md.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from pathlib import Path

from pypdf import PdfReader

from rag.read.pdf import choose_extraction

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "reports"
DEFAULT = [DATA / "kent-county-council", DATA / "west-sussex-jsna"]
NUMBER = re.compile(r"(?<![\w.])[-(£]?\d[\d,]*(?:\.\d+)?%?\)?(?!\w)")
FIGURE = re.compile(r"[-+(£$€]?\d[\d,]*(?:\.\d+)?(?:%|[kmb]|bn)?\)?", re.IGNORECASE)


def is_data_row(row: list[str]) -> bool:
    return any(FIGURE.fullmatch(c) and not re.fullmatch(r"(?:19|20)\d\d", c) for c in row if c)


def main(args: list[str]) -> None:
    import pdfplumber

    logging.disable(logging.WARNING)
    paths = [Path(a) for a in args] or DEFAULT
    for folder in paths:
        files = sorted([folder] if folder.is_file() else folder.rglob("*.pdf"))
        pages = candidates = tables = rows = headed = whole = 0
        pypdf_seconds = plumber_seconds = 0.0
        for path in files:
            started = time.perf_counter()
            try:
                texts = [choose_extraction(page) for page in PdfReader(path).pages]
            except Exception:  # noqa: BLE001, S112 - a benchmark notes what it can read
                continue
            pypdf_seconds += time.perf_counter() - started
            pages += len(texts)
            numbers = [
                i
                for i, text in enumerate(texts, start=1)
                if sum(1 for line in text.splitlines() if len(NUMBER.findall(line)) >= 2) >= 3
            ]
            candidates += len(numbers)
            if not numbers:
                continue
            started = time.perf_counter()
            try:
                with pdfplumber.open(path, pages=numbers) as pdf:
                    for page in pdf.pages:
                        lines = {" ".join(line.split()) for line in texts[page.page_number - 1].splitlines()}
                        for table in page.find_tables():
                            cells = [[" ".join((c or "").split()) for c in row] for row in table.extract()]
                            if len(cells) < 2 or max(len(r) for r in cells) < 2:
                                continue
                            tables += 1
                            first = next((i for i, r in enumerate(cells) if is_data_row(r)), len(cells))
                            for row in cells[first:]:
                                if is_data_row(row):
                                    rows += 1
                                    headed += 1 <= first <= 3
                                    whole += " ".join(c for c in row if c) in lines
            except Exception as exc:  # noqa: BLE001
                print(f"skip {path.name}: {type(exc).__name__}", file=sys.stderr)
            plumber_seconds += time.perf_counter() - started
        print(
            f"{folder.name}: {len(files)} files, {pages} pages (pypdf {pages / max(pypdf_seconds, 1e-9):.1f} pages/s); "
            f"{candidates} table pages, pdfplumber {candidates / max(plumber_seconds, 1e-9):.1f} pages/s "
            f"({plumber_seconds:.0f} s); {tables} tables, {rows} data rows, {headed} under a header row, "
            f"{whole} whole on one line of pypdf's text"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
