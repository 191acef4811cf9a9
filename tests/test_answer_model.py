"""The answer stage's question analysis (cue table), its fitted scorer (a JSON model the
trainer reproduces) and its refusals (which carry the best candidates)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.answer.extractive import ALTERNATIVES, FEATURES, answer_from_passages
from rag.answer.model import AnswerModel, load_model
from rag.data import data_file
from rag.question import analyse, cue_table
from rag.settings import Settings
from rag.types import Passage

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"


def passage(text: str, rank: int = 1, council: str | None = None, **fields) -> Passage:
    return Passage(
        rank=rank,
        chunk_id=f"c{rank}",
        doc_id=f"d{rank}",
        title=fields.get("title", "Report"),
        source="s.txt",
        council=council,
        date=fields.get("date"),
        page=1,
        paragraph=None,
        heading=None,
        text=text,
        score=0.9,
        fused_score=1.0,
    )


@pytest.mark.parametrize(
    "question, answer_type",
    [
        ("How many foster carers did Middlesbrough recruit in 2024?", "count"),
        ("What percentage of care leavers were in education?", "percent"),
        ("What was Stockton's highways maintenance budget in 2019?", "money"),
        ("When did the Immediate Assurance Plan end?", "date"),
        ("Who chairs the Strategic Improvement Board?", "person"),
        ("Which council will host Adoption Tees Valley?", "place"),
        ("Who wrote the September 2018 executive member report?", "author"),
        ("What did the cabinet decide about the library closures?", "decision"),
        ("What is Signs of Safety?", "description"),
    ],
)
def test_a_question_s_answer_type_comes_from_the_cue_table(question, answer_type):
    assert analyse(question).answer_type == answer_type
    assert answer_type in cue_table()["answer_type"]["order"]


def test_the_intent_names_what_is_counted_the_council_and_the_period():
    intent = analyse("How many foster carers did Middlesbrough recruit in May 2024?")
    assert intent.counted == ("foste", "carer")
    assert intent.council == "Middlesbrough Council"
    assert intent.periods == ("2024-05", "2024")
    assert not intent.asks_author and intent.wants("count")


def test_the_shipped_model_loads_and_names_known_features():
    model = load_model()
    assert set(model.features) <= set(FEATURES)
    assert 0.0 < model.threshold < 1.0
    assert model.training and len(model.training["sha256"]) == 64
    data = json.loads(data_file("answer_model.json").read_text(encoding="utf-8"))
    assert AnswerModel.from_dict(data) == model  # plain JSON, nothing pickled


def test_the_trainer_reproduces_the_shipped_model_from_the_training_table():
    pytest.importorskip("sklearn")
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from train_answerer import fit, load_table, shipped_rows
    finally:
        sys.path.remove(str(BENCHMARKS))
    assert fit(shipped_rows(load_table())) == load_model()


def test_probabilities_are_rounded_so_that_float_noise_does_not_reorder_ties():
    """A sentence's probability is rounded to 4 places and ties are broken by passage rank and
    position: noise of 1e-9 in a feature (another CPU's float kernels) changes nothing."""
    model = load_model()
    rows = np.random.default_rng(0).normal(size=(50, len(model.features)))
    noisy = rows + np.random.default_rng(1).uniform(-1e-9, 1e-9, size=rows.shape)
    assert (model.probabilities(rows) == model.probabilities(noisy)).all()


def test_a_refusal_carries_the_best_candidates_with_their_citations():
    """Below the threshold the answer is not_found, but the best sentences come with it, each
    with its citation, and `rag ask --json` prints them as candidates."""
    text = (
        "The council recruited 38 new foster carers in 2024 after the new campaign. "
        "The campaign ran on local radio. Carers were offered training."
    )
    answer = answer_from_passages(
        "How many foster carers did the council recruit in 2024?",
        [passage(text)],
        Settings(not_found_threshold=1.1),
    )
    assert answer.status == "not_found" and not answer.citations
    assert 1 <= len(answer.candidates) <= 3
    assert "38 new foster carers" in answer.candidates[0].text
    assert answer.candidates[0].citation.text in text
    printed = answer.to_dict()["candidates"]
    assert printed[0]["citation"]["source"] == "s.txt" and printed[0]["score"] == answer.candidates[0].score


def test_a_question_about_one_council_is_refused_from_another_council_s_reports():
    """ "How many ... in Stockton" is not answered by Middlesbrough's figure: the candidates'
    reports are all another council's."""
    answer = answer_from_passages(
        "How many children were looked after in Stockton in 2018?",
        [passage("There were 609 children looked after in 2018.", council="Middlesbrough Council")],
        Settings(not_found_threshold=0.0),
    )
    assert answer.status == "not_found" and "609" not in answer.answer
    assert answer.candidates and "609" in answer.candidates[0].text


def test_an_answer_also_offers_the_next_best_sentences_without_repeating_its_own():
    """Held out, the expected answer is often the second or third sentence: an answer carries the
    next best ones (ALTERNATIVES), never its own sentence again, nor the same words of another pack."""
    text = (
        "The council recruited 38 new foster carers in 2024 after the new campaign. "
        "In 2023 the council recruited 29 foster carers. "
        "The fostering service approved 12 connected carers in 2024."
    )
    copy = passage(text, rank=2, title="Report, supplementary pack")
    answer = answer_from_passages(
        "How many foster carers did the council recruit in 2024?",
        [passage(text), copy],
        Settings(not_found_threshold=0.0),
    )
    assert answer.status == "answered" and "38 new foster carers" in answer.answer
    assert 1 <= len(answer.candidates) <= ALTERNATIVES
    offered = [c.text for c in answer.candidates]
    assert len(set(offered)) == len(offered)
    assert not any("38 new foster carers" in line for line in offered)
    assert all(c.citation.text in text for c in answer.candidates)
    assert answer.to_dict()["candidates"][0]["text"] == offered[0]
