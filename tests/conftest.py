"""Shared fixtures: one real index of the sample corpus per test session (real model, real FAISS,
real SQLite), and the path to ../shared when it is there."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
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


def made_passage(text: str, **fields):
    """A retrieved passage made for a test: ranked first, of report "T" with no council, date,
    page, paragraph or heading unless `fields` say otherwise."""
    from rag.types import Passage

    defaults = {
        "rank": 1,
        "chunk_id": "c",
        "doc_id": "d",
        "title": "T",
        "source": "s.txt",
        "council": None,
        "date": None,
        "page": None,
        "paragraph": None,
        "heading": None,
        "score": 0.9,
    }
    return Passage(text=text, **{**defaults, **fields})


def free_port() -> int:
    """A localhost port nothing listens on, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_server(server: subprocess.Popen) -> None:
    """Stop a server started with start_new_session=True and anything it started: its own
    process group, politely first."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
    except ProcessLookupError:  # it has exited already (the test says why)
        server.wait()
        return
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


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
    from rag.build.ingest import build_index
    from rag.index.store import open_index

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


# A report whose text attacks the page that shows it. The raw tags are removed when the file is
# read; the entity-encoded ones become real "<script>" and "<img onerror>" text in the index, so
# the app must show them as text. The Markdown image and link point at a host that must never be
# contacted.
HOSTILE_REPORT = """# Parking Services Annual Report

Example Borough Council, Cabinet, 12 May 2022

1. Penalty charge notices issued in 2022: 4,321 &lt;script&gt;window.__xss = 1; alert("script ran")&lt;/script&gt;
2. The appeals officer &lt;img src=x onerror="window.__xss_img = 1; alert('onerror ran')"&gt; reviewed 612 appeals.
3. Raw tags in the file: <script>window.__xss_raw = 1</script> <img src=x onerror="window.__xss_raw_img = 1">
4. A chart of appeals ![appeals chart](http://attacker.example/pixel.png?leak=1) and ![tracker][pixel]
See [the portal](javascript:alert('link')) or http://attacker.example/portal for details.

[pixel]: http://attacker.example/tracker.png
"""
HOSTILE_QUESTION = "How many penalty charge notices were issued in 2022?"


@pytest.fixture
def hostile_corpus(tmp_path):
    """The sample corpus and the hostile report, in a folder a test may change."""
    folder = tmp_path / "corpus"
    shutil.copytree(CORPUS, folder)
    (folder / "2022-05-12-parking-services-report.md").write_text(HOSTILE_REPORT, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def kent_index(tmp_path_factory):
    """The 132 Kent County Council PDFs, indexed once for the whole session (several minutes)."""
    from rag.build.ingest import build_index
    from rag.index.store import open_index
    from rag.settings import Settings

    kent = need(DATA / "reports" / "kent-county-council")
    settings = Settings(index_dir=tmp_path_factory.mktemp("kent-index") / "index")
    report = build_index([kent], settings, progress=False)
    return report, open_index(settings), settings
