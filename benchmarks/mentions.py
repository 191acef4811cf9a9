"""Timings of `rag mentions` (rag.mentions.find_mentions, and with the JSON the CLI prints) on a
real index and on a synthetic index of 1,000,000 passages; each result is also checked against a
brute-force scan of every passage (the reference of tests/test_mentions.py) where that is quick.

The synthetic index is a chunks.sqlite with the project's own schema (rag.index.store.SCHEMA: documents,
chunks and the FTS5 table, porter tokenizer) and no vectors, which `rag mentions` does not read:
2,000 reports (three councils, meeting dates 2015-2025) of 500 passages each; a passage is 40-60
words drawn with the word frequencies of the sample corpus (corpus/), and some carry planted
phrases at known rates ("family hub(s)" 1.5%, "family hubbub" 0.2%, "looked after children" 1%,
"LAC" 0.5%, "unaccompanied asylum seeking children" 0.01%). It is built once into --work (about
a minute) and reused.

    .venv/bin/python benchmarks/mentions.py [--index-dir /tmp/kent-idx ...] [--work DIR] [--size N]
        [--repeat N] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from rag.index.folder import DATABASE, read_manifest
from rag.index.store import SCHEMA, Index
from rag.mentions import find_mentions, is_acronym, mentions_json, surface_forms

ROOT = Path(__file__).resolve().parent.parent
REAL_TERMS = [
    "council",
    "children",
    "family hub",
    "looked after children",
    "SEND",
    "asylum",
    "zebra crossing",
]
SYNTHETIC_TERMS = [
    "council",
    "family hub",
    "looked after children",
    "unaccompanied asylum seeking children",
    "zebra crossing",
]
PLANTED = [
    ("family hub", 0.010),
    ("family hubs", 0.005),
    ("family hubbub", 0.002),
    ("looked after children", 0.010),
    ("LAC", 0.005),
    ("unaccompanied asylum seeking children", 0.0001),
]


def timed(index, term: str, repeat: int) -> dict:
    """Median milliseconds of find_mentions, and of find_mentions + the CLI's JSON, over `repeat` runs."""
    find, with_json = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        result = find_mentions(index, term)
        found = time.perf_counter()
        mentions_json(result)
        find.append((found - started) * 1000)
        with_json.append((time.perf_counter() - started) * 1000)
    return {
        "term": term,
        "passages": result.total,
        "reports": len(result.reports),
        "candidates": result.timings_ms["candidates"],
        "find_ms": round(statistics.median(find), 1),
        "with_json_ms": round(statistics.median(with_json), 1),
        "result": result,
    }


def brute_force(texts: list[tuple[int, str]], names: tuple[str, ...]) -> set[int]:
    patterns = []
    for name in names:
        for form in surface_forms(name):
            body = r"\s+".join(re.escape(w) for w in form.split())
            start = r"(?<!\w)" if re.match(r"\w", form) else ""
            end = r"(?!\w)" if re.search(r"\w$", form) else ""
            patterns.append(re.compile(start + body + end, 0 if is_acronym(name) else re.IGNORECASE))
    return {row for row, text in texts if any(p.search(text) for p in patterns)}


def bench_index(index, terms: list[str], repeat: int, check: bool) -> list[dict]:
    texts = [(r[0], r[1]) for r in index.query("SELECT row, text FROM chunks")] if check else []
    rows = []
    for term in terms:
        row = timed(index, term, repeat)
        result = row.pop("result")
        if check:
            got = {p.row for r in result.reports for p in r.passages}
            row["agrees_with_brute_force"] = got == brute_force(texts, result.names)
        rows.append(row)
    return rows


def build_synthetic(folder: Path, size: int, per_report: int = 500) -> Path:
    """The synthetic chunks.sqlite (see the module's docstring), built unless it is there."""
    database = folder / DATABASE
    if database.exists():
        return database
    folder.mkdir(parents=True, exist_ok=True)
    words = Counter(
        w
        for path in sorted((ROOT / "corpus").glob("*.*"))
        for w in re.findall(r"[A-Za-z]+", path.read_text())
    )
    vocabulary = np.array(list(words))
    weights = np.array(list(words.values()), dtype=np.float64)
    weights /= weights.sum()
    rng = np.random.default_rng(7)
    councils = ["Kent County Council", "West Sussex County Council", "Middlesbrough Council"]
    partial = folder / (DATABASE + ".part")
    partial.unlink(missing_ok=True)
    db = sqlite3.connect(partial)
    db.executescript(SCHEMA)
    reports = size // per_report
    days = rng.integers(0, 11 * 365, reports)
    db.executemany(
        "INSERT INTO documents (doc_id, source, title, council, date, sha256, pages, text) VALUES (?,?,?,?,?,?,?,?)",
        [
            (
                f"d{d:06d}",
                f"synthetic/report-{d:06d}.pdf",
                f"Synthetic report {d}",
                councils[d % 3],
                str(np.datetime64("2015-01-01") + int(days[d])),
                f"{d:064x}",
                per_report // 2,
                "",
            )
            for d in range(reports)
        ],
    )
    lengths = rng.integers(40, 61, size)
    drawn = rng.choice(len(vocabulary), size=int(lengths.sum()), p=weights)
    planted = [(phrase, rng.random(size) < rate) for phrase, rate in PLANTED]
    batch, offset = [], 0
    for row in range(size):
        text = list(vocabulary[drawn[offset : offset + lengths[row]]])
        offset += lengths[row]
        for phrase, where in planted:
            if where[row]:
                text.insert(int(rng.integers(0, len(text))), phrase)
        doc = row // per_report
        batch.append((row, f"c{row:07d}", f"d{doc:06d}", " ".join(text), row % per_report // 2 + 1))
        if len(batch) == 50_000 or row == size - 1:
            db.executemany(
                "INSERT INTO chunks (row, chunk_id, doc_id, text, page, page_end, paragraphs, start, end, tokens,"
                " embedding) VALUES (?, ?, ?, ?, ?, ?, '[]', 0, 0, 0, '')",
                [(r, c, d, t, p, p) for r, c, d, t, p in batch],
            )
            db.executemany(
                "INSERT INTO chunks_fts (rowid, text, context) VALUES (?, ?, '')",
                [(b[0], b[3]) for b in batch],
            )
            batch = []
    db.commit()
    db.close()
    partial.rename(database)
    return database


def print_table(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    print(
        f"{'term':<40} {'passages':>9} {'reports':>8} {'FTS hits':>9} {'find ms':>8} {'+JSON ms':>9}  brute force"
    )
    for r in rows:
        check = {True: "agrees", False: "DIFFERS", None: "-"}[r.get("agrees_with_brute_force")]
        print(
            f"{r['term']:<40} {r['passages']:>9} {r['reports']:>8} {r['candidates']:>9} {r['find_ms']:>8}"
            f" {r['with_json_ms']:>9}  {check}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, action="append", help="a real index (repeatable)")
    parser.add_argument(
        "--work", type=Path, default=Path("/tmp/mentions-bench"), help="where the synthetic index is kept"
    )
    parser.add_argument("--size", type=int, default=1_000_000, help="synthetic passages (0: none)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = {}
    for index_dir in args.index_dir or []:
        index = Index(index_dir, read_manifest(index_dir))
        figures[str(index_dir)] = rows = bench_index(index, REAL_TERMS, args.repeat, check=True)
        if not args.json:
            print_table(f"{index_dir}: {index.measure()['chunks']:,} passages", rows)
    if args.size:
        folder = args.work / f"synthetic-{args.size}"
        started = time.perf_counter()
        build_synthetic(folder, args.size)
        built = time.perf_counter() - started
        index = Index(folder, {})  # no vectors file: `problem` says so; mentions reads only SQLite
        rows = bench_index(index, SYNTHETIC_TERMS, args.repeat, check=args.size <= 200_000)
        figures[f"synthetic-{args.size}"] = rows
        if not args.json:
            print_table(f"synthetic, {args.size:,} passages (ready in {built:.0f} s)", rows)
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
