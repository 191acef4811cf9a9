"""The FAISS side of the index: which kind of vector index a corpus gets (exact below a size,
IVF or HNSW above), and tuning its search effort against exact search on sample queries."""

from __future__ import annotations

import numpy as np

from rag.models.embeddings import get_embedder

INDEX_TYPES = ("auto", "flat", "ivf", "hnsw")


APPROXIMATE_FROM = 200_000
"""With index_type "auto": exact search below this many chunks, IVF from here on
(benchmarks/scale.py measures both; benchmarks/results.md has the figures)."""


RECALL_TARGET = 0.95
"""Search effort (IVF nprobe, HNSW efSearch) is raised until recall@10 against exact search
reaches this on question-like queries made from the index's own text (tuning_queries)."""


TUNING_QUERIES = 500


TUNING_WORDS = 8


EXACT_BELOW = 20_000
"""A filtered search over fewer passages than this scores them all exactly (from the stored
vectors) instead of asking an approximate index, which might not reach them."""


def vector_index_kind(count: int, index_type: str) -> str:
    """The index type `index_type` means for `count` passages ("auto" chooses by size)."""
    if index_type not in INDEX_TYPES:
        raise ValueError(f"index_type must be one of {', '.join(INDEX_TYPES)}, got {index_type!r}")
    if count == 0:
        return "flat"
    if index_type == "auto":
        return "ivf" if count >= APPROXIMATE_FROM else "flat"
    return index_type


def tuning_queries(texts: list[str], model_name: str) -> np.ndarray:
    """Question-like queries to tune an approximate index with: a random TUNING_WORDS-word window
    from each of a sample of the passages, embedded as a query. A passage's own vector is a far
    easier query than a question (on Kent its nearest other passage scores 0.92 against 0.58 for
    the dev questions' best match), so tuning on it leaves real questions short of the target;
    short fragments score 0.5-0.55 and ask for at least the effort the dev questions need."""
    rng = np.random.default_rng(1)
    sample = rng.choice(len(texts), size=min(len(texts), TUNING_QUERIES), replace=False)
    windows = []
    for i in sorted(sample):
        words = texts[i].split()
        start = int(rng.integers(0, max(1, len(words) - TUNING_WORDS + 1)))
        windows.append(" ".join(words[start : start + TUNING_WORDS]))
    return get_embedder(model_name).embed_queries(windows)


def build_vector_index(matrix: np.ndarray, index_type: str = "auto", queries: np.ndarray | None = None):
    """A FAISS inner-product index over `matrix` and its description for the manifest:
    "flat" (exact), "ivf" (inverted lists, 8-bit scalar-quantised vectors: a quarter of the
    memory) or "hnsw" (graph over full vectors); "auto" chooses by size. An approximate index's
    search effort is tuned on `queries` (see tuning_queries), else on its own passages."""
    import faiss

    count, dimension = matrix.shape
    kind = vector_index_kind(count, index_type)
    if kind == "flat":
        index = faiss.IndexFlatIP(dimension)
        index.add(matrix)
        return index, {"type": "flat"}
    if kind == "ivf":
        lists = max(1, min(int(4 * count**0.5), count // 39))  # FAISS wants >= 39 points per list
        quantizer = faiss.IndexFlatIP(dimension)
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dimension, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        sample = np.random.default_rng(0).choice(count, size=min(count, lists * 64), replace=False)
        index.train(matrix[np.sort(sample)])
        index.add(matrix)
        effort, recall = _tune(
            index, matrix, queries, lambda n: setattr(index, "nprobe", n), [1, 2, 4, 8, 16, 32, 64, 128, 256]
        )
        return index, {"type": "ivf", "storage": "sq8", "nlist": lists, "nprobe": effort, "recall@10": recall}
    index = faiss.IndexHNSWFlat(dimension, 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 80
    index.add(matrix)
    effort, recall = _tune(
        index, matrix, queries, lambda n: setattr(index.hnsw, "efSearch", n), [16, 32, 64, 128, 256, 512]
    )
    return index, {"type": "hnsw", "M": 32, "efSearch": effort, "recall@10": recall}


def _tune(index, matrix: np.ndarray, queries, set_effort, efforts: list[int]) -> tuple[int, float]:
    """The least effort whose recall@10 reaches RECALL_TARGET (else the most), and that recall."""
    effort, recall = efforts[-1], 0.0
    for effort in efforts:
        set_effort(effort)
        recall = search_recall(index, matrix, queries)
        if recall >= RECALL_TARGET:
            break
    return effort, round(recall, 3)


def search_recall(index, matrix: np.ndarray, queries: np.ndarray | None = None, k: int = 10) -> float:
    """recall@k of `index` against exact search over `matrix`. Without `queries`, a sample of the
    indexed vectors asks, each leaving itself out. A result counts when its exact score is at
    least the exact k-th best (so ties between duplicate passages are not misses)."""
    import faiss

    count = matrix.shape[0]
    own = queries is None
    if own:
        rows = np.random.default_rng(1).choice(count, size=min(count, TUNING_QUERIES), replace=False)
        queries = matrix[rows]
    depth = min(count, k + 1 if own else k)
    exact_scores, exact_rows = faiss.knn(queries, matrix, depth, metric=faiss.METRIC_INNER_PRODUCT)
    _, found = index.search(queries, depth)
    hits = total = 0
    for q, query in enumerate(queries):
        keep = [i for i, r in enumerate(exact_rows[q]) if not (own and r == rows[q])][:k]
        if not keep:
            continue
        threshold = exact_scores[q][keep[-1]] - 1e-5
        results = [r for r in found[q] if r >= 0 and not (own and r == rows[q])][: len(keep)]
        hits += sum(1 for r in results if float(matrix[r] @ query) >= threshold)
        total += len(keep)
    return hits / total if total else 1.0
