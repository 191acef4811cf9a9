"""Nothing lost, nothing silently wrong: one bad file never stops a build, every file of every
folder of ../shared/data is indexed or skipped with its reason, and dates are real dates."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import CORPUS, DATA, need

from rag import chunking
from rag.chunking import spoken_date
from rag.index import open_index
from rag.ingest import build_index, source_name
from rag.metadata import date_from_path, find_date, is_real_date
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
    assert [is_real_date(d) for d in ("2009-13", "2021-02-30", "2019-02-29", "", None, "May 2018")] == [False] * 6
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

    monkeypatch.setattr("rag.ingest.chunk_document", chunk_or_fail)
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
    from rag.embeddings import get_embedder

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
