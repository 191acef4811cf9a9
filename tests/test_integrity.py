"""Nothing lost, nothing silently wrong: one bad file never stops a build, every file of every
folder of ../shared/data is indexed or skipped with its reason, and dates are real dates."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import CORPUS, DATA, need

from rag import chunking
from rag.build.ingest import build_index, source_name
from rag.chunking import spoken_date
from rag.dates import is_real_date
from rag.index.store import open_index
from rag.read.metadata import date_from_path, find_date
from rag.settings import Settings

REPORT = "middlesbrough-2018-09-executive-member-report-childrens-care.txt"


@pytest.mark.parametrize(
    "name, date",
    [
        ("west-sussex-jsna/core/Female-Life-Expectancy-MSOA-2009-13.pdf", None),  # the years 2009 to 2013
        ("west-sussex-jsna/core/Briefing-Mortality-in-West-Sussex-2014-15.pdf", None),  # a financial year
        ("reports/2011-12-annual-report.pdf", None),  # the financial year 2011/12
        ("cabinet/2021-02-30/minutes.pdf", None),  # no such day
        ("cabinet/2025-01-30/Budget 2025-26.pdf", "2025-01-30"),  # the folder's date, not the year span
        ("middlesbrough-2018-09-executive-member-report.txt", "2018-09"),
    ],
)
def test_a_span_of_years_in_a_path_is_a_period_not_a_date(name, date):
    assert date_from_path(Path(name)) == date


def test_only_calendar_dates_are_dates():
    assert [is_real_date(d) for d in ("2018", "2018-09", "2018-09-11", "2020-02-29")] == [True] * 4
    assert [is_real_date(d) for d in ("2009-13", "2021-02-30", "2019-02-29", "", None, "May 2018")] == [
        False
    ] * 6
    assert spoken_date("2009-13") is None and spoken_date("2018-09-11") == "11 September 2018"
    assert find_date("Date of meeting: 31 February 2020") != "2020-02-31"


def test_a_file_named_with_a_span_of_years_is_indexed(tmp_path):
    folder = tmp_path / "jsna"
    folder.mkdir()
    shutil.copy(CORPUS / REPORT, folder / "Female-Life-Expectancy-MSOA-2009-13.txt")
    shutil.copy(CORPUS / REPORT, folder / "Mortality-2014-15.md")
    report = build_index([folder], Settings(index_dir=tmp_path / "index"), progress=False)
    assert len(report.indexed) == 2 and report.skipped == []


def test_an_error_in_one_file_skips_that_file_with_its_reason(tmp_path, monkeypatch):
    """Whatever goes wrong while one file is chunked (a bug, a surprise in its text), that file is
    skipped with the reason and every other file is indexed; `rag info` lists it."""
    folder = tmp_path / "papers"
    folder.mkdir()
    for name in (REPORT, "stockton-2017-09-14-cabinet-childrens-services-progress-q1.md"):
        shutil.copy(CORPUS / name, folder / name)
    (folder / "trouble.txt").write_text("A report whose text the chunker cannot take.\n" * 20)
    real = chunking.chunk_document

    def chunk_or_fail(document, *args, **kwargs):
        if document.source.endswith("trouble.txt"):
            raise IndexError("list index out of range")
        return real(document, *args, **kwargs)

    monkeypatch.setattr("rag.build.prepare.chunk_document", chunk_or_fail)
    settings = Settings(index_dir=tmp_path / "index")
    report = build_index([folder], settings, progress=False)
    assert len(report.indexed) == 2
    assert [(Path(s["source"]).name, s["reason"]) for s in report.skipped] == [
        ("trouble.txt", "could not be read: IndexError: list index out of range")
    ]
    assert [Path(s["source"]).name for s in open_index(settings).info()["skipped"]] == ["trouble.txt"]


def test_an_error_while_embedding_one_file_skips_only_that_file(tmp_path, monkeypatch):
    folder = tmp_path / "papers"
    folder.mkdir()
    shutil.copy(CORPUS / REPORT, folder / REPORT)
    (folder / "odd.txt").write_text("Children's services update.\n\nThe poison passage is here.\n")
    from rag.models.embeddings import get_embedder

    embedder = get_embedder(Settings().embedding_model, Settings().embed_batch_size)
    real = embedder.embed_passages

    def embed_or_fail(texts, *args, **kwargs):
        if any("poison passage" in text for text in texts):
            raise RuntimeError("tokenizer failed")
        return real(texts, *args, **kwargs)

    monkeypatch.setattr(embedder, "embed_passages", embed_or_fail)
    report = build_index([folder], Settings(index_dir=tmp_path / "index"), progress=False)
    assert [Path(s).name for s in report.indexed] == [REPORT]
    assert [(Path(s["source"]).name, s["reason"]) for s in report.skipped] == [
        ("odd.txt", "could not be embedded: RuntimeError: tokenizer failed")
    ]


def _accounted(folder: Path, tmp_path: Path) -> tuple[set[str], set[str], dict]:
    """Build `folder`; its files, the files the build accounted for, and the index's info."""
    settings = Settings(index_dir=tmp_path / "index")
    report = build_index([folder], settings, progress=False)
    info = open_index(settings).info()
    files = {source_name(p) for p in folder.rglob("*") if p.is_file() and p.name.lower() != "readme.md"}
    accounted = set(open_index(settings).manifest["files"]) | {s["source"] for s in report.skipped}
    assert all(s["reason"].strip() for s in report.skipped)
    return files, accounted, info


@pytest.mark.parametrize(
    "folder",
    ["reports/west-sussex-jsna", "reports/limerick-council-minutes", "scifact"],
)
def test_every_file_of_a_shared_data_folder_is_indexed_or_skipped_with_a_reason(folder, tmp_path):
    """The folders no other test builds (Kent and pdf-torture have their own tests)."""
    files, accounted, info = _accounted(need(DATA / folder), tmp_path)
    assert files == accounted
    assert info["documents"] >= 1


def test_every_folder_of_shared_data_is_built_by_a_test():
    """A new folder in ../shared/data gets a build test: this names every one that has one."""
    built = {"reports/west-sussex-jsna", "reports/limerick-council-minutes", "scifact"}
    built |= {"reports/kent-county-council", "pdf-torture"}  # tests/test_kent.py, tests/test_ingest.py
    data = need(DATA)
    folders = {p.relative_to(data).as_posix() for p in data.iterdir() if p.is_dir() and p.name != "reports"}
    folders |= {p.relative_to(data).as_posix() for p in (data / "reports").iterdir() if p.is_dir()}
    assert folders <= built


# --- an index folder is only ever one of ours ----------------------------------------------------


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    from rag.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_folder_of_reports_given_as_index_dir_is_refused_and_kept(tmp_path, capsys):
    folder = tmp_path / "c"
    shutil.copytree(CORPUS, folder)
    before = sorted(p.name for p in folder.iterdir())
    code, _, err = _run(capsys, "index", str(folder), "--index-dir", str(folder), "--quiet")
    assert code == 1 and err.count("\n") == 1
    assert f"{folder} is not an index folder" in err and "README.md" in err
    assert sorted(p.name for p in folder.iterdir()) == before


def test_the_working_folder_given_as_index_dir_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("my notes")
    shutil.copy(CORPUS / REPORT, tmp_path / REPORT)
    code, _, err = _run(capsys, "index", REPORT, "--index-dir", ".", "--quiet")
    assert code == 1 and "is not an index folder" in err and err.count("\n") == 1
    assert (tmp_path / "notes.txt").read_text() == "my notes"


def test_an_index_dir_naming_a_file_is_one_line(tmp_path, capsys):
    path = tmp_path / "index.txt"
    path.write_text("not a folder")
    for argv in (["index", str(CORPUS / REPORT)], ["ask", "How many children?"], ["info"]):
        code, _, err = _run(capsys, *argv, "--index-dir", str(path))
        assert (
            code == 1 and err == f"error: --index-dir {path} is a file, not an index folder: name a folder\n"
        )
    assert path.read_text() == "not a folder"


def test_an_upload_never_writes_into_a_folder_that_is_not_an_index(tmp_path):
    from rag.app.corpus import add_files
    from rag.errors import NotAnIndexError

    folder = tmp_path / "c"
    shutil.copytree(CORPUS, folder)
    settings = Settings(corpus_dir=folder, index_dir=folder)
    with pytest.raises(NotAnIndexError):
        add_files([("new.txt", (CORPUS / REPORT).read_bytes())], settings)
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in CORPUS.iterdir())


# --- damage is found, said in one line, and repaired by `rag index` ------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Two sample reports and their index, built once; each test damages a copy."""
    root = tmp_path_factory.mktemp("built")
    folder = root / "papers"
    folder.mkdir()
    for name in (REPORT, "stockton-2017-09-14-cabinet-childrens-services-progress-q1.md"):
        shutil.copy(CORPUS / name, folder / name)
    build_index([folder], Settings(index_dir=root / "index"), progress=False)
    return folder, root / "index"


def _vectors_file(index_dir: Path, keep: int | None = None, dimension: int | None = None) -> None:
    import faiss
    import numpy as np

    vectors = faiss.read_index(str(index_dir / "vectors.faiss"))
    matrix = vectors.reconstruct_n(0, vectors.ntotal)
    if dimension:
        matrix = np.ascontiguousarray(matrix[:, :dimension])
    replaced = faiss.IndexFlatIP(matrix.shape[1])
    replaced.add(matrix[:keep])
    faiss.write_index(replaced, str(index_dir / "vectors.faiss"))


def _sql(index_dir: Path, statement: str) -> None:
    import sqlite3

    db = sqlite3.connect(index_dir / "chunks.sqlite")
    db.execute(statement)
    db.commit()
    db.close()


def _manifest(index_dir: Path, change) -> None:
    import json

    path = index_dir / "manifest.json"
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def _without(key):
    return lambda manifest: {k: v for k, v in manifest.items() if k != key}


DAMAGE = {
    "half the vectors": lambda d: _vectors_file(d, keep=5),
    "chunk rows deleted": lambda d: _sql(d, "DELETE FROM chunks WHERE row % 2 = 0"),
    "database overwritten with garbage": lambda d: (d / "chunks.sqlite").write_bytes(b"\x8f garbage " * 500),
    "keyword table dropped": lambda d: _sql(d, "DROP TABLE chunks_fts"),
    "vectors of another dimension": lambda d: _vectors_file(d, dimension=8),
    "manifest holding []": lambda d: _manifest(d, lambda m: []),
    "manifest without files": lambda d: _manifest(d, _without("files")),
    "manifest without dimension": lambda d: _manifest(d, _without("dimension")),
    "manifest without documents": lambda d: _manifest(d, _without("documents")),
    "ivf without nprobe": lambda d: _manifest(d, lambda m: {**m, "vector_index": {"type": "ivf"}}),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_index_is_named_in_one_line_and_rag_index_repairs_it(damage, built, tmp_path, capsys):
    folder, original = built
    index_dir = tmp_path / "index"
    shutil.copytree(original, index_dir)
    DAMAGE[damage](index_dir)
    fix = f"run `rag index --index-dir {index_dir}` to repair it"
    for argv in (["ask", "How many children were looked after?"], ["info"], ["search", "children"]):
        code, out, err = _run(capsys, *argv, "--index-dir", str(index_dir))
        assert code == 1 and out == "", (damage, argv, err)
        assert err.startswith("error: ") and err.count("\n") == 1 and fix in err, (damage, argv, err)

    code, out, err = _run(capsys, "index", str(folder), "--index-dir", str(index_dir), "--quiet")
    assert code == 0, err
    assert "indexed        2" in out  # not "unchanged": the damaged build is replaced
    if damage != "database overwritten with garbage":  # the stored vectors are reused, not re-embedded
        assert "(0 chunks embedded" in out, out
    code, out, err = _run(capsys, "info", "--json", "--index-dir", str(index_dir))
    assert code == 0, err
    info = __import__("json").loads(out)
    assert info["documents"] == 2 and info["chunks"] == open_index(Settings(index_dir=original)).size
    code, out, err = _run(
        capsys, "ask", "How many children were looked after?", "--index-dir", str(index_dir)
    )
    assert code == 0 and "[1]" in out, err


def test_info_reports_what_it_measured(built, tmp_path, capsys):
    """A manifest that overstates the passages is damage, not a figure to repeat."""
    index_dir = tmp_path / "index"
    shutil.copytree(built[1], index_dir)
    _manifest(index_dir, lambda m: {**m, "chunks": m["chunks"] + 7})
    code, _, err = _run(capsys, "info", "--index-dir", str(index_dir))
    assert code == 1 and "passages" in err and "the manifest says" in err


# --- one writer at a time; readers never find the index missing ----------------------------------


def test_a_second_build_is_refused_or_waits_while_one_holds_the_lock(built, tmp_path):
    import os
    import subprocess
    import sys
    import time

    from rag.errors import IndexBusyError
    from rag.index.folder import build_lock

    folder, original = built
    index_dir = tmp_path / "index"
    shutil.copytree(original, index_dir)
    settings = Settings(index_dir=index_dir)
    with build_lock(index_dir):
        with pytest.raises(IndexBusyError, match=f"being built by process {os.getpid()}"):
            build_index([folder], settings, progress=False)  # the app's way: refuse at once
        waiting = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "index", str(folder), "--index-dir", str(index_dir), "--quiet"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
        )
        message = waiting.stderr.readline()
        assert f"being built by process {os.getpid()}: waiting for it to finish" in message
        time.sleep(0.5)
        assert waiting.poll() is None  # still waiting for the lock
    out, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, err
    assert "unchanged      2" in out


def test_readers_never_find_the_index_missing_while_builds_are_swapped_in(tmp_path):
    import threading

    from rag.index.folder import swap_in

    index_dir = tmp_path / "index"
    index_dir.mkdir()
    (index_dir / "manifest.json").write_text("0")
    stop, missing, looks = threading.Event(), [], [0]

    def read() -> None:
        while not stop.is_set():
            looks[0] += 1
            if not (index_dir / "manifest.json").exists():
                missing.append(looks[0])

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for build in range(1, 400):
            staging = tmp_path / f".index.building-{build}"
            staging.mkdir()
            (staging / "manifest.json").write_text(str(build))
            swap_in(staging, index_dir)
    finally:
        stop.set()
        reader.join()
    assert (index_dir / "manifest.json").read_text() == "399"
    assert missing == [] and looks[0] > 400


def test_a_build_that_cannot_write_says_so_in_one_line(capsys):
    read_only = Path("/sys/rag-test-index")  # sysfs: nothing can be created there, even by root
    if not Path("/sys").is_dir():
        pytest.skip("no /sys here to stand for a read-only mount")
    code, out, err = _run(
        capsys, "index", str(CORPUS / REPORT), "--rebuild", "--quiet", "--index-dir", str(read_only)
    )
    assert code == 1 and out == "" and err.count("\n") == 1
    assert (
        err.startswith(f"error: could not build the index at {read_only}")
        and "previous index is unchanged" in err
    )


def test_a_model_package_seen_missing_for_a_moment_is_looked_up_again(monkeypatch):
    """In a clean clone's first `make test`, an app build thread found the installed model package
    missing while other threads imported, and the upload failed with "not installed". The lookup
    clears the import caches and looks again before saying so."""
    import importlib.util

    from rag.models import embeddings

    real, calls = importlib.util.find_spec, []

    def absent_once(name, *args):
        calls.append(name)
        return None if len(calls) == 1 else real(name, *args)

    embeddings.package_folder.cache_clear()
    monkeypatch.setattr(importlib.util, "find_spec", absent_once)
    try:
        folder = embeddings.resolve_model_path(Settings().embedding_model)
    finally:
        embeddings.package_folder.cache_clear()
    assert folder.is_dir() and len(calls) == 2
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)
    with pytest.raises(Exception, match="is not installed: pip install"):
        embeddings.resolve_model_path(Settings().embedding_model)
    embeddings.package_folder.cache_clear()
