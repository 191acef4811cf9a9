"""Compare pypdf's plain and layout text extraction on table-heavy council PDFs.

For every page: time taken, and of the lines holding two or more numbers (table rows), how many
keep a label (a word of 3+ letters) on the same line, and how many lines are numbers alone (a row
torn from its label). Also whether the dev set's table evidence strings occur in the text.

    .venv/bin/python benchmarks/pdf_extraction.py [FILES/FOLDERS...]
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from pypdf import PdfReader

from rag.read.pdf import choose_extraction

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "reports"
DEFAULT = [
    DATA / "west-sussex-jsna",
    *sorted((DATA / "kent-county-council").rglob("Appendix*")),
    *sorted((DATA / "kent-county-council").rglob("*Budget*")),
]
NUMBER = re.compile(r"(?<![\w.])[-(£]?\d[\d,]*(?:\.\d+)?%?\)?(?![\w])")
WORD = re.compile(r"[A-Za-z]{3,}")


def measure(text: str) -> tuple[int, int, int]:
    rows = labelled = bare = 0
    for line in text.splitlines():
        numbers = NUMBER.findall(line)
        if len(numbers) >= 2:
            rows += 1
            labelled += bool(WORD.search(line))
        if numbers and not WORD.search(line) and not re.search(r"[A-Za-z]", line):
            bare += 1
    return rows, labelled, bare


def main(args: list[str]) -> None:
    paths = [Path(a) for a in args] or DEFAULT
    files = sorted(
        {f for p in paths for f in ([p] if p.is_file() else p.rglob("*.pdf")) if f.suffix == ".pdf"}
    )
    totals = {
        mode: {"pages": 0, "seconds": 0.0, "rows": 0, "labelled": 0, "bare": 0, "text": []}
        for mode in ("plain", "layout", "auto")
    }
    for path in files:
        try:
            reader = PdfReader(path)
            pages = list(reader.pages)
        except Exception as exc:  # noqa: BLE001 - a benchmark notes and goes on
            print(f"skip {path.name}: {exc}", file=sys.stderr)
            continue
        for mode, figures in totals.items():
            for page in pages:
                started = time.perf_counter()
                try:
                    if mode == "auto":
                        text = choose_extraction(page)
                    else:
                        text = page.extract_text(extraction_mode=mode) or ""
                except Exception:  # noqa: BLE001
                    text = ""
                figures["seconds"] += time.perf_counter() - started
                figures["pages"] += 1
                rows, labelled, bare = measure(text)
                figures["rows"] += rows
                figures["labelled"] += labelled
                figures["bare"] += bare
                figures["text"].append(" ".join(text.split()).lower())
    evidence = []
    questions = DATA.parent.parent / "eval" / "questions-kent.jsonl"
    if questions.exists():
        for line in questions.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            if item.get("kind") == "table":
                evidence += [" ".join(e.lower().split()) for e in item["evidence"]]
    print(f"{len(files)} files")
    print(
        "| mode | pages | pages/s | table rows (2+ numbers) | rows with their label | lines of bare numbers | table evidence found |"
    )
    print("|---|---|---|---|---|---|---|")
    for mode, f in totals.items():
        joined = "\n".join(f["text"])
        found = sum(e in joined for e in evidence)
        print(
            f"| {mode} | {f['pages']} | {f['pages'] / f['seconds']:.1f} | {f['rows']} | "
            f"{f['labelled'] / max(1, f['rows']):.1%} | {f['bare']} | {found}/{len(evidence)} |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
