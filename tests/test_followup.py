from rag.followup import rewrite
from rag.qa import ask, turn_of
from rag.types import Turn

FIRST = "How many children were looked after by Middlesbrough as of 10 August 2018?"
SOURCE = "corpus/middlesbrough-2018-09-executive-member-report-childrens-care.txt"


def test_a_new_year_replaces_the_old_one():
    result = rewrite("And in March 2021?", [Turn(FIRST, (SOURCE,))])
    assert (
        result.rewritten
        and result.question == "How many children were looked after by Middlesbrough as of March 2021?"
    )


def test_a_new_council_replaces_the_old_one():
    result = rewrite("What about Stockton?", [Turn(FIRST)])
    assert result.question == "How many children were looked after by Stockton as of 10 August 2018?"


def test_a_pointer_asks_the_report_the_last_answer_cited():
    result = rewrite("Who wrote it?", [Turn(FIRST, (SOURCE,))])
    assert result.filters is not None and result.filters.source == SOURCE


def test_a_question_that_stands_alone_is_kept():
    assert not rewrite("What is Signs of Safety?", [Turn(FIRST)]).rewritten
    assert not rewrite("And in 2019?", []).rewritten


def test_a_follow_up_retrieves_the_right_report(corpus_index, corpus_settings):
    first = ask(corpus_index, FIRST, corpus_settings)
    follow = ask(corpus_index, "And in March 2021?", corpus_settings, history=[turn_of(first)])
    assert follow.rewritten_question and "March 2021" in follow.rewritten_question
    assert follow.status == "answered" and "609" in follow.answer
    assert follow.citations[0].date == "2021-03-24"


def test_who_wrote_it_is_answered_from_the_report_the_last_answer_cited(corpus_index, corpus_settings):
    """The report's author line ("Councillor Michael Carr") is a bare name, too short to pass for
    an answering sentence and far in meaning from the question; it is what "who wrote" asks for."""
    first = ask(corpus_index, FIRST, corpus_settings)
    follow = ask(corpus_index, "Who wrote it?", corpus_settings, history=[turn_of(first)])
    assert follow.status == "answered" and "Michael Carr" in follow.answer
    assert follow.citations[0].source == SOURCE and follow.citations[0].text == "Councillor Michael Carr"


def test_who_wrote_a_report_is_answered_only_for_a_report_that_is_there(corpus_index, corpus_settings):
    stockton = ask(corpus_index, "Who wrote the Stockton report?", corpus_settings)
    assert stockton.status == "answered" and "Cllr Ann McCoy" in stockton.answer
    assert stockton.citations[0].council == "Stockton-on-Tees Borough Council"
    which = ask(corpus_index, "Which councillor wrote the Stockton report?", corpus_settings)
    assert which.status == "answered" and which.citations[0].text == stockton.citations[0].text
    potholes = ask(corpus_index, "Who wrote the report on potholes?", corpus_settings)
    assert potholes.status == "not_found"


def test_who_wrote_a_report_named_by_some_of_its_words_finds_its_author(corpus_index, corpus_settings):
    answer = ask(
        corpus_index,
        "Who wrote the Middlesbrough report on children's care in September 2018?",
        corpus_settings,
    )
    assert answer.status == "answered" and answer.citations[0].text == "Councillor Michael Carr"
