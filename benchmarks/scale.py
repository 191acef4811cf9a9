"""Query latency and memory at 10k, 100k and 1M passages, for each vector index type.

Beyond the real corpus the passages are synthetic but made of real report text: sentences of the
Limerick council minutes and the sample reports are embedded once (the real model), and each
synthetic passage is a run of 3-6 consecutive sentences of one report, one of them sometimes left
out, whose vector is the normalised mean of its sentences' vectors. The index is written by the
project's own rag.index.store.write_index (SQLite + FTS5 + FAISS), so keyword search, the chunk table
and the vector index are the real ones at each size. Each (size, index type) is then queried in a
fresh process with the dev-set questions through rag.qa.ask (hybrid + rerank + answer), and
the process's peak memory (max RSS: model, reranker and index) is read at the end.

    .venv/bin/python benchmarks/scale.py [--sizes 10000,100000,1000000] [--types flat,ivf,hnsw]
        [--work DIR] [--rerank-depth N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from rag.evaluation import load_questions
from rag.index.folder import MANIFEST, VECTORS, expected_manifest
from rag.index.store import Entry, write_index
from rag.index.vectors import build_vector_index, tuning_queries
from rag.models.embeddings import embedding_key, get_embedder
from rag.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SOURCES = [SHARED / "data" / "reports" / "limerick-council-minutes", ROOT / "corpus"]
QUESTION_SETS = [SHARED / "eval" / "questions.jsonl", SHARED / "eval" / "questions-kent.jsonl"]
STAGES = ["embed", "dense", "keyword", "fuse", "rerank", "answer", "total"]
PASSAGES_PER_DOCUMENT = 50
MAX_SENTENCES = 15_000


def report_sentences() -> list[list[str]]:
    """Sentences of each source report, in order."""
    reports = []
    for folder in SOURCES:
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() not in (".md", ".txt") or path.name.lower() == "readme.md":
                continue
            text = " ".join(path.read_text(encoding="utf-8", errors="replace").split())
            sentences = [s for s in re.split(r"(?<=[.?!])\s+", text) if 40 <= len(s) <= 400]
            if len(sentences) >= 6:
                reports.append(sentences)
    rng = np.random.default_rng(0)  # a fixed sample of whole reports, about MAX_SENTENCES sentences
    picked, total = [], 0
    for i in rng.permutation(len(reports)):
        if total >= MAX_SENTENCES:
            break
        picked.append(reports[i])
        total += len(reports[i])
    return picked


def sentence_vectors(reports: list[list[str]], work: Path, model: str) -> list[np.ndarray]:
    """Each report's sentence vectors, embedded once and kept in `work`."""
    cached = work / f"sentences-{model}.npy"
    flat = [s for sentences in reports for s in sentences]
    if cached.exists() and np.load(cached, mmap_mode="r").shape[0] == len(flat):
        matrix = np.load(cached)
    else:
        started = time.perf_counter()
        matrix = get_embedder(model, 64).embed_passages(flat)
        print(f"embedded {len(flat)} sentences in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        np.save(cached, matrix)
    out, start = [], 0
    for sentences in reports:
        out.append(matrix[start : start + len(sentences)])
        start += len(sentences)
    return out


def synthetic_entries(count: int, reports, vectors, model: str) -> list[Entry]:
    rng = np.random.default_rng(count)
    entries, made = [], 0
    while made < count:
        number = len(entries)
        which = int(rng.integers(len(reports)))
        sentences, matrix = reports[which], vectors[which]
        doc_id = f"synthetic-{number:06d}"
        chunks, rows = [], []
        for position in range(min(PASSAGES_PER_DOCUMENT, count - made)):
            length = int(rng.integers(3, 7))
            start = int(rng.integers(0, len(sentences) - length + 1))
            picked = list(range(start, start + length))
            if length > 3 and rng.random() < 0.5:
                picked.pop(int(rng.integers(length)))
            text = " ".join(sentences[i] for i in picked)
            vector = matrix[picked].mean(axis=0)
            rows.append(vector / np.linalg.norm(vector))
            chunks.append(
                {
                    "chunk_id": f"{doc_id}-{position:03d}",
                    "doc_id": doc_id,
                    "text": text,
                    "heading": None,
                    "page": position // 5 + 1,
                    "page_end": position // 5 + 1,
                    "paragraphs": "[]",
                    "start": 0,
                    "end": len(text),
                    "tokens": len(text) // 4,
                    "embedding": embedding_key(model, f"{doc_id}\0{text}"),
                }
            )
        made += len(chunks)
        year = 2014 + number % 12
        document = {
            "doc_id": doc_id,
            "source": f"synthetic/{doc_id}.txt",
            "title": f"Synthetic council minutes {number}",
            "council": "Limerick City and County Council",
            "date": f"{year}-{1 + number % 12:02d}-{1 + number % 28:02d}",
            "sha256": doc_id,
            "pages": None,
            "text": "",
            "meeting": None,
            "author": None,
        }
        file = {"sha256": doc_id, "doc_id": doc_id, "chunks": len(chunks)}
        entries.append(Entry(document, chunks, np.vstack(rows).astype(np.float32), file))
    return entries


def build(size: int, types: list[str], work: Path, reports, vectors, settings: Settings) -> list[dict]:
    """Write the index of `size` passages once (flat), then one sibling per other index type that
    shares its database (hard link) and has its own vectors.faiss."""
    base = work / f"{size}-flat"
    rows = []
    if all((work / f"{size}-{kind}" / MANIFEST).exists() for kind in types):
        for kind in types:  # built by an earlier run: measure again
            described = json.loads((work / f"{size}-{kind}" / MANIFEST).read_text(encoding="utf-8"))[
                "vector_index"
            ]
            rows.append({"size": size, "type": kind, **described})
        return rows
    entries = synthetic_entries(size, reports, vectors, settings.embedding_model)
    started = time.perf_counter()
    write_index(base, {**expected_manifest(settings), "dimension": vectors[0].shape[1]}, entries, [], "flat")
    seconds = time.perf_counter() - started
    rows.append({"size": size, "type": "flat", "build_s": round(seconds, 1), "disk_mb": _disk_mb(base)})
    matrix = np.vstack([e.vectors for e in entries])
    queries = tuning_queries([c["text"] for e in entries for c in e.chunks], settings.embedding_model)
    del entries
    for kind in types:
        if kind == "flat":
            continue
        folder = work / f"{size}-{kind}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        for name in os.listdir(base):
            if name not in (VECTORS, MANIFEST):
                os.link(base / name, folder / name)
        import faiss

        started = time.perf_counter()
        vector_index, described = build_vector_index(matrix, kind, queries)
        seconds = time.perf_counter() - started
        faiss.write_index(vector_index, str(folder / VECTORS))
        manifest = json.loads((base / MANIFEST).read_text(encoding="utf-8"))
        (folder / MANIFEST).write_text(json.dumps({**manifest, "vector_index": described}), encoding="utf-8")
        rows.append({"size": size, "type": kind, "vector_build_s": round(seconds, 1), **described})
    return rows


def _disk_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.iterdir()) / 1e6, 1)


def measure(index_dir: Path, rerank_depth: int) -> dict:
    """Run in a fresh process: every dev question asked once (after two to warm up)."""
    from rag.index.store import open_index
    from rag.qa import ask

    settings = Settings(index_dir=index_dir, rerank_depth=rerank_depth)
    index = open_index(settings)
    questions = [q["question"] for path in QUESTION_SETS for q in load_questions(path)]
    for question in questions[:2]:
        ask(index, question, settings)
    timings: dict[str, list[float]] = {stage: [] for stage in [*STAGES, "retrieval"]}
    for question in questions:
        answer = ask(index, question, settings)
        for stage in STAGES:
            timings[stage].append(answer.timings_ms.get(stage, 0.0))
        timings["retrieval"].append(
            answer.timings_ms["retrieve"]
        )  # wall time: keyword search runs beside embed + dense
    figures = {"queries": len(questions)}
    for stage, values in timings.items():
        figures[stage] = {"p50": round(statistics.median(values), 1), "p95": round(_p95(values), 1)}
    figures["peak_rss_mb"] = _peak_rss_mb()
    return figures


def _peak_rss_mb() -> int:
    """This process's peak resident memory. On Linux from VmHWM: ru_maxrss of a child started
    by this script also counts the memory of the parent it was forked from (the passages of
    the 1M build), which is not the query process's."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--types", default="flat,ivf,hnsw", help="hnsw is left out at 1M unless --hnsw-1m")
    parser.add_argument("--hnsw-1m", action="store_true")
    parser.add_argument("--work", type=Path, default=Path("/tmp/rag-scale"))
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--rerank-depth", type=int, default=Settings().rerank_depth, help="passages the cross-encoder reads"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.rerank_depth)))
        return

    missing = [str(p) for p in [*SOURCES, *QUESTION_SETS] if not p.exists()]
    if missing:
        sys.exit(f"needs {', '.join(missing)} (../shared beside the checkout)")
    args.work.mkdir(parents=True, exist_ok=True)
    settings = Settings()
    reports = report_sentences()
    vectors = sentence_vectors(reports, args.work, settings.embedding_model)
    print(f"{len(reports)} reports, {sum(len(r) for r in reports)} sentences", file=sys.stderr)
    results = []
    for size in [int(s) for s in args.sizes.split(",")]:
        types = [
            t for t in args.types.split(",") if not (t == "hnsw" and size >= 1_000_000 and not args.hnsw_1m)
        ]
        for row in build(size, types, args.work, reports, vectors, settings):
            folder = args.work / f"{size}-{row['type']}"
            command = [
                sys.executable,
                __file__,
                "--measure",
                str(folder),
                "--rerank-depth",
                str(args.rerank_depth),
            ]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            row.update(json.loads(done.stdout.strip().splitlines()[-1]))
            row["load"] = [round(x, 2) for x in os.getloadavg()]
            results.append(row)
            print(_row(row), flush=True)
        if size >= 1_000_000:
            shutil.rmtree(args.work / f"{size}-flat", ignore_errors=True)
    if args.json:
        print(json.dumps(results))


def _row(r: dict) -> str:
    effort = {
        "ivf": f"nprobe {r.get('nprobe')}/{r.get('nlist')}",
        "hnsw": f"efSearch {r.get('efSearch')}",
    }.get(r["type"], "")
    stages = " | ".join(
        f"{r[s]['p50']:.0f} / {r[s]['p95']:.0f}" for s in ["embed", "dense", "keyword", "rerank", "answer"]
    )
    return (
        f"| {r['size']:,} | {r['type']} {effort} | {r.get('recall@10', 1.0)} | {stages} | "
        f"{r['retrieval']['p50']:.0f} / {r['retrieval']['p95']:.0f} | "
        f"{r['retrieval']['p50'] + r['rerank']['p50']:.0f} | {r['peak_rss_mb']} | load {r['load'][0]} |"
    )


if __name__ == "__main__":
    main()
