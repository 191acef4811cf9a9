"""Ingesting real, messy PDFs: the pdf-torture folder in one build, OCR, time limits, running
headers, metadata, and an interrupted build that resumes. Files come from ../shared/data."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS, DATA, ROOT, need

from rag.build.ingest import build_index, collect_files, source_name
from rag.index.folder import cache_dir
from rag.index.store import open_index
from rag.read.documents import load_document
from rag.read.pdf import drop_running_lines, tesseract_path
from rag.settings import Settings

TORTURE = DATA / "pdf-torture"
SOULDERN = TORTURE / "souldern-parish"
KENT = DATA / "reports" / "kent-county-council"
SCANNED = ["2018-08-23 Agenda.pdf", "2018-12-18 Agenda.pdf", "SPC 201819 Audit Report.pdf"]
HAS_TESSERACT = tesseract_path("tesseract") is not None


@pytest.fixture(scope="session")
def torture(tmp_path_factory):
    """The whole pdf-torture folder in one build (with OCR when Tesseract is installed)."""
    need(TORTURE)
    settings = Settings(index_dir=tmp_path_factory.mktemp("torture") / "index")
    report = build_index([TORTURE], settings, progress=False)
    return report, open_index(settings)


def _reasons(report) -> dict[str, str]:
    return {
        Path(s["source"]).resolve().relative_to(TORTURE.resolve()).as_posix(): s["reason"]
        for s in report.skipped
    }


def test_every_torture_file_is_indexed_or_skipped_with_a_reason(torture):
    report, index = torture
    files = [p for p in TORTURE.rglob("*") if p.is_file() and p.name != "README.md"]
    accounted = set(index.manifest["files"]) | {s["source"] for s in report.skipped}
    assert {source_name(p) for p in files} == accounted
    assert all(s["reason"].strip() for s in report.skipped)
    assert len(index.manifest["files"]) > 100  # the readable majority made it in


def test_encrypted_fake_and_empty_pdfs_are_reported_as_such(torture):
    reasons = _reasons(torture[0])
    for name in (
        "pdfplumber-tests/tests/pdfs/password-example.pdf",
        "pypdf-resources/encrypted-file.pdf",
        "pypdf-resources/encryption/r6-both-passwords.pdf",
        "pypdf-resources/crazyones-encrypted-256.pdf",
        "pypdf-sample-files/005-libreoffice-writer-password/libreoffice-writer-password.pdf",
    ):
        assert "encrypted" in reasons[name], name
    assert "not a PDF" in reasons["souldern-parish/2020-06-25 Agenda.pdf"]
    assert "empty" in reasons["pdfplumber-tests/tests/pdfs/empty.pdf"]
    assert (
        "unsupported file type .png" in reasons["pypdf-resources/test_watermarking_reportlab_rendering.png"]
    )
    # encrypted with an owner password only: any viewer opens them, and so do we
    files = torture[1].manifest["files"]
    assert source_name(TORTURE / "pypdf-resources/encryption/r6-owner-password.pdf") in files


@pytest.mark.skipif(not HAS_TESSERACT, reason="Tesseract is not installed (make install adds it as root)")
def test_scanned_parish_papers_are_read_by_ocr(torture):
    report, index = torture
    for name in SCANNED:
        entry = index.manifest["files"][source_name(SOULDERN / name)]
        assert entry["ocr_pages"] >= 1, name
    text = index.query("SELECT text FROM documents WHERE source = ?", [source_name(SOULDERN / SCANNED[0])])[
        0
    ][0]
    assert "Souldern Parish Council" in text and "Planning Meeting Agenda" in text
    assert report.ocr_pages >= len(SCANNED)


def test_without_tesseract_scanned_files_are_reported_and_mixed_files_keep_their_text(tmp_path):
    need(SOULDERN)
    mixed = need(TORTURE / "pypdf-resources/imagemagick-images.pdf")  # text pages and image pages
    folder = tmp_path / "papers"
    folder.mkdir()
    for source in (SOULDERN / SCANNED[0], SOULDERN / "2024-04-25 SPC minutes.pdf", mixed):
        shutil.copy(source, folder / source.name)
    settings = Settings(index_dir=tmp_path / "index", tesseract="")
    report = build_index([folder], settings, progress=False)
    reasons = {Path(s["source"]).name: s["reason"] for s in report.skipped}
    assert "no OCR" in reasons[SCANNED[0]] and "tesseract-ocr" in reasons[SCANNED[0]]
    assert len(report.indexed) == 2
    notes = {Path(n["source"]).name: n["note"] for n in report.notes}
    assert "left out" in notes[mixed.name]


def test_a_pdf_that_takes_too_long_is_stopped_and_the_rest_indexed(tmp_path):
    slow = need(SOULDERN / "Souldern 20mph Speed Limit - CONSULTATION PLAN.pdf")  # ~10 s to parse
    folder = tmp_path / "papers"
    folder.mkdir()
    shutil.copy(slow, folder / slow.name)
    shutil.copy(SOULDERN / "2024-04-25 SPC minutes.pdf", folder / "minutes.pdf")
    report = build_index([folder], Settings(index_dir=tmp_path / "index", parse_timeout=2), progress=False)
    assert [Path(s["source"]).name for s in report.skipped] == [slow.name]
    assert "timed out" in report.skipped[0]["reason"]
    assert [Path(s).name for s in report.indexed] == ["minutes.pdf"]


def test_a_worker_that_cannot_run_is_reported_not_fatal(tmp_path):
    need(SOULDERN)
    folder = tmp_path / "papers"
    folder.mkdir()
    shutil.copy(SOULDERN / "2024-04-25 SPC minutes.pdf", folder / "minutes.pdf")
    shutil.copy(
        CORPUS / "middlesbrough-2018-09-executive-member-report-childrens-care.txt", folder / "report.txt"
    )
    settings = Settings(index_dir=tmp_path / "index", worker_memory_mb=40)  # too little to start Python
    report = build_index([folder], settings, progress=False)
    assert [Path(s).name for s in report.indexed] == ["report.txt"]
    assert Path(report.skipped[0]["source"]).name == "minutes.pdf" and report.skipped[0]["reason"]


def test_running_headers_footers_and_page_numbers_are_dropped():
    body = ["Roads are resurfaced.", "Schools are rebuilt.", "Buses run on time.", "Libraries open late."]
    pages = [
        f"Kent County Council Budget 2025-26\n{line}\nThe spend is £{n * 7}m this year.\nPage {n + 20} of 44"
        for n, line in enumerate(body, start=1)
    ]
    cleaned = drop_running_lines(pages)
    assert cleaned[0].startswith("Kent County Council Budget 2025-26")  # the title stays once
    assert all("Kent County Council Budget" not in page for page in cleaned[1:])
    assert not any("of 44" in page for page in cleaned)
    for n, line in enumerate(body, start=1):
        assert line in cleaned[n - 1] and f"£{n * 7}m this year" in cleaned[n - 1]
    assert drop_running_lines(["Intro\nText\n12", "More\n13"]) == ["Intro\nText", "More"]


def test_a_kent_report_knows_its_meeting_author_and_title():
    pdf = need(
        KENT
        / "cabinet/2025-01-30/originals/24-00115 - Adoption of Integrated Care Strategy delivery plan - Report.pdf"
    )
    document = load_document(pdf)
    assert document.council == "Kent County Council"
    assert document.meeting == "Cabinet" and document.date == "2025-01-30"
    assert document.author.startswith("Roger Gough")
    assert document.title.startswith("Kent County Council Integrated Care Strategy")


@pytest.mark.parametrize(
    "name, date",
    [
        ("Appendix G - Reserves Policy.pdf", "2025-01-30"),  # its header's first date: July 2014
        ("Appendix P - Flexible Use of Capital Receipts Strategy.pdf", "2025-01-30"),  # 31 March 2030
        ("Minutes of the meeting held on 9th January 2025.pdf", "2025-01-09"),  # the meeting they record
    ],
)
def test_an_appendix_is_dated_by_the_meeting_its_pack_went_to(name, date):
    """Papers filed by meeting (cabinet/2025-01-30/...): a date in a report's header is its
    meeting date only in the half year before the pack's; an appendix's first date is often
    the year a policy began or the end of the period it plans for."""
    document = load_document(need(KENT / "cabinet/2025-01-30/originals" / name))
    assert document.date == date


def test_unsupported_files_in_a_folder_are_listed(tmp_path):
    (tmp_path / "notes.docx").write_bytes(b"PK")
    (tmp_path / "README.md").write_text("about this folder")
    (tmp_path / "a.txt").write_text("Budget report")
    files, skipped = collect_files([tmp_path])
    assert [f.name for f in files] == ["a.txt"]
    assert [(Path(s["source"]).name, s["reason"]) for s in skipped] == [
        ("notes.docx", "unsupported file type .docx")
    ]


# --- an interrupted build ----------------------------------------------------------------------


def _snapshot(index_dir: Path) -> tuple[list, list, np.ndarray]:
    index = open_index(Settings(index_dir=index_dir))
    documents = [tuple(r) for r in index.query("SELECT * FROM documents ORDER BY source")]
    chunks = [tuple(r) for r in index.query("SELECT * FROM chunks ORDER BY row")]
    vectors = index.vectors.reconstruct_n(0, index.size)
    index.close()
    return documents, chunks, vectors


def _ctrl_c_as_in_a_terminal() -> None:
    """In the child: SIGINT delivered and handled by default, as under a shell, whatever this test
    process inherited or changed (a child keeps an ignored or blocked SIGINT across exec)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_an_interrupted_build_resumes_and_ends_as_a_clean_build(tmp_path, monkeypatch):
    need(KENT)
    folder = tmp_path / "papers"
    folder.mkdir()
    # 25 papers: after the third is cached about ten seconds of work remain to interrupt (with 10,
    # the build could end before a loaded machine delivered the signal)
    originals = sorted((KENT / "cabinet/2025-01-30/originals").glob("*.pdf"), key=lambda p: p.stat().st_size)[
        :25
    ]
    for pdf in originals:
        shutil.copy(pdf, folder / pdf.name)
    shutil.copy(
        CORPUS / "middlesbrough-2018-09-executive-member-report-childrens-care.txt", folder / "first.txt"
    )
    monkeypatch.chdir(tmp_path)
    index_dir = tmp_path / "index"
    rag = [sys.executable, "-m", "rag.cli", "index", "papers", "--index-dir", str(index_dir), "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    subprocess.run(rag[:4] + ["papers/first.txt"] + rag[5:], check=True, env=env, capture_output=True)
    before = open_index(Settings(index_dir=index_dir)).manifest["built_at"]

    build = subprocess.Popen(
        rag,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_ctrl_c_as_in_a_terminal,  # noqa: PLW1509 - the child runs only signal()
    )
    cache = cache_dir(index_dir)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and build.poll() is None:
        if cache.exists() and len(list(cache.glob("*[0-9a-f].json"))) >= 3:
            break
        time.sleep(0.05)
    assert build.poll() is None, "the build finished before it could be interrupted"
    build.send_signal(signal.SIGINT)  # Ctrl-C
    _, err = build.communicate(timeout=60)
    assert build.returncode == 130 and b"previous index is unchanged" in err, err.decode()[-2000:]
    assert open_index(Settings(index_dir=index_dir)).manifest["built_at"] == before  # still serving
    assert not list(tmp_path.glob(".index.building-*"))

    resumed = build_index([Path("papers")], Settings(index_dir=index_dir), progress=False)
    assert len(resumed.resumed) >= 3 and resumed.unchanged == ["papers/first.txt"]
    assert not cache.exists()  # cleared once the new index is in place

    clean = build_index([Path("papers")], Settings(index_dir=tmp_path / "clean"), progress=False)
    assert clean.chunks == resumed.chunks and resumed.embedded_chunks < clean.embedded_chunks
    documents, chunks, vectors = _snapshot(index_dir)
    clean_documents, clean_chunks, clean_vectors = _snapshot(tmp_path / "clean")
    assert documents == clean_documents and chunks == clean_chunks
    assert np.allclose(vectors, clean_vectors, atol=1e-5)


def test_info_lists_skipped_files_from_the_manifest(tmp_path, capsys):
    from rag.cli import main

    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "fake.pdf").write_text("%!PS-Adobe-3.0\nnot a pdf")
    shutil.copy(CORPUS / "middlesbrough-2018-09-executive-member-report-childrens-care.txt", folder / "r.txt")
    assert main(["index", str(folder), "--index-dir", str(tmp_path / "i"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "skipped        1" in out and "fake.pdf" in out and "not a PDF (PostScript)" in out
    assert main(["info", "--json", "--index-dir", str(tmp_path / "i")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [(Path(s["source"]).name, s["reason"]) for s in info["skipped"]] == [
        ("fake.pdf", "not a PDF (PostScript)")
    ]


def test_an_unchanged_index_with_a_bad_file_is_left_as_it_is(tmp_path):
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "fake.pdf").write_text("%!PS-Adobe-3.0\nnot a pdf")
    shutil.copy(CORPUS / "middlesbrough-2018-09-executive-member-report-childrens-care.txt", folder / "r.txt")
    settings = Settings(index_dir=tmp_path / "index")
    first = build_index([folder], settings, progress=False)
    built_at = open_index(settings).manifest["built_at"]
    second = build_index([folder], settings, progress=False)
    assert (
        [s["reason"] for s in second.skipped]
        == [s["reason"] for s in first.skipped]
        == ["not a PDF (PostScript)"]
    )
    assert second.indexed == [] and len(second.unchanged) == 1
    assert open_index(settings).manifest["built_at"] == built_at  # nothing changed: nothing rewritten
