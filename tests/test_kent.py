"""The Kent County Council folder (132 PDFs): citations point at the right PDF page, a report
attached to two packs comes back once, metadata filters work, and the dev question set is
answered from the top five passages. One index is built for the session (kent_index)."""

from __future__ import annotations

import json
import re

import pytest
from conftest import DATA, EVAL, need
from pypdf import PdfReader

from rag.evaluation import evaluate, load_questions
from rag.index.vectors import RECALL_TARGET, build_vector_index, search_recall, tuning_queries
from rag.models.embeddings import get_embedder
from rag.qa import ask
from rag.retrieval import search
from rag.types import Filters

KENT = DATA / "reports" / "kent-county-council"
pytestmark = pytest.mark.kent

# (question, file, PDF page, words printed on that page)
KNOWN = [
    (
        "What is the budget for external borrowing costs for 2025-26?",
        "full_council/2025-02-13/originals/Appendix M - Treasury Management Strategy 2025-26.pdf",
        17,
        "The budget for external borrowing costs for 2025-26 is £31.1m",
    ),
    (
        "What share of education, health and care plans were issued within timescale in December?",
        "cabinet/2025-03-04/originals/QPR Q3 Cabinet appendix 1.pdf",
        37,
        "In the single month of December 68% of plans (50 out of 73) were issued within timescale",
    ),
    (
        "What GVA did KCC quote for a Kent and Medway strategic authority?",
        "full_council/2025-01-09/originals/Devolution White Paper - County Council Report - FINAL.pdf",
        4,
        "a GVA of £44 billion which is larger than many city-regions",
    ),
]


def _normal(text: str) -> str:
    return " ".join(text.split()).lower()


@pytest.mark.parametrize(
    "question, name, page, words", KNOWN, ids=["treasury-p17", "qpr-p37", "devolution-p4"]
)
def test_citation_pages_are_the_pdf_pages_the_words_are_on(kent_index, question, name, page, words):
    _, index, settings = kent_index
    pdf = need(KENT / name)
    assert _normal(words) in _normal(PdfReader(pdf).pages[page - 1].extract_text())  # the PDF agrees
    answer = ask(index, question, settings, k=10)
    passages = [p for p in answer.passages if _normal(words) in _normal(p.text)]
    assert passages, [p.text[:80] for p in answer.passages]
    assert {p.page for p in passages} == {page}
    cited = [
        c for c in answer.citations if _normal(c.text) in _normal(words) or _normal(words) in _normal(c.text)
    ]
    assert all(c.page == page for c in cited)


def test_numbered_paragraphs_become_the_citation_paragraph(kent_index):
    _, index, _ = kent_index
    rows = index.query(
        "SELECT c.text, c.paragraphs FROM chunks c JOIN documents d USING (doc_id)"
        " WHERE d.source LIKE ? AND c.text LIKE ?",
        [
            "%Devo and LGR - CC Report March 2025.pdf",
            "%submit proposals for reorganisation by 28 November 2025%",
        ],
    )
    assert rows
    text, paragraphs = rows[0]
    number = re.search(r"(?m)^(\d+\.\d+)\s", text)
    assert number and number.group(1) in json.loads(paragraphs)


def test_no_running_page_numbers_are_indexed(kent_index):
    _, index, _ = kent_index
    bare = index.query(
        "SELECT count(*) FROM chunks WHERE trim(text) GLOB 'Page [0-9]*' AND length(trim(text)) < 10"
    )
    assert bare[0][0] == 0


def test_a_report_in_two_packs_is_returned_once(kent_index):
    _, index, settings = kent_index
    words = "the Council would have insufficient reserves to cover the deficit"
    result = search(index, "insufficient reserves to cover the deficit section 25 statement", settings, k=10)
    holding = [p for p in result.passages if _normal(words) in _normal(p.text)]
    assert len(holding) == 1, [p.source for p in holding]


def test_asking_for_more_passages_does_not_reorder_the_first_ones(kent_index):
    """`rag search -k 20` begins with what `-k 5` returns: the rankings fused are as deep for
    both. (They grew with k, 80 deep for 20 passages and 50 for 5, and reordered the first five
    for 17 of the 50 Kent dev questions; for this one the first of five was 16th of twenty.)"""
    _, index, settings = kent_index
    question = (
        "Roughly how much budget was expected to move to adult social care along with the 18-25 "
        "Strengthening Independence Service?"
    )
    five = [p.chunk_id for p in search(index, question, settings, k=5).passages]
    twenty = [p.chunk_id for p in search(index, question, settings, k=20).passages]
    assert len(five) == 5 and twenty[:5] == five


def test_filters_by_council_dates_and_source(kent_index):
    _, index, settings = kent_index
    query = "revenue budget overspend forecast"
    cabinet = search(index, query, settings, k=5, filters=Filters(source="*/cabinet/*"))
    assert cabinet.passages and all("/cabinet/" in p.source for p in cabinet.passages)
    march = search(index, query, settings, k=5, filters=Filters(since="2025-03-01", until="2025-03-31"))
    assert march.passages and all("2025-03-01" <= p.date <= "2025-03-31" for p in march.passages)
    assert not search(index, query, settings, k=5, filters=Filters(council="Middlesbrough")).passages
    kent = search(index, query, settings, k=5, filters=Filters(council="Kent"))
    assert {p.council for p in kent.passages} == {"Kent County Council"}


def test_kent_reports_carry_council_meeting_date_and_author(kent_index):
    _, index, _ = kent_index
    councils = index.query("SELECT DISTINCT council FROM documents")
    assert [c for (c,) in councils] == [
        "Kent County Council"
    ]  # the folder's council, Medway mentioned or not
    rows = index.query("SELECT meeting, author, date FROM documents")
    assert all(m for m, _, _ in rows) and all(d for _, _, d in rows)  # from the text, else the folders
    assert {m for m, _, _ in rows} >= {"Cabinet", "County Council"}
    assert sum(1 for _, a, _ in rows if a) >= 15  # "From: Roger Gough, Leader" where a report says


@pytest.mark.parametrize(
    "question",
    [
        "What is the 2025-26 allocation for the Early Years Block of the DSG?",
        "How much Dedicated Schools Grant does the early years block receive in 2025-26?",
    ],
)
def test_the_table_row_a_question_names_is_its_answer(kent_index, question):
    """The budget report's DSG table (page 17) has a row per funding block; the answer is the row
    the question names, not the Schools Block row or the sentence introducing the table."""
    _, index, settings = kent_index
    answer = ask(index, question, settings)
    assert answer.status == "answered", answer.answer
    assert answer.answer.startswith("Early Years Block 226.1"), answer.answer


def test_evidence_is_in_the_top_five_for_most_kent_questions(kent_index):
    _, index, settings = kent_index
    figures = evaluate(index, load_questions(need(EVAL / "questions-kent.jsonl")), settings)
    figures.pop("rows")
    assert figures["hit@5"] >= 0.40, figures  # what this ingestion gives with the skeleton's retrieval
    if figures["hit@5"] < 0.85:
        pytest.xfail(f"hit@5 {figures['hit@5']} < 0.85: the target needs better retrieval (issue 6)")


@pytest.mark.parametrize("index_type", ["ivf", "hnsw"])
def test_approximate_search_finds_what_exact_search_finds(kent_index, index_type):
    """IVF and HNSW over the Kent passages, asked the Kent dev questions: at least 95% of the exact
    top 10 come back (the effort was tuned on fragments of the passages, not on these questions)."""
    _, kent_index, _ = kent_index
    vectors = kent_index.vectors.reconstruct_n(0, kent_index.size)
    texts = [row["text"] for row in kent_index.query("SELECT text FROM chunks ORDER BY row")]
    model = kent_index.manifest["embedding_model"]
    approximate, described = build_vector_index(vectors, index_type, tuning_queries(texts, model))
    assert described["type"] == index_type and described["recall@10"] >= RECALL_TARGET
    questions = [q["question"] for q in load_questions(need(EVAL / "questions-kent.jsonl"))]
    queries = get_embedder(model).embed_queries(questions)
    assert search_recall(approximate, vectors, queries) >= RECALL_TARGET
    exact, _ = build_vector_index(vectors, "flat")
    assert search_recall(exact, vectors, queries) == 1.0
