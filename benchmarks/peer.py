"""Side by side with the stack most users would otherwise pick, on the same files and questions:
our build (`rag.build.ingest.build_index`) and search (`rag.retrieval.search`, hybrid + rerank and
dense only), against LangChain's PyPDFLoader + RecursiveCharacterTextSplitter(1000, 200) +
the same embedder (our default, bge-small-en-v1.5 int8 ONNX, handed to LangChain through its
`Embeddings` interface: the packaged model has no PyTorch weights for HuggingFaceEmbeddings) +
FAISS.from_documents + similarity_search(k=5). Prints build time, chunks, query latency (p50 / p95) and dev-set hit@5
(the evidence test of `rag.evaluation`), and the ratios.

    pip install '.[bench]'
    python benchmarks/peer.py [--corpus DIR --questions FILE] [--limit-files N] [--json]

LangChain is imported here only, never in rag/.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from rag.build.ingest import build_index, collect_files
from rag.evaluation import holds_evidence, load_questions
from rag.index.store import Index, open_index
from rag.models.embeddings import get_embedder
from rag.retrieval import search
from rag.settings import Settings

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
KENT = SHARED / "data" / "reports" / "kent-county-council"
KENT_QUESTIONS = SHARED / "eval" / "questions-kent.jsonl"
K = 5


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def hit_at_5(questions: list[dict], texts_per_question: list[list[str]]) -> float:
    """Share of answerable questions whose top 5 passages hold an evidence string."""
    hits = [
        any(holds_evidence(q, text) for text in texts[:K])
        for q, texts in zip(questions, texts_per_question)
        if q.get("kind") != "unanswerable"
    ]
    return sum(hits) / len(hits)


def run_queries(questions: list[dict], stacks: dict) -> dict:
    """Each stack's latency per question (after one warm-up) and hit@5. `stacks` maps a name to
    a function from a question to passage texts; the stacks take turns on each question, so a
    change in the machine's load falls on all of them alike."""
    latencies: dict[str, list[float]] = {name: [] for name in stacks}
    texts: dict[str, list[list[str]]] = {name: [] for name in stacks}
    for query in stacks.values():
        query("warm up the models")
    for question in questions:
        for name, query in stacks.items():
            started = time.perf_counter()
            texts[name].append(query(question["question"]))
            latencies[name].append((time.perf_counter() - started) * 1000)
    return {
        name: {
            "p50_ms": round(float(np.percentile(latencies[name], 50)), 1),
            "p95_ms": round(float(np.percentile(latencies[name], 95)), 1),
            "hit@5": round(hit_at_5(questions, texts[name]), 3),
        }
        for name in stacks
    }


def build_ours(files: list[Path], settings: Settings) -> tuple[dict, Index]:
    started = time.perf_counter()
    report = build_index(files, settings, rebuild=True, progress=False)
    seconds = time.perf_counter() - started
    figures = {
        "build_s": round(seconds, 1),
        "files_read": len(report.indexed),
        "files_failed": len(report.skipped),
        "chunks": report.chunks,
    }
    for item in report.skipped:
        print(f"    ours skipped {item['source']}: {item['reason']}")
    return figures, open_index(settings)


def build_peer(files: list[Path], model: str) -> tuple[dict, object]:
    from langchain_community.document_loaders import PyPDFLoader, TextLoader
    from langchain_community.vectorstores import FAISS
    from langchain_core.embeddings import Embeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    class SameEmbedder(Embeddings):
        """Our embedding model (the same weights, runtime and query prefix) as LangChain sees one."""

        def __init__(self):
            self.embedder = get_embedder(model)

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return self.embedder.embed_passages(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            return self.embedder.embed_queries([text])[0].tolist()

    started = time.perf_counter()
    pages, failed = [], []
    for path in files:
        suffix = path.suffix.lower()
        try:
            if suffix == ".pdf":
                pages.extend(PyPDFLoader(str(path)).load())
            elif suffix in (".txt", ".md", ".markdown"):
                pages.extend(TextLoader(str(path), encoding="utf-8").load())
            else:
                raise ValueError(f"no loader for {suffix}")
        except Exception as exc:  # noqa: BLE001 - whatever a loader raises, the file is counted and left out
            failed.append(f"{path.name}: {exc}")
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(pages)
    store = FAISS.from_documents(chunks, SameEmbedder())
    seconds = time.perf_counter() - started
    for line in failed:
        print(f"    LangChain could not load {line}")
    figures = {
        "build_s": round(seconds, 1),
        "files_read": len(files) - len(failed),
        "files_failed": len(failed),
        "chunks": len(chunks),
    }
    return figures, store


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def print_table(figures: dict) -> None:
    mine, theirs = figures["ours"], figures["peer"]
    rows = [
        ("ours: hybrid + rerank (default)", mine, mine["default"]),
        ("ours: dense only, no rerank", mine, mine["dense"]),
        ("LangChain: split 1000/200, FAISS top-5", theirs, theirs["default"]),
    ]
    print("| stack | files read (failed) | build s | chunks | ms/query p50 | ms/query p95 | hit@5 |")
    print("|---|---|---|---|---|---|---|")
    for name, stack, q in rows:
        print(
            f"| {name} | {stack['files_read']} ({stack['files_failed']}) | {stack['build_s']:.0f} | "
            f"{stack['chunks']:,} | {q['p50_ms']:.0f} | {q['p95_ms']:.0f} | {q['hit@5']:.3f} |"
        )
    print()
    print(f"LangChain / ours build time: {ratio(theirs['build_s'], mine['build_s'])}")
    for name in ("default", "dense"):
        label = "hybrid + rerank" if name == "default" else "dense only"
        print(
            f"LangChain / ours ({label}) latency p50: {ratio(theirs['default']['p50_ms'], mine[name]['p50_ms'])}, "
            f"p95: {ratio(theirs['default']['p95_ms'], mine[name]['p95_ms'])}; "
            f"hit@5 LangChain - ours: {theirs['default']['hit@5'] - mine[name]['hit@5']:+.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=KENT, help="folder of documents (default: Kent)")
    parser.add_argument("--questions", type=Path, default=KENT_QUESTIONS, help="dev set (JSONL)")
    parser.add_argument("--limit-files", type=int, help="only the first N files (sorted by path)")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object of the figures")
    args = parser.parse_args()

    files, unsupported = collect_files([args.corpus])
    files = files[: args.limit_files] if args.limit_files else files
    questions = load_questions(args.questions)
    answerable = sum(1 for q in questions if q.get("kind") != "unanswerable")
    figures: dict = {"load_start": load()}
    print(f"machine: {os.cpu_count()} cores, load average {figures['load_start']} (1, 5, 15 min) at start")
    print(
        f"corpus: {args.corpus}, {len(files)} files ({len(unsupported)} of other types left out by both); "
        f"questions: {args.questions}, {len(questions)} ({answerable} answerable)",
        flush=True,
    )
    importlib.import_module("langchain_community.vectorstores")  # imports are timed in neither stack
    get_embedder(Settings().embedding_model).embed_queries(["load the model"])  # nor is loading the model
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(index_dir=Path(scratch) / "index")
        figures["ours"], index = build_ours(files, settings)
        print(f"ours built in {figures['ours']['build_s']:.0f} s, load average {load()}", flush=True)
        figures["peer"], store = build_peer(files, settings.embedding_model)
        print(f"LangChain built in {figures['peer']['build_s']:.0f} s, load average {load()}", flush=True)
        dense = settings.replace(retrieval="dense", rerank=False)
        queries = run_queries(
            questions,
            {
                "default": lambda q: [p.text for p in search(index, q, settings, k=K).passages],
                "dense": lambda q: [p.text for p in search(index, q, dense, k=K).passages],
                "peer": lambda q: [d.page_content for d in store.similarity_search(q, k=K)],
            },
        )
        index.close()
    figures["ours"]["default"], figures["ours"]["dense"] = queries["default"], queries["dense"]
    figures["peer"]["default"] = queries["peer"]
    figures["load_end"] = load()
    print(f"machine: load average {figures['load_end']} at end\n")
    print_table(figures)
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
