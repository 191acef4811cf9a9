"""The corpus from the app's side: uploads checked and indexed incrementally, index updates,
what the index holds, the original page behind a source. Real files, model, FAISS and SQLite."""

import shutil

import pytest
from conftest import CORPUS, DATA, need

from rag.app.corpus import (
    _BUILD_LOCK,
    add_files,
    date_bounds,
    describe_corpus,
    describe_upload,
    example_questions,
    list_reports,
    original_file,
    safe_file_name,
    update_index,
)
from rag.app.pages import HIGHLIGHT, find_quote, page_image
from rag.build.ingest import build_index
from rag.errors import ModelError, RagError
from rag.index.store import open_index
from rag.settings import Settings

YOUTH = "middlesbrough-2021-03-24-executive-member-report-childrens-social-care.txt"
PARISH_PDF = DATA / "pdf-torture" / "souldern-parish" / "2024-05-23 Annual Parish Meeting minutes.pdf"


@pytest.fixture
def small_index(small_corpus, tmp_path):
    settings = Settings(corpus_dir=small_corpus, index_dir=tmp_path / "index")
    build_index(None, settings, progress=False)
    return settings


def test_uploads_are_checked_and_only_the_new_file_is_embedded(small_index):
    before = (
        open_index(small_index).manifest["built_at"],
        (small_index.index_dir / "manifest.json").stat().st_ino,
    )
    steps = []
    result = add_files(
        [
            ("../../youth service.TXT", (CORPUS / YOUTH).read_bytes()),
            ("fake.pdf", b"<html>not a pdf</html>"),
            ("notes.docx", b"PK\x03\x04"),
            ("empty.md", b""),
            ("latin.txt", "Caf\xe9".encode("latin-1")),
        ],
        small_index,
        on_progress=lambda stage, done, total: steps.append(stage),
    )
    assert [p.rsplit("/", 1)[-1] for p in result.added] == ["youth service.txt"]
    assert (
        small_index.corpus_dir / "youth service.txt"
    ).is_file()  # inside the corpus, whatever the name said
    reasons = {r["name"]: r["reason"] for r in result.rejected}
    assert "not a PDF" in reasons["fake.pdf"]
    assert "unsupported file type .docx" in reasons["notes.docx"]
    assert reasons["empty.md"] == "empty file"
    assert "UTF-8" in reasons["latin.txt"]
    assert not (small_index.corpus_dir / "fake.pdf").exists() and not list(
        small_index.corpus_dir.glob(".upload-*")
    )

    report = result.report
    assert len(report.indexed) == 1 and len(report.unchanged) == 2
    new_chunks = open_index(small_index).manifest["files"][report.indexed[0]]["chunks"]
    assert report.embedded_chunks == new_chunks < report.chunks
    assert steps and set(steps) == {"Indexing", "Reading", "Embedding"}
    assert (
        open_index(small_index).manifest["built_at"],
        (small_index.index_dir / "manifest.json").stat().st_ino,
    ) != before
    assert "Added youth service.txt" in describe_upload(result) and "Refused fake.pdf" in describe_upload(
        result
    )

    again = add_files([("copy.txt", (CORPUS / YOUTH).read_bytes())], small_index)
    assert again.added == [] and again.report is None
    assert again.rejected[0]["reason"].startswith("already in the corpus as ")
    assert again.rejected[0]["reason"].endswith("youth service.txt")


def test_an_upload_over_the_size_limit_is_refused(small_index):
    result = add_files([("big.txt", b"Council minutes. " * 200)], small_index.replace(max_file_mb=0.001))
    assert result.added == [] and "too large" in result.rejected[0]["reason"]


def test_a_failed_index_update_takes_the_upload_out_again(small_index):
    served = (
        open_index(small_index).manifest["built_at"],
        sorted(p.name for p in small_index.corpus_dir.iterdir()),
    )
    broken = small_index.replace(embedding_model="/no/such/model")
    with pytest.raises(ModelError):
        add_files([(YOUTH, (CORPUS / YOUTH).read_bytes())], broken)
    after = (
        open_index(small_index).manifest["built_at"],
        sorted(p.name for p in small_index.corpus_dir.iterdir()),
    )
    assert after == served


def test_a_real_pdf_upload_is_indexed_by_page_and_the_page_renders(small_index):
    pdf = need(PARISH_PDF)
    result = add_files([(pdf.name, pdf.read_bytes())], small_index)
    assert result.added and not result.rejected
    index = open_index(small_index)
    pages = [
        r[0]
        for r in index.query(
            "SELECT DISTINCT c.page FROM chunks c JOIN documents d USING (doc_id) WHERE d.source LIKE '%.pdf'"
        )
    ]
    assert sorted(pages) == [1, 2, 3]
    png = page_image(original_file(result.added[0]), 2, width=400).png
    assert png.startswith(b"\x89PNG") and len(png) > 5_000
    with pytest.raises(RagError, match="has 3 pages"):
        page_image(original_file(result.added[0]), 9)


def test_only_one_build_at_a_time(small_index):
    with _BUILD_LOCK, pytest.raises(RagError, match="being updated already"):
        update_index(small_index)


def test_update_index_follows_the_corpus_folder(small_index):
    shutil.copy(CORPUS / YOUTH, small_index.corpus_dir / YOUTH)
    report = update_index(small_index)
    assert report.documents == 3 and len(report.indexed) == 1
    rebuilt = update_index(small_index, rebuild=True)
    assert rebuilt.embedded_chunks == rebuilt.chunks


def test_what_the_index_holds_for_a_first_screen(corpus_index, corpus_settings, tmp_path):
    info = corpus_index.info()
    summary = describe_corpus(info)
    assert summary.startswith(
        "5 reports from Middlesbrough Council and Stockton-on-Tees Borough Council, "
        "meetings from 14 Sep 2017 to 26 Mar 2025. Index built "
    )
    assert [d.isoformat() for d in date_bounds(info)] == ["2017-09-14", "2025-03-26"]
    reports = list_reports(corpus_index)
    assert len(reports) == 5 and reports[0].date == "2025-03-26"
    assert (
        reports[-1].label()
        == "Children's Services Progress Update: Quarter 1 (April – June) – 2017/18 (Stockton-on-Tees Borough Council, 2017-09-14)"
    )

    examples = example_questions(corpus_settings, corpus_index)
    assert examples[0] == "How many children were looked after by Middlesbrough as of 10 August 2018?"
    assert len(examples) == 3
    without_readme = example_questions(corpus_settings.replace(corpus_dir=tmp_path), corpus_index)
    assert len(without_readme) == 3 and all(
        q.startswith("What do the reports say about ") for q in without_readme
    )


def test_uploaded_names_stay_inside_the_corpus_folder():
    assert safe_file_name("../../etc/passwd.PDF") == "passwd.pdf"
    assert safe_file_name("C:\\Users\\me\\Cabinet report (final).pdf") == "Cabinet report (final).pdf"
    assert safe_file_name(".hidden.md") == "hidden.md"
    assert safe_file_name("<script>.txt") == "script.txt"


def _pdf_of_pages(path, *sizes):
    from pypdf import PdfWriter

    writer = PdfWriter()
    for width, height in sizes:
        writer.add_blank_page(width=width, height=height)
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def test_a_page_of_any_size_renders_within_four_megapixels(tmp_path):
    from io import BytesIO

    from PIL import Image

    pdf = _pdf_of_pages(tmp_path / "strip.pdf", (72, 14400), (595, 842))  # a 1 x 200 inch strip, then A4
    strip = Image.open(BytesIO(page_image(pdf, 1).png))
    assert strip.width * strip.height <= 4_000_000  # 1000 px wide would be 200 Mpx (800 MB of bitmap)
    assert strip.height > 20_000  # scaled down to fit, not cut off
    a4 = Image.open(BytesIO(page_image(pdf, 2).png))
    assert a4.width == 1000  # an ordinary page as wide as asked


def _pixels(page):
    from io import BytesIO

    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(BytesIO(page.png)).convert("RGB")).astype(int)


def _quote_box(pdf, page, start, end, width=1000):
    """Where pdfium's own search finds the text from `start` to `end` on the page: (left, top,
    right, bottom) in pixels of the page rendered `width` wide (one line of text)."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(pdf))
    sheet = document[page - 1]
    text = sheet.get_textpage()
    first = text.search(start).get_next()[0]
    found = text.search(end).get_next()
    last = found[0] + found[1] - 1
    (left, _, _, top), (_, bottom, right, _) = text.get_charbox(first), text.get_charbox(last)
    scale, height = width / sheet.get_width(), sheet.get_height()
    document.close()
    return (
        round(left * scale),
        round((height - top) * scale),
        round(right * scale),
        round((height - bottom) * scale),
    )


def test_the_quoted_sentence_is_marked_on_the_page_as_the_index_has_it():
    from rag.read.pdf import read_pdf

    pdf = need(PARISH_PDF)
    indexed = read_pdf(pdf, None).pages[1]  # the text the index has, as pypdf read it
    start = indexed.index("A five year agreement")
    quote = indexed[start : indexed.index("ladies matches.") + len("ladies matches.")]
    assert "continue\nto use" in quote  # pypdf's line break (pdfium reads "\\r\\n" there)

    plain, marked = page_image(pdf, 2), page_image(pdf, 2, quote=quote)
    assert marked.marked and not plain.marked
    before, after = _pixels(plain), _pixels(marked)
    assert before.shape == after.shape == (1295, 1000, 3)

    left, top, right, bottom = _quote_box(pdf, 2, "A five year agreement", "who continue")  # its first line
    changed = (after != before).any(axis=2)
    line = changed[top + 2 : bottom - 2, left + 2 : right - 2]
    assert line.mean() > 0.95  # the whole line is tinted, the letters too
    paper = (before == 255).all(axis=2) & changed  # white paper under the highlight
    tinted = after[paper]
    assert len(tinted) > 10_000
    expected = [round(255 * (1 - HIGHLIGHT[3] / 255) + c * HIGHLIGHT[3] / 255) for c in HIGHLIGHT[:3]]
    assert abs(tinted.mean(axis=0) - expected).max() < 2  # yellow, translucent
    rows = changed.any(axis=1).nonzero()[0]
    assert top - 6 <= rows.min() and rows.max() <= bottom + 60  # its two lines, nothing else on the page
    assert not changed[: top - 6].any() and not changed[bottom + 60 :].any()


def test_a_quote_not_on_the_page_leaves_the_page_as_it_is():
    pdf = need(PARISH_PDF)
    plain = _pixels(page_image(pdf, 2))
    for page, quote in [
        (2, "Nothing like this sentence is written anywhere on that page."),
        (1, "A five year agreement was concluded with Brackley Town football club in August"),  # on page 2
        (2, "   "),
    ]:
        shown = page_image(pdf, page, quote=quote)
        assert not shown.marked
        if page == 2:
            assert (_pixels(shown) == plain).all()


def test_a_quote_is_found_whatever_the_white_space_hyphens_and_quotation_marks():
    page = "He said \u201cthe well-\r\nattended spring clean\u201d was a success\r\nin April."
    start, end = find_quote(page, '"the well- attended spring clean" was a success in April.')
    assert page[start : end + 1] == "the well-\r\nattended spring clean\u201d was a success\r\nin April"
    assert find_quote(page, "THE WELL ATTENDED") == (page.index("the"), page.index("attended") + 7)
    assert find_quote(page, "a failure in April") is None
    assert find_quote("", "anything") is None and find_quote(page, "...") is None
    # a sentence going on over the page break: its beginning on this page is marked
    start, end = find_quote(
        page, "the well attended spring clean was a success in April and in May of that year"
    )
    assert page[start : end + 1].endswith("in April")
    # but not a few words that only happen to begin the quote
    assert find_quote(page, "He said nothing of the kind to anyone at the meeting") is None
