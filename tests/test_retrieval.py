"""Keyword search, fusion, reranking and the council glossary, on real report text."""

import math
import re
import sqlite3

import pytest

from rag.build.ingest import build_index
from rag.errors import SettingsError
from rag.glossary import expand_question, glossary, related_terms
from rag.index.store import open_index
from rag.models.rerank import rerank_scores
from rag.retrieval import adjacent_passages, month_named, rerank, search
from rag.settings import Settings
from rag.text import query_terms
from rag.types import Filters, Passage


def test_fts5_bm25_matches_a_reference_computation():
    """SQLite's bm25() against BM25 computed by hand on a tiny corpus, with the constants and the
    IDF that the FTS5 documentation gives: k1 = 1.2, b = 0.75, IDF = ln((N - n + 0.5) / (n + 0.5)),
    floored at 1e-6 for a term in more than half the documents."""
    docs = [
        "children looked after children",
        "children in need",
        "foster carers recruited",
        "budget outturn children",
    ]
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(text)")
    db.executemany("INSERT INTO t(rowid, text) VALUES (?, ?)", list(enumerate(docs)))
    query = ["children", "need"]
    found = dict(db.execute("SELECT rowid, -bm25(t) FROM t WHERE t MATCH 'children OR need'").fetchall())

    lengths = [len(d.split()) for d in docs]
    average = sum(lengths) / len(docs)

    def reference(i: int) -> float:
        score = 0.0
        for term in query:
            n = sum(term in d.split() for d in docs)
            idf = max(math.log((len(docs) - n + 0.5) / (n + 0.5)), 1e-6)
            tf = docs[i].split().count(term)
            score += idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * lengths[i] / average))
        return score

    assert found.keys() == {0, 1, 3}
    for row, score in found.items():
        assert math.isclose(score, reference(row), rel_tol=1e-6)


def test_hybrid_finds_an_exact_term_that_dense_alone_ranks_low(corpus_index, corpus_settings):
    """'MHCLG' is a rare acronym: the keyword ranking holds the passage first, the dense one not
    in its top 5, and the fused ranking keeps it in the top 5."""
    question = "Which areas did MHCLG shortlist?"
    needle = "Communities and Local Government (MHCLG), who are leading the programme"
    dense = search(corpus_index, question, corpus_settings.replace(retrieval="dense", rerank=False), k=5)
    hybrid = search(corpus_index, question, corpus_settings.replace(retrieval="hybrid", rerank=False), k=5)
    keyword = search(corpus_index, question, corpus_settings.replace(retrieval="keyword", rerank=False), k=5)
    assert needle in keyword.passages[0].text
    assert any(needle in p.text for p in hybrid.passages)
    assert not any(needle in p.text for p in dense.passages)


def test_hybrid_finds_a_paraphrase_that_keyword_alone_misses(corpus_index, corpus_settings):
    """No word of the question is in the passage about 61 staff "selfisolating" with COVID."""
    question = "employees quarantining during the pandemic"
    needle = "61 members of staff"
    keyword = search(corpus_index, question, corpus_settings.replace(retrieval="keyword", rerank=False), k=5)
    hybrid = search(corpus_index, question, corpus_settings.replace(retrieval="hybrid", rerank=True), k=5)
    assert not any(needle in p.text for p in keyword.passages)
    assert any(needle in p.text for p in hybrid.passages)


def test_reranker_loads_offline_and_orders_a_known_pair():
    scores = rerank_scores(
        "How many children were looked after in August 2018?",
        [
            "The weather in Middlesbrough was mild this spring.",
            "Current Children Looked After (LAC): 507 (Rate = 156.5)",
        ],
    )
    assert scores[1] > 0 > scores[0]


def test_reranking_puts_the_answer_first(corpus_index, corpus_settings):
    result = search(
        corpus_index,
        "Which council seconded a Family Group Conferencing manager to Stockton?",
        corpus_settings,
        k=3,
    )
    assert "Lincolnshire" in result.passages[0].text
    assert result.passages[0].rerank_score is not None and "rerank" in result.timings_ms


def test_reranking_keeps_the_hybrid_rankings_best_among_those_shown(corpus_index, corpus_settings):
    """The cross-encoder alone pushes the hybrid ranking's second and third passages out of the
    top 5 for this question; with rerank_keep = 3 they stay in it, the cross-encoder's own first
    passage stays first, and the five are in the cross-encoder's order."""
    question = "What proportion of single assessments were completed within timescales in Stockton?"
    hybrid = search(corpus_index, question, corpus_settings.replace(rerank=False), k=3).passages
    alone = search(corpus_index, question, corpus_settings.replace(rerank_keep=0), k=5).passages
    kept = search(corpus_index, question, corpus_settings.replace(rerank_keep=3), k=5).passages
    hybrid_ids = [p.chunk_id for p in hybrid]
    assert not set(hybrid_ids) <= {p.chunk_id for p in alone}  # the case the setting is for
    assert set(hybrid_ids) <= {p.chunk_id for p in kept}
    assert kept[0].chunk_id == alone[0].chunk_id
    scores = [p.rerank_score for p in kept]
    assert scores == sorted(scores, reverse=True)


def test_the_reranker_reads_the_meeting_date():
    """Two reports with the same sentence: the one from the meeting the question names comes first."""

    def passage(rank: int, date: str) -> Passage:
        return Passage(
            rank=rank,
            chunk_id=f"c{rank}",
            doc_id=f"d{rank}",
            title="Minutes",
            source=f"{rank}.pdf",
            council="Kent County Council",
            date=date,
            page=1,
            paragraph=None,
            heading="Election of Chair",
            text="Mr Gough proposed that Mr Cooke be elected to chair the meeting. Agreed.",
            score=0.5,
        )

    question = "Who was elected to chair the council meeting in January 2025?"
    ranked = rerank(question, [passage(1, "2024-12-19"), passage(2, "2025-01-09")])
    assert [p.date for p in ranked] == ["2025-01-09", "2024-12-19"]


def test_acronym_expansion_finds_children_looked_after(corpus_index, corpus_settings):
    assert "children looked after" in related_terms("How many LAC were there?")
    assert "LAC" not in related_terms("A lace-making class")  # acronyms match in capitals only
    result = search(corpus_index, "How many LAC did Middlesbrough have in March 2021?", corpus_settings, k=5)
    assert any("Children Looked After which stands at 609" in p.text for p in result.passages)


def test_glossary_is_data_with_meanings():
    terms = glossary()
    assert len(terms) >= 30 and all(t.meaning for t in terms)
    assert expand_question("What is the EHCP backlog?").startswith("What is the EHCP backlog? (")


def test_query_terms_drop_stopwords():
    assert query_terms("How many children were looked after in 2018?") == ["children", "looked", "2018"]


def test_keyword_search_leaves_out_the_commonest_words_past_its_budget(corpus_index):
    """In a large index a common word makes BM25 score most chunks; past a budget of postings the
    commonest words are left out, the rarest kept. Chunk counts here come from FTS5 itself."""

    def chunks_holding(word: str) -> int:
        return corpus_index.query("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", [f'"{word}"'])[
            0
        ][0]

    terms = ["council", "mhclg", "children", "shortlisted"]
    assert chunks_holding("council") > chunks_holding("children") > 50 > chunks_holding("shortlisted")
    assert corpus_index.affordable_terms(terms, max_postings=10**9) == terms
    assert corpus_index.affordable_terms(terms, max_postings=chunks_holding("children")) == [
        "mhclg",
        "children",
        "shortlisted",
    ]
    assert corpus_index.affordable_terms(terms, max_postings=1) == ["mhclg", "shortlisted"]
    needle = "Communities and Local Government (MHCLG), who are leading the programme"
    for budget in (0, 1):
        best = corpus_index.keyword_search(terms, 1, max_postings=budget)[0][0]
        assert needle in corpus_index.chunk_rows([best])[best]["text"]


def test_adjacent_passages_are_the_chunks_around_a_passage_in_its_report(corpus_index, corpus_settings):
    passages = search(
        corpus_index, "How many children were looked after in Stockton?", corpus_settings, k=3
    ).passages
    adjacent = adjacent_passages(corpus_index, passages, 1)
    doc = corpus_index.query("SELECT doc_id FROM chunks WHERE chunk_id = ?", [passages[0].chunk_id])[0][
        "doc_id"
    ]
    ordered = [
        r["chunk_id"]
        for r in corpus_index.query("SELECT chunk_id FROM chunks WHERE doc_id = ? ORDER BY start", [doc])
    ]
    at = ordered.index(passages[0].chunk_id)
    around = set(ordered[max(at - 1, 0) : at + 2]) - {p.chunk_id for p in passages}
    assert around and {p.chunk_id for p in adjacent} == around
    assert all(p.doc_id == doc and p.score == passages[0].score for p in adjacent)
    assert [p.rank for p in adjacent] == list(range(len(passages) + 1, len(passages) + len(adjacent) + 1))


@pytest.mark.parametrize(
    "given, message",
    [
        ({"since": "2021-02-30"}, "not a date on the calendar"),
        ({"until": "2023-02-29"}, "not a date on the calendar"),
        ({"since": "2021-13"}, "not a date on the calendar"),
        ({"since": "21-02-01"}, "is not a date: use YYYY-MM-DD"),
        ({"until": ""}, "is not a date"),
        ({"since": "2021-07", "until": "2021-06-30"}, "since 2021-07 is after until 2021-06-30"),
    ],
)
def test_filters_refuse_dates_no_meeting_can_have(given, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        Filters(**given)


def test_filters_take_whole_years_months_and_leap_days():
    assert Filters(since="2024-02-29", until="2024-02-29").describe() == "2024-02-29"
    assert Filters(council="Stockton", since="2021-06", until="2021-06-30").describe() == (
        "council = Stockton, 2021-06 to 2021-06-30"
    )
    assert Filters(since="2020").describe() == "from 2020"


def test_month_named_is_one_month_with_its_year_and_no_day():
    assert month_named("Who became Mayor at the annual meeting of June 2019?") == "2019-06"
    assert month_named("How many children were looked after as of 10 August 2018?") is None  # a day
    assert month_named("How did it change between January 2025 and March 2025?") is None  # two months
    assert month_named("What was agreed in 2019?") is None


def test_the_reports_of_the_month_a_question_names_are_read_beside_the_best_of_all(tmp_path):
    """Minutes state the mayor elected in a line that names neither the meeting nor its year; the
    minutes' date does. Thirty other years' minutes say who was elected Mayor at their annual
    meeting in those very words, so the line is not among the passages the whole index ranks
    best: the month the question names brings its reports' passages to the cross-encoder."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    names = ["Ryan", "Walsh", "Byrne", "Kelly", "Daly", "Quinn", "Nolan", "Burke", "Hayes", "Moran"]
    topics = [
        "roads",
        "housing",
        "libraries",
        "finance",
        "planning",
        "parks",
        "water",
        "fire",
        "arts",
        "sport",
        "tourism",
        "schools",
    ]
    for n in range(30):
        year, month, name = 1980 + n, n % 12 + 1, names[n % 10]
        business = ", ".join(topics[(n + i) % 12] + f" item {n * 7 + i}" for i in range(4))  # no two alike
        (corpus / f"{year}-{month:02d}-10-minutes.md").write_text(
            "# Minutes of the annual meeting\n\nLimerick City and County Council\n\n"
            f"1. At the annual meeting of {year}, Councillor {name} was elected Mayor. Business: {business}.\n",
            encoding="utf-8",
        )
    (corpus / "2019-06-07-minutes.md").write_text(
        "# Minutes of proceedings\n\nLimerick City and County Council\n\n"
        "1. The notice convening the proceedings was read. Apologies were received from two"
        " councillors. The minutes of the previous proceedings were adopted on the proposal of"
        " Councillor Ryan, seconded by Councillor Walsh. Correspondence from the Department on road"
        " grants, water services and the library review was noted, and the schedule of works for the"
        " coming quarter was circulated to members. The Meetings Administrator then declared"
        " Councillor Murphy elected as Mayor.\n",
        encoding="utf-8",
    )
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", rerank_depth=12)
    build_index(None, settings, progress=False)
    index = open_index(settings)
    question = "Who was elected Mayor at the annual meeting of June 2019?"
    found = search(index, question, settings, k=10).passages
    assert "declared Councillor Murphy elected as Mayor" in found[0].text
    assert len({p.chunk_id for p in found}) == len(found)  # read twice, shown once
    without = search(index, question.replace(" of June 2019", ""), settings, k=10).passages
    assert not any("Councillor Murphy" in p.text for p in without[:5])  # the month is what brings it
