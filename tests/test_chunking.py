import random

import pytest
from conftest import CORPUS, DATA, need

from rag.chunking import chunk_document, count_tokens
from rag.read.documents import load_document
from rag.types import Document

REPORTS = sorted(p for p in CORPUS.iterdir() if p.name != "README.md")


def _chunks(name: str, **sizes):
    document = load_document(CORPUS / name)
    return document, chunk_document(document, **sizes)


@pytest.mark.parametrize("path", REPORTS, ids=lambda p: p.name)
def test_every_chunk_span_slices_back_to_its_text(path):
    document = load_document(path)
    for chunk in chunk_document(document):
        assert document.text[chunk.start : chunk.end] == chunk.text
        assert chunk.doc_id == document.id


def test_spans_hold_for_random_documents_and_sizes():
    """Property: documents shuffled from real report lines, any chunk size and overlap."""
    lines = [line for path in REPORTS for line in path.read_text(encoding="utf-8").splitlines()]
    rng = random.Random(7)
    for trial in range(40):
        text = "\n".join(rng.choice(lines) for _ in range(rng.randint(1, 60)))
        if not text.strip():
            continue
        document = Document(id=f"d{trial}", source="x", title="T", council=None, date=None, text=text)
        size = rng.choice([20, 50, 120, 300])
        chunks = chunk_document(document, chunk_tokens=size, overlap=rng.choice([0, 10, 30]))
        for chunk in chunks:
            assert text[chunk.start : chunk.end] == chunk.text
        covered = "".join(text[c.start : c.end] for c in chunks)
        for word in set(text.split()) - set(covered.split()):  # nothing lost but near-repeats
            assert any(word in c.text for c in chunks) or text.count(word) > 1


def test_chunks_respect_the_token_limit():
    for path in REPORTS:
        document = load_document(path)
        for chunk in chunk_document(document, chunk_tokens=120, overlap=20):
            assert count_tokens(chunk.text) <= 120 + 10  # a line break or two between lines


def test_numbered_paragraphs_and_headings_are_kept():
    _, chunks = _chunks("middlesbrough-2021-03-24-executive-member-report-childrens-social-care.txt")
    trowler = next(c for c in chunks if "Isabelle Trowler" in c.text)
    assert "9" in trowler.paragraphs
    assert trowler.heading.endswith("Practice Standards")
    _, chunks = _chunks("middlesbrough-2025-03-26-executive-member-report-childrens-services.md")
    care = next(c for c in chunks if "there are currently 506" in c.text)
    assert care.paragraph == "16"
    assert care.heading == "Cared for Children"
    assert care.page is None  # text files have no pages


def test_the_repeated_cover_sheet_is_stored_once():
    document, chunks = _chunks("stockton-2017-09-14-cabinet-childrens-services-progress-q1.md")
    assert document.text.count("Cabinet is asked to note the report") == 2
    assert sum("Cabinet is asked to note the report" in c.text for c in chunks) == 1
    assert len({c.id for c in chunks}) == len(chunks)


def test_chunking_is_deterministic():
    document = load_document(REPORTS[0])
    assert chunk_document(document) == chunk_document(document)


def test_a_table_keeps_its_caption_and_column_headers_with_its_rows():
    """Kent's council tax table: its caption and header lines look like headings, and used to be
    cut from the rows into a chunk of their own, leaving "D 9/9 1,610.82 1,691.19" without
    "council tax" or "band" anywhere near it."""
    pdf = need(
        DATA
        / "reports/kent-county-council/full_council/2025-02-13/originals"
        / "February 2025 Kent County Council Budget Report.pdf"
    )
    document = load_document(pdf)
    row = next(c for c in chunk_document(document) if "D 9/9 1,610.82 1,691.19" in c.text)
    assert "Table 6.1" in row.text and "Council Tax Increases by Band" in row.text
    assert row.page == 20


def test_small_sections_join_the_next_one_on_the_same_page_only():
    text = "Table 2 Spending by service\nService 2024 2025\nIncrease\nRoads 10 12\nParks 3 4"
    document = Document(id="t", source="x", title="T", council=None, date=None, text=text)
    (chunk,) = chunk_document(document)  # "Increase", a column header, reads as a heading
    assert chunk.heading == "Table 2 Spending by service" and "Roads 10 12" in chunk.text
    paged = Document(
        id="p",
        source="x",
        title="T",
        council=None,
        date=None,
        text=text,
        page_starts=(0, text.index("Increase")),
    )
    assert [c.page for c in chunk_document(paged)] == [1, 2]


def test_a_vote_s_lines_in_minutes_are_no_headings():
    """Minutes list a vote's members under "For" and "Against": the passages stay under the item voted on."""
    lines = ["Election of Mayor of the City and County of Limerick", ""]
    lines += [
        "It was proposed by Councillor Butler and seconded by Councillor Byrne that Councillor Sheahan (M) be elected."
    ]
    lines += [
        "",
        "For",
        "",
        "Councillor Sheahan (J)",
        "",
        "Councillors Butler, Byrne, Collins, Costelloe (25)",
    ]
    lines += ["", "Against", "", "Councillors Hartigan, Leddin, Quinlivan (15)", ""]
    lines += [
        "The Mayor declared Councillor Sheahan (M) elected as Mayor of the City and County of Limerick."
    ]
    text = "\n".join(lines * 3)
    document = Document(
        id="m", source="minutes.pdf", title="Annual meeting", council=None, date=None, text=text
    )
    chunks = chunk_document(document, chunk_tokens=60, overlap=0)
    assert len(chunks) > 1
    assert {c.heading for c in chunks} == {"Election of Mayor of the City and County of Limerick"}


def test_a_sentence_a_window_cut_goes_through_is_whole_in_the_next_passage():
    """Minutes print each line as a paragraph of its own: the cut between two passages falls
    inside a sentence, and the next passage starts with the sentence's first line, not its last."""
    filler = [f"Item {n} was noted by the members present at the meeting of the council." for n in range(8)]
    motion = [
        "“That, Ms. Elenora Hogan, Whitethorns, Greenpark Avenue, South Circular Road,",
        "Limerick, be co-opted to the Council to fill the casual vacancy caused by the election of",
        "former Councillor, Maria Byrne, to Seanad Éireann.”",
    ]
    text = "\n\n".join(filler + motion + filler)
    document = Document(id="m", source="minutes.pdf", title="Minutes", council=None, date=None, text=text)
    chunks = chunk_document(document, chunk_tokens=150, overlap=20)
    assert len(chunks) > 1
    whole = "\n\n".join(motion[:2])
    assert any(whole in c.text for c in chunks)
    assert not any(c.text.startswith(motion[1]) for c in chunks)  # no passage opens mid-sentence
