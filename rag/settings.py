"""One settings object. Precedence: defaults < rag.toml < RAG_* environment < CLI flags."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rag.errors import SettingsError


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = Path("corpus")
    """Folder of documents that `rag index` reads when no path is given."""

    index_dir: Path = Path("index")
    """Where the built index lives (manifest.json, vectors.faiss, chunks.sqlite)."""

    embedding_model: str = "bge-small-en-v1.5"
    """A packaged model name (see rag.models.embeddings.PACKAGED_MODELS) or a local model folder."""

    chunk_tokens: int = 200
    """Largest chunk, in cl100k_base tokens (counted with tiktoken, offline encoding)."""

    chunk_overlap: int = 40
    """Tokens repeated between consecutive pieces of one long section."""

    index_type: str = "auto"
    """Vector search: "flat" (exact), "ivf" or "hnsw" (approximate, tuned to recall@10 >= 0.95),
    or "auto" (exact below 200,000 chunks, IVF above). Chosen at build time; see `rag info`."""

    retrieval: str = "hybrid"
    """"hybrid" (dense + BM25 keyword, fused by reciprocal rank), "dense" or "keyword"."""

    keyword_max_postings: int = 200_000
    """Keyword search leaves out a question's most common words once the chunks holding its words
    add up to more than this (the two rarest words are always kept); 0: never. Only large indexes
    come near it (benchmarks/results.md)."""

    rerank: bool = True
    """Reorder the best fused candidates with a cross-encoder (ms-marco-MiniLM-L-12-v2)."""

    rerank_depth: int = 12
    """How many fused candidates the cross-encoder reads (10, 12, 15 and 20 measured: 12 is as
    good as any on the Kent, sample and SciFact sets, at 60% of the cost of 20; benchmarks/results.md)."""

    rerank_keep: int = 3
    """The hybrid ranking's first `rerank_keep` passages stay among the `top_k` shown after
    reranking (0: the cross-encoder alone decides). The two rankings fail on different
    passages: the cross-encoder ranks table rows low (benchmarks/results.md)."""

    top_k: int = 5
    """Passages returned by search and shown under an answer."""

    answer_mode: str = "extractive"
    """How answers are written: "extractive" (no language model) or "llm" (llm_url endpoint)."""

    not_found_threshold: float | None = None
    """Answer confidence below which the answer is "not_found"; unset: the threshold fitted with the
    answer scorer (rag/data/answer_model.json, chosen by benchmarks/train_answerer.py)."""

    verifier_model: str = ""
    """A local language model that checks each extractive answer (rag/answer/verify.py): the
    packaged "qwen2.5-coder-1.5b-instruct" (`make verifier` installs it) or a .gguf file; empty: no
    check. An answer it doubts gives way to a next best sentence it trusts, or else becomes a
    refusal that offers its sentence as a passage to check."""

    verifier_threshold: float = 0.36
    """The verifier's probability below which an answer is doubted (chosen by leave-one-corpus-out
    cross-validation, benchmarks/verify_cv.py)."""

    verifier_fallback_threshold: float = 0.48
    """The verifier's probability at which one of a doubted answer's next two sentences answers
    instead; when neither reaches it, the answer is withdrawn (chosen with verifier_threshold)."""

    llm_url: str = ""
    """OpenAI-compatible chat-completions endpoint (only for answer_mode = "llm")."""

    llm_model: str = ""
    """Model name sent to the LLM endpoint."""

    llm_api_key: str = ""
    """API key for the LLM endpoint, if it needs one."""

    llm_timeout_s: float = 30.0
    """Longest wait for the whole LLM reply; after it the extractive answer is shown."""

    llm_max_tokens: int = 400
    """Longest LLM reply, in tokens (sent as max_tokens): a model that does not stop is cut off
    there rather than running into the timeout."""

    embed_batch_size: int = 32
    """Chunks embedded per batch while indexing."""

    max_question_chars: int = 2000
    """Longer questions are refused with a clear message."""

    max_file_mb: float = 200.0
    """Files larger than this are skipped and reported."""

    tesseract: str = "tesseract"
    """Tesseract command that reads scanned pages (OCR); empty turns OCR off."""

    parse_timeout: float = 30.0
    """A PDF whose worker reads no page for this many seconds is stopped and reported."""

    worker_memory_mb: int = 2048
    """Memory (address space) each PDF worker process may use; a file that needs more is reported."""

    workers: int = 0
    """PDF worker processes; 0 means one per CPU core. With engine "ray": parsing tasks and
    embedding actors (0: one per CPU of the Ray cluster)."""

    engine: str = "local"
    """Where `rag index` reads and embeds files: "local" (worker processes on this machine) or
    "ray" (a Ray Data pipeline, rag.build.distributed; needs `pip install -e '.[ray]'`)."""

    ray_address: str = ""
    """With engine "ray": empty starts a local Ray instance for the build; "auto" or an address
    (host:6379, ray://host:10001) joins a running cluster."""

    read_only: bool = False
    """The chat app answers questions only: no uploads, no index builds (`rag serve --read-only`)."""

    api_key: str = field(default="", repr=False)
    """Bearer token the HTTP API (`rag api --api-key`) requires; empty: none (fine on 127.0.0.1)."""

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed; None values are ignored (unset CLI flags)."""
        given = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **_coerce_all(given))


def _coerce(name: str, value: Any) -> Any:
    kinds = {f.name: f.type for f in fields(Settings)}
    if name not in kinds:
        raise SettingsError(f"unknown setting {name!r}; known settings: {', '.join(sorted(kinds))}")
    kind = kinds[name]
    try:
        if kind == "Path":
            return Path(value)
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "float | None":
            return None if value is None or str(value).strip().lower() in ("", "none") else float(value)
        if kind == "bool":
            if isinstance(value, str):
                if value.strip().lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                    raise ValueError(value)
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        return str(value)
    except (TypeError, ValueError):
        raise SettingsError(f"setting {name} must be {kind}, got {value!r}") from None


def _coerce_all(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _coerce(name, value) for name, value in values.items()}


def load_settings(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build the settings: defaults, then rag.toml, then RAG_* variables, then `overrides`."""
    environ = os.environ if environ is None else environ
    config_file = config_file or Path(environ.get("RAG_CONFIG", "rag.toml"))
    values: dict[str, Any] = {}
    if config_file.exists():
        try:
            values.update(tomllib.loads(config_file.read_text(encoding="utf-8")))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{config_file} is not valid TOML: {exc}") from None
    for f in fields(Settings):
        env_name = f"RAG_{f.name.upper()}"
        if env_name in environ:
            values[f.name] = environ[env_name]
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**_coerce_all(values))
