"""Shared fixtures: one real index of the sample corpus per test session (real model, real FAISS,
real SQLite), and the path to ../shared when it is there."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data"
EVAL = SHARED / "eval"


def need(path: Path) -> Path:
    """Skip the test, saying why, when a file from ../shared is absent."""
    if not path.exists():
        pytest.skip(f"{path} is absent (tests read ../shared beside the checkout)")
    return path


@pytest.fixture(autouse=True)
def _no_rag_environment(monkeypatch):
    """Tests set what they need; a developer's RAG_* variables and rag.toml don't leak in."""
    for name in list(os.environ):
        if name.startswith("RAG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RAG_CONFIG", str(ROOT / "tests" / "no-such-rag.toml"))


@pytest.fixture(scope="session")
def corpus_settings(tmp_path_factory):
    from rag.settings import Settings

    return Settings(corpus_dir=CORPUS, index_dir=tmp_path_factory.mktemp("corpus-index") / "index")


@pytest.fixture(scope="session")
def corpus_index(corpus_settings):
    """The sample corpus, indexed once for the whole session."""
    from rag.index import open_index
    from rag.ingest import build_index

    build_index([CORPUS], corpus_settings, progress=False)
    return open_index(corpus_settings)


@pytest.fixture
def small_corpus(tmp_path):
    """A private copy of two sample reports that a test may change."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in (
        "middlesbrough-2018-09-executive-member-report-childrens-care.txt",
        "middlesbrough-2020-04-05-members-briefing-childrens-services-covid.txt",
    ):
        shutil.copy(CORPUS / name, folder / name)
    return folder


@pytest.fixture(scope="session")
def kent_index(tmp_path_factory):
    """The 132 Kent County Council PDFs, indexed once for the whole session (several minutes)."""
    from rag.index import open_index
    from rag.ingest import build_index
    from rag.settings import Settings

    kent = need(DATA / "reports" / "kent-county-council")
    settings = Settings(index_dir=tmp_path_factory.mktemp("kent-index") / "index")
    report = build_index([kent], settings, progress=False)
    return report, open_index(settings), settings
