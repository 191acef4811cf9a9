"""Concurrent users: threads sharing one loaded model and one index get the answers they would
get alone, and a rebuild swapped in by another process fails no question (real model, real
index, a real `rag index` process)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest
from conftest import CORPUS, EVAL, ROOT, need

from rag.app.serving import CurrentIndex
from rag.build.ingest import build_index
from rag.errors import IndexMissingError
from rag.index.folder import read_manifest
from rag.index.store import Entry, Index, write_index
from rag.models.embeddings import _onnx_model, load_onnx
from rag.models.rerank import MAX_TOKENS, RERANKER_FOLDER, RERANKER_PACKAGE, RERANKER_PIP
from rag.qa import ask
from rag.settings import Settings


def together(count: int, work) -> list:
    """Run work(i) in `count` threads released at the same moment; their results, in order."""
    start = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 (the test reports any failure)
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def outcome(answer) -> tuple:
    return (
        answer.status,
        answer.answer,
        [p.chunk_id for p in answer.passages],
        [c.text for c in answer.citations],
    )


def test_eight_users_asking_at_once_get_the_answers_they_get_alone(corpus_index, corpus_settings):
    lines = need(EVAL / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines[:8]]
    alone = [outcome(ask(corpus_index, q, corpus_settings)) for q in questions]

    at_once = together(8, lambda i: outcome(ask(corpus_index, questions[i], corpus_settings)))

    assert not [r for r in at_once if isinstance(r, Exception)]
    assert at_once == alone
    assert "507" in alone[0][1]  # real answers, not eight refusals


def test_threads_arriving_together_share_one_model():
    from rag.models.embeddings import package_folder

    folder = str(package_folder(RERANKER_PACKAGE, RERANKER_PIP, "the reranker") / RERANKER_FOLDER)
    _onnx_model.cache_clear()
    models = together(8, lambda i: load_onnx(folder, MAX_TOKENS))
    assert len({id(m) for m in models}) == 1 and not isinstance(models[0], Exception)


def test_a_rebuild_by_another_process_is_served_without_a_failed_question(small_corpus, tmp_path):
    settings = Settings(corpus_dir=small_corpus, index_dir=tmp_path / "index", rerank=False)
    build_index(None, settings, progress=False)
    current = CurrentIndex(settings)
    first = current.get()
    old_build = first.manifest["built_at"]
    questions = [
        "How many children were looked after by Middlesbrough as of 10 August 2018?",
        "What was the number of Children in Need in Middlesbrough in August 2018?",
        "How did the council keep in touch with children during the lockdown?",
    ]
    ask(first, questions[0], settings)  # the model is loaded before the race starts

    served: list[tuple[str, str]] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def user(number: int) -> None:
        turn = number
        while not stop.is_set():
            try:
                index = current.get()
                answer = ask(index, questions[turn % len(questions)], settings)
                served.append((index.manifest["built_at"], answer.status))
            except Exception as exc:  # noqa: BLE001 (every failure is reported below)
                failures.append(exc)
            turn += 1

    users = [threading.Thread(target=user, args=(n,)) for n in range(4)]
    for thread in users:
        thread.start()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TOKENIZERS_PARALLELISM": "false"}
    try:
        rebuild = subprocess.run(
            [
                sys.executable,
                "-m",
                "rag.cli",
                "index",
                "--rebuild",
                "--index-dir",
                str(settings.index_dir),
                str(small_corpus),
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=600,
            check=False,
        )
        asked, deadline = len(served), time.monotonic() + 300
        while len(served) < asked + 4 and not failures and time.monotonic() < deadline:
            time.sleep(0.2)  # a few questions on the new build
    finally:
        stop.set()
        for thread in users:
            thread.join()

    assert rebuild.returncode == 0, rebuild.stderr
    assert failures == []
    new_build = read_manifest(settings.index_dir)["built_at"]
    assert new_build != old_build
    assert current.get().manifest["built_at"] == new_build
    assert current.opens == 2  # reopened once for the rebuild, not per question
    assert {build for build, _ in served} == {old_build, new_build}
    assert any(status == "answered" for build, status in served if build == new_build)


def test_searches_never_fail_while_builds_are_swapped_in(tmp_path):
    """Many swaps, in-process and fast: every search lands on a whole build, before or after."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    name = "middlesbrough-2018-09-executive-member-report-childrens-care.txt"
    shutil.copy(CORPUS / name, corpus / name)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    build_index(None, settings, progress=False)
    current = CurrentIndex(settings)
    first = current.get()
    expected = [row for row, _ in first.keyword_search(["looked", "after"], 5)]
    vector = first.vectors.reconstruct(0)
    (doc_id,) = [f["doc_id"] for f in first.manifest["files"].values()]

    def swap_in_copies(count: int) -> None:
        for _ in range(count):
            manifest = read_manifest(settings.index_dir)
            old = Index(settings.index_dir, manifest)
            entries = [Entry(*old.document_rows(f["doc_id"]), file=f) for f in manifest["files"].values()]
            head = {k: manifest[k] for k in ("format_version", "embedding_model", "chunker", "dimension")}
            write_index(settings.index_dir, head, entries, [])
            old.close()

    stop = threading.Event()
    swapper = threading.Thread(target=lambda: (swap_in_copies(20), stop.set()))

    def search(_: int) -> int:
        searches = 0
        while not stop.is_set():
            index = current.get()
            assert [row for row, _ in index.keyword_search(["looked", "after"], 5)] == expected
            assert index.dense_search(vector, 3)[0][0] == 0
            assert index.chunk_rows(expected)[expected[0]]["doc_id"] == doc_id
            searches += 1
        return searches

    swapper.start()
    searched = together(8, search)
    swapper.join()

    assert not [r for r in searched if isinstance(r, Exception)], searched
    assert sum(searched) > 0
    assert 2 <= current.opens <= 21
    assert current.get().index_dir.stat().st_ino == settings.index_dir.stat().st_ino


def test_without_an_index_the_current_index_says_what_to_run(tmp_path):
    current = CurrentIndex(Settings(index_dir=tmp_path / "none"))
    with pytest.raises(IndexMissingError, match="run `rag index`"):
        current.get()
