"""A report's own bracketed references ("600 [2]", "£777,000 [7]", a footnote's "[1]") are data:
they never reach an answer, where they would point at another citation or make the citation
check refuse a good answer. Only the program writes [n]; each citation's text stays the exact
excerpt, markers and all. Real embedding model; the LLM path against a local fake endpoint."""

from __future__ import annotations

import json
import re

import pytest
from conftest import made_passage
from test_llm import FakeModel, endpoint  # noqa: F401 - the fixture

from rag.answer.extractive import answer_from_passages, citation_problems
from rag.answer.llm import build_messages, llm_answer
from rag.settings import Settings
from rag.types import Answer, Citation, Passage

HIGHWAYS = (
    "Highways Annual Report 2021\n"
    "1. The council repaired 600 [2] potholes on county roads in 2021.\n"
    "2. The resurfacing programme cost £777,000 [7] in 2021.\n"
    "3. Street lighting columns replaced: 1,250 [1]\n"
    "[1] Source: the highways asset register.\n"
    "[2] Figures from the contractor's monthly returns."
)
PARKS = "Parks Report 2021\nThe council planted 2,000 trees in its parks in 2021, up from 1,400 in 2020."


def _passage(rank: int, text: str, title: str) -> Passage:
    return made_passage(
        text,
        rank=rank,
        chunk_id=f"c{rank}",
        doc_id=f"d{rank}",
        title=title,
        source=f"corpus/{rank}.txt",
        council="Example Borough Council",
        date="2022-05",
        score=1.0 / rank,
    )


PASSAGES = [_passage(1, HIGHWAYS, "Highways Annual Report"), _passage(2, PARKS, "Parks Report")]


@pytest.mark.parametrize(
    ("question", "figure"),
    [
        ("How many potholes did the council repair in 2021?", "600"),
        ("How much did the resurfacing programme cost in 2021?", "£777,000"),
        ("How many street lighting columns were replaced?", "1,250"),  # its footnote's [1] was copied
    ],
)
def test_a_reports_own_markers_do_not_reach_the_answer(question, figure):
    answer = answer_from_passages(question, PASSAGES, Settings())
    assert answer.status == "answered", "a good answer was refused over the report's own [n]"
    assert figure in answer.answer
    for line in answer.answer.split("\n"):
        assert re.fullmatch(r"[^\[\]]+ \[\d+\]", line), line  # one marker, the program's, at the end
    assert [c.ref for c in answer.citations] == [int(r) for r in re.findall(r"\[(\d+)\]", answer.answer)]
    citation = answer.citations[0]
    assert re.search(r"\[[127]\]", citation.text) and citation.text in HIGHWAYS  # the exact excerpt
    assert not citation_problems(answer)


def test_the_citation_check_rejects_a_marker_inside_the_text():
    cited = "The council repaired 600 [2] potholes on county roads in 2021."
    citation = Citation(1, "d1", "Highways", "corpus/1.txt", None, None, None, None, cited, 1.0, 1)
    answer = Answer("Q?", f"{cited} [1]", "answered", [citation], PASSAGES, 1.0)
    assert citation_problems(answer) == ["[2] inside the answer text is not a citation marker"]


def test_the_model_never_sees_a_reports_own_markers():
    user = build_messages("Q?", PASSAGES)[1]["content"]
    assert re.findall(r"\[(\d+)\]", user) == ["1", "2"]  # the passage numbers, nothing else
    assert json.dumps("The council repaired 600 potholes on county roads in 2021.")[1:-1] in user


def test_a_model_copying_the_passage_cites_only_what_it_was_given(endpoint):  # noqa: F811
    def reply(prompt):  # a model that copies the sentence as the passage writes it
        text = json.loads(re.search(r"\[1\] \([^)]*\)\n(\".*?\")\n", prompt, flags=re.DOTALL).group(1))
        line = next(line for line in text.split("\n") if "potholes" in line)
        return re.sub(r"^\d+\.\s*", "", line) + " [1]"

    FakeModel.reply = staticmethod(reply)
    settings = Settings(answer_mode="llm", llm_url=endpoint, llm_model="fake")
    answer = llm_answer("How many potholes did the council repair in 2021?", PASSAGES, settings)
    assert answer.note is None, answer.note  # the model's own answer, not the fallback
    assert answer.answer.endswith("600 potholes on county roads in 2021. [1]")
    assert [(c.ref, c.source) for c in answer.citations] == [(1, "corpus/1.txt")]  # not the parks report
    assert answer.citations[0].text in HIGHWAYS
    assert not citation_problems(answer)
