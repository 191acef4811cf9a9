"""BEIR SciFact through the project's own ingestion, index and retrieval code.

Writes each abstract of ../shared/data/scifact/corpus.jsonl as a text file (title, blank line,
abstract), indexes the folder with `rag.build.ingest.build_index`, runs the 300 test queries through
`rag.retrieval.search` in each configuration and prints nDCG@10, recall@100 and the mean latency
per query and per stage. A document's score is its best chunk's rank.

    python benchmarks/scifact.py [--model bge-small-en-v1.5] [--work DIR] [--limit N] [--configs A,B]
        [--rerank-depth N] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from statistics import mean

from rag.build.ingest import build_index
from rag.index.store import open_index
from rag.retrieval import search
from rag.settings import Settings

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scifact"
CONFIGS = {
    "dense": {"retrieval": "dense", "rerank": False},
    "keyword": {"retrieval": "keyword", "rerank": False},
    "hybrid": {"retrieval": "hybrid", "rerank": False},
    "hybrid+rerank": {"retrieval": "hybrid", "rerank": True},
}
PUBLISHED = {
    "BM25": 0.665,
    "BM25 + cross-encoder": 0.688,
    "all-MiniLM-L6-v2": 0.645,
    "bge-small-en-v1.5": 0.713,
}


def write_corpus(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    with (DATA / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            doc = json.loads(line)
            path = folder / f"{doc['_id']}.txt"
            if not path.exists():
                path.write_text(f"{doc['title']}\n\n{doc['text']}\n", encoding="utf-8")
            count += 1
    return count


def load_test_queries(limit: int | None) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    qrels: dict[str, dict[str, int]] = {}
    for line in (DATA / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        query_id, doc_id, score = line.split("\t")
        qrels.setdefault(query_id, {})[doc_id] = int(score)
    queries = {}
    with (DATA / "queries.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            query = json.loads(line)
            if query["_id"] in qrels:
                queries[query["_id"]] = query["text"]
    ids = sorted(queries, key=int)[:limit] if limit else sorted(queries, key=int)
    return {i: queries[i] for i in ids}, qrels


def ndcg_at_10(ranked: list[str], relevant: dict[str, int]) -> float:
    gain = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(relevant.values(), reverse=True)[:10]))
    return gain / ideal if ideal else 0.0


def ranked_documents(passages) -> list[str]:
    seen: dict[str, None] = {}
    for passage in passages:
        seen.setdefault(Path(passage.source).stem, None)
    return list(seen)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=Settings().embedding_model)
    parser.add_argument("--work", type=Path, default=Path("/tmp/rag-scifact"))
    parser.add_argument("--limit", type=int, help="only the first N test queries")
    parser.add_argument("--chunk-tokens", type=int, default=512, help="abstracts are short: one chunk each")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument(
        "--rerank-depth", type=int, default=Settings().rerank_depth, help="passages the cross-encoder reads"
    )
    parser.add_argument("--json", action="store_true", help="last line: one JSON object of the figures")
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is absent: this benchmark reads ../shared/data/scifact")

    corpus = args.work / "corpus"
    documents = write_corpus(corpus)
    base = Settings(
        corpus_dir=corpus,
        index_dir=args.work / f"index-{args.model}-{args.chunk_tokens}",
        embedding_model=args.model,
        chunk_tokens=args.chunk_tokens,
        rerank_depth=args.rerank_depth,
    )
    started = time.perf_counter()
    report = build_index(None, base, progress=True)
    print(
        f"indexed {documents} abstracts as {report.chunks} chunks with {args.model} "
        f"({report.embedded_chunks} embedded) in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    index = open_index(base)
    queries, qrels = load_test_queries(args.limit)

    figures = {}
    for name in args.configs.split(","):
        settings = base.replace(**CONFIGS[name])
        search(index, "warm up the models", settings, k=5)
        ndcgs, recalls, latencies, stages = [], [], [], {}
        for query_id, text in queries.items():
            started = time.perf_counter()
            result = search(index, text, settings, k=150)
            latencies.append((time.perf_counter() - started) * 1000)
            for stage, ms in result.timings_ms.items():
                stages.setdefault(stage, []).append(ms)
            ranked = ranked_documents(result.passages)
            relevant = qrels[query_id]
            ndcgs.append(ndcg_at_10(ranked, relevant))
            recalls.append(len(set(ranked[:100]) & set(relevant)) / len(relevant))
        figures[name] = {
            "ndcg@10": round(mean(ndcgs), 4),
            "recall@100": round(mean(recalls), 4),
            "ms_per_query": round(mean(latencies), 1),
            "stages_ms": {stage: round(mean(v), 1) for stage, v in stages.items()},
        }
        print(
            f"{args.model:20s} {name:14s} nDCG@10 {figures[name]['ndcg@10']:.3f}  recall@100 "
            f"{figures[name]['recall@100']:.3f}  {figures[name]['ms_per_query']:.0f} ms/query  "
            f"{figures[name]['stages_ms']}",
            flush=True,
        )
    print("published nDCG@10: " + ", ".join(f"{k} {v}" for k, v in PUBLISHED.items()))
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
