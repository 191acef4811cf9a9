"""Quality on the dev question set over the sample reports (../shared/eval/questions.jsonl)."""

from dataclasses import replace

import pytest
from conftest import EVAL, made_passage, need

from rag.answer.extractive import answer_from_passages, citation_problems, periods_compared
from rag.evaluation import evaluate, load_questions
from rag.glossary import names_another_term, names_meant
from rag.qa import ask
from rag.settings import Settings
from rag.types import Filters, Passage

ANY_CONFIDENCE = Settings(not_found_threshold=0.0)


def one_passage(
    text: str, title: str = "Report", date: str | None = None, council: str | None = None
) -> Passage:
    """A retrieved passage made from report-like text, ranked first."""
    return made_passage(text, title=title, council=council, date=date, page=1)


def test_evidence_is_in_the_top_five_for_most_answerable_questions(corpus_index, corpus_settings):
    questions = load_questions(need(EVAL / "questions.jsonl"))
    figures = evaluate(corpus_index, questions, corpus_settings)
    assert figures["hit@5"] >= 0.85, figures
    assert figures["answer_accuracy"] >= 0.75, figures
    assert figures["unanswerable_refused"] == 1.0, figures
    # The fitted answer model (rag/data/answer_model.json) refuses 2 of the 31 (it was 0 with the
    # weights set by hand on these very questions); its candidates are shown with the refusal.
    assert figures["answerable_wrongly_refused"] <= 0.1, figures


def test_a_paragraph_number_or_a_span_of_years_is_not_the_count_asked_for():
    """ "3.1" leading a paragraph and "2025-29" are not counts: the sentence with the count wins
    (before they were told apart, the first sentence won)."""

    text = (
        "3.1 The commissioning plan for 2025-29 sets out the need for secondary school places in each district.\n"
        "A total of 38 forms of entry will be needed across the plan period."
    )
    passage = made_passage(text, title="Kent Commissioning Plan 2025-29", page=1)
    question = "How many secondary places does the commissioning plan say are needed?"
    answer = answer_from_passages(question, [passage], Settings(not_found_threshold=0.0))
    assert answer.answer == "A total of 38 forms of entry will be needed across the plan period. [1]"


def test_a_length_of_time_is_not_a_count_unless_the_question_asks_for_one():

    days = "When the Elective Home Education team learns of a new home-educated child, officers contact the family within 10 school days."
    count = "There are currently 4,798 pupils receiving education outside the school system, 26% more than a year ago."
    passage = made_passage(f"{days}\n{count}", title="Elective Home Education", page=1)
    settings = Settings(not_found_threshold=0.0)
    children = "How many home-educated children does the Elective Home Education team know of?"
    assert answer_from_passages(children, [passage], settings).answer == f"{count} [1]"
    within = "Within how many school days do officers contact the family of a new home-educated child?"
    assert answer_from_passages(within, [passage], settings).answer == f"{days} [1]"


def test_an_answer_that_ends_in_a_colon_brings_what_follows():

    text = (
        "4.1 The reason the Secretary of State gave for refusing the bid for the new bridge is as follows:\n"
        "Thank you for your letter of 3 May.\n"
        "The bid could not be funded because the site floods every winter and the costs have risen by £12m.\n"
        "4.2 Officers will prepare a revised bid."
    )
    passage = made_passage(text, title="Bridge Bid", page=1)
    answer = answer_from_passages(
        "What reason did the Secretary of State give for refusing the bridge bid?",
        [passage],
        Settings(not_found_threshold=0.0),
    )
    assert "the site floods every winter" in answer.answer and "revised bid" not in answer.answer
    assert answer.citations[0].text in text and answer.citations[0].text.startswith("4.1 The reason")


def answer_to(question: str, text: str, **passage_fields) -> str:
    """The answer to `question` from one passage of `text`, at any confidence ("" when refused)."""
    answer = answer_from_passages(question, [one_passage(text, **passage_fields)], ANY_CONFIDENCE)
    return answer.answer if answer.status == "answered" else ""


WRONG_KIND = [  # question, a sentence of the wrong kind, a sentence of the right kind, what it answers
    (
        "How many foster carers did the council recruit in 2024?",  # a rise of 12% is not a number of carers
        "Foster carer recruitment by the council rose by 12% in 2024 after the new campaign.",
        "The council recruited 38 new foster carers in 2024 after the new campaign.",
        "38 new foster carers",
    ),
    (
        "How many potholes were repaired in total during the 2024 pothole blitz?",  # awards are not potholes
        "During 2024 the hardship programme made 461 awards in total.",
        "During the 2024 blitz crews repaired 52,000 potholes in total.",
        "52,000 potholes",
    ),
    (
        "What annual fee does the council pay its external auditor, Grant Thornton?",  # a name is not an amount
        "The council's external auditor is Grant Thornton UK LLP.",
        "The annual fee paid to the external auditor, Grant Thornton, is £310,000.",
        "£310,000",
    ),
    (
        "What was the turnout in the 2025 county council elections?",  # a date is not a turnout
        "The county council elections were held on 1 May 2025.",
        "Turnout in the 2025 county council elections was 34.2%.",
        "34.2%",
    ),
]


@pytest.mark.parametrize("question, wrong, right, answered", WRONG_KIND)
def test_an_answer_of_the_wrong_kind_is_refused(question, wrong, right, answered):
    """The best sentence must be the kind of answer asked for: a count of the thing counted for
    "how many", an amount for "what annual fee", a number that is not a date for "what was the
    turnout"."""
    assert not answer_to(question, wrong)
    assert answered in answer_to(question, right)


def test_a_count_of_days_is_the_count_a_how_many_days_question_asks_for():
    assert answer_to(
        "Within how many school days do officers contact the family?",
        "Officers contact the family within 10 school days.",
    )


def test_a_question_pinned_to_a_month_is_answered_from_that_month():
    """ "In May 2025" is answered from a passage that names May 2025 or whose meeting was then;
    a count from another month's report is not the answer."""
    question = "How many people voted in the May 2025 county council elections?"
    assert not answer_to(
        question,
        "The youth council elections held in November 2024 saw 22,866 young people voting.",
        date="2025-01-30",
    )
    assert "412,000" in answer_to(
        question, "In the county council elections of 1 May 2025, 412,000 people voted.", date="2025-06-12"
    )
    assert "412,000" in answer_to(
        question, "At the elections this month 412,000 people voted across the county.", date="2025-05-22"
    )


def test_a_question_that_names_a_year_is_answered_from_that_year():
    """ "In 2016" is not answered by a sentence that gives another year's figure, nor by a
    current figure of a later report; a sentence of that year, a financial year that spans it, or
    an undated sentence of a report of that year is."""
    question = "How many suicides were registered in West Sussex in 2016?"
    other_year = one_passage("In 2011 there were 62 suicides registered in West Sussex.", date="2017-03")
    refused = answer_from_passages(question, [other_year], ANY_CONFIDENCE)
    assert refused.status == "not_found" and refused.candidates  # offered, and the refusal says why
    assert refused.note == "No sentence of 2016 was found to answer it; those below are of other years."
    assert not answer_to(
        question,
        "In 2011 there were 62 deaths registered in West Sussex with suicide as the cause.",
        date="2017-03",
    )
    assert not answer_to(question, "There are currently 71 suicides registered each year.", date="2024-05")
    assert "74" in answer_to(
        question, "In 2016 there were 74 suicides registered in West Sussex.", date="2017-03"
    )
    assert "74" in answer_to(
        question, "In 2016/17 there were 74 suicides registered in West Sussex.", date="2018-01"
    )
    assert "74" in answer_to(question, "There were 74 suicides registered in West Sussex.", date="2016-11")
    assert "74" in answer_to(
        question, "Over 2014-16 there were 74 suicides registered in West Sussex.", date="2017-03"
    )
    care_act = "How many carers' assessments followed the Care Act 2014?"
    assert "1,200" in answer_to(
        care_act, "In 2016 there were 1,200 carers' assessments under the Care Act.", date="2017-03"
    )


def test_a_question_about_one_council_is_not_answered_from_another_council_s_report(
    corpus_index, corpus_settings
):
    """Where the reports of the council asked are among the passages, another council's figure is
    no answer, however well it fits the rest of the question: the sample reports give no
    Middlesbrough figure for 2017, and Stockton's 433 of June 2017 is offered, not given."""
    middlesbrough = ask(
        corpus_index, "How many children were in care in Middlesbrough in 2017?", corpus_settings
    )
    assert middlesbrough.status == "not_found", middlesbrough.answer
    assert any(s.citation.council == "Middlesbrough Council" for s in middlesbrough.candidates)
    stockton = ask(corpus_index, "How many children were in care in Stockton in 2017?", corpus_settings)
    assert "433" in stockton.answer, stockton.answer
    passages = [
        made_passage(
            "Middlesbrough's children's services were inspected by Ofsted.", council="Middlesbrough Council"
        ),
        made_passage(
            "There were 433 children in our care.",
            council="Stockton-on-Tees Borough Council",
            rank=2,
            chunk_id="s",
        ),
    ]
    refused = answer_from_passages(
        "How many children were in care in Middlesbrough?", passages, ANY_CONFIDENCE
    )
    assert refused.status == "not_found"
    assert refused.note == (
        "No sentence of Middlesbrough Council's reports was found to answer it; those below are other councils'."
    )


def test_an_answer_that_shares_no_word_with_the_question_is_refused():
    """An amount for something else (veterans' homes) is not the cost of the park-and-ride, even
    though it is an amount in the right council's report; the council's own name does not count
    as a shared word."""
    question = "How much did it cost KCC to run the park-and-ride over Christmas?"
    kent = {"council": "Kent County Council"}
    assert not answer_to(
        question, "During 2024, KCC's hardship programme allocated £46,100.00 to veterans' homes.", **kent
    )
    assert "£120,000" in answer_to(
        question, "Running the park-and-ride over Christmas cost KCC £120,000.", **kent
    )


def test_the_sentence_after_the_matching_passage_can_answer():
    """The passage that matches announces the scheme; the next one in the report says what paid
    for it. Its sentence is cited, and its passage joins the answer's passages after the others."""
    question = "How big was the government grant paying for the new smoke-free spaces?"
    matching = one_passage(
        "(c) New smoke-free spaces were due to launch across the county, including parks,"
        " play areas and outside schools."
    )
    after = replace(
        one_passage(
            "The project was funded by a £1.9 million grant from the government to reduce smoking rates."
        ),
        rank=2,
        chunk_id="c2",
    )
    alone = answer_from_passages(question, [matching], ANY_CONFIDENCE)
    assert "£1.9 million" not in alone.answer
    answer = answer_from_passages(question, [matching], ANY_CONFIDENCE, [after])
    assert "£1.9 million grant" in answer.answer and answer.status == "answered"
    assert [p.chunk_id for p in answer.passages] == ["c", "c2"]
    assert answer.citations[0].passage_rank == 2 and not citation_problems(answer)


def test_a_table_row_reads_every_line_of_its_column_headers_and_no_prose():
    """Layout extraction cuts a header cell into lines and blank lines ("2025-26" / "(incl.
    increase in" / "ASCL)"); all of them name the row's figures. A row with a negative figure is
    a row, not a header; the prose above a table is not its header, nor is the prose above a
    sentence that ends in a footnote number."""
    from rag.answer.extractive import _table_header

    table = (
        "6.4 The increases by band are shown in the table below, with the charge for each band of property.\n"
        "Table 6.1 – Proposed Council Tax Increases by Band\nBand Proportion of\nBand D Tax Rate\n2024-25\n"
        "(incl. ASCL)\n\n£p\n2025-26\n(incl. increase in\nASCL)\n£p\nIncrease\n\n£p\n"
        "C 8/9 1,431.84 1,503.28 71.44\nCSSB 12.2 12.3 -0.1\nD 9/9 1,610.82 1,691.19 80.37"
    )
    header = _table_header(table, table.index("D 9/9"))
    assert header.startswith("Table 6.1 – Proposed Council Tax Increases by Band Band Proportion of")
    assert "2025-26 (incl. increase in ASCL) £p Increase £p" in header and "6.4" not in header
    prose = (
        "The budget for external borrowing costs for 2025-26 is £31.1m based on the current debt portfolio.\n"
        "The budget for net investment income in 2025-26 is £11.5m at an average interest rate of 4.00%. 1"
    )
    assert _table_header(prose, prose.index("The budget for net")) == ""


def test_a_sentence_that_mentions_a_councillor_is_not_who_wrote_the_report():
    """ "Who wrote ..." is answered only by a line that is a name with its title (and perhaps its
    role), from the report the question names; a sentence about what a councillor did is not."""
    from rag.answer.extractive import _names_an_author

    for line in (
        "Councillor Michael Carr",
        "Cllr Ann McCoy – Cabinet Member for Children and Young People",
        "EXECUTIVE MEMBER: Cllr Luke Henman, Executive Member for Children's Services",
        "From: Director of Children's Services",
    ):
        assert _names_an_author(line), line
    for line in (
        "Councillor Smith asked about the potholes on Marton Road.",
        "Professor Munro found that social work was too bureaucratic",
        "From: 1 April 2025 the charges rise",
    ):
        assert not _names_an_author(line), line
    minutes = one_passage(
        "2. Councillor Smith asked about the potholes on Marton Road.\n3. The repairs cost £12,000.",
        title="Highway Pothole Repairs Report",
        council="Example Borough Council",
    )
    answer = answer_from_passages("Who wrote the pothole repairs report?", [minutes], ANY_CONFIDENCE)
    assert answer.status == "not_found", answer.answer


def test_a_question_that_compares_periods_gets_the_line_of_each_in_date_order(corpus_index, corpus_settings):
    """Each period compared is searched in its own month with its own part of the question, and
    the answer is one line of each, in date order, nothing from other years. (Before, the lines
    were the best of any report close in score: a 2017 line on domestic abuse, a 2018 line on
    how rates are calculated, a 2025 line without a count.)"""
    question = "How did the number of children in care change between September 2017 and March 2025?"
    assert periods_compared(question) == [
        ("2017-09", "How did the number of children in care change between September 2017?"),
        ("2025-03", "How did the number of children in care change and March 2025?"),
    ]
    assert periods_compared("What changed between 2017 and 2018 in the number of children in care?") == [
        ("2017", "What changed between 2017 in the number of children in care?"),
        ("2018", "What changed and 2018 in the number of children in care?"),
    ]
    answer = ask(corpus_index, question, corpus_settings)
    assert answer.status == "answered" and not citation_problems(answer)
    assert [c.date[:7] for c in answer.citations] == ["2017-09", "2025-03"]
    assert "433 children" in answer.answer and "506 children" in answer.answer
    assert [p for p, _ in periods_compared("How did the budget change between January and March 2025?")] == [
        "2025-01",
        "2025-03",
    ]
    assert [
        p
        for p, _ in periods_compared(
            "How many children were in care in Stockton in 2017 and in Middlesbrough in 2018?"
        )
    ] == ["2017", "2018"]
    for one_part in (
        "How many children were in care in 2018?",
        "How did the cost of 2000 homes change in 2019?",
        "What did each council spend in 2019 on the A2070 road?",
    ):
        assert periods_compared(one_part) == [], one_part


def test_a_sentence_that_names_the_question_s_term_another_way_shares_its_words(
    corpus_index, corpus_settings
):
    """The glossary's names for one thing count as the question's words in the answer scorer:
    "children looked after" is answered by "children in our care"."""
    assert names_meant(
        "How many children in care were there?", "Current Children Looked After (LAC): 507"
    ) == ["children in care"]
    assert names_meant("How many children in care were there?", "Current Child Protection (CP): 224") == []
    answer = ask(
        corpus_index,
        "How did the number of children looked after change between 2017 and 2025?",
        corpus_settings,
    )
    assert "433" in answer.answer and "506" in answer.answer, answer.answer
    assert "276" not in answer.answer and "307" not in answer.answer  # child protection: another measure
    # By a margin that float noise (±1e-3, another CPU's kernels) cannot close: the 2017 count of
    # children in care beats the child-protection sentence of the same report clearly.
    from rag.answer.extractive import _score_candidates
    from rag.answer.model import load_model
    from rag.question import analyse
    from rag.retrieval import search

    asked = "How did the number of children looked after change between 2017?"
    passages = search(
        corpus_index, asked, corpus_settings, k=5, filters=Filters(since="2017", until="2017")
    ).passages
    pool = _score_candidates(analyse(asked), passages, corpus_settings, load_model())
    counts = [c for c in pool if "433" in c.text]
    others = [c for c in pool if "433" not in c.text and "276" in c.text]
    assert counts and others and counts[0].score - others[0].score >= 0.01, (counts[:1], others[:1])


def test_a_line_about_another_glossary_term_is_another_measure():
    """Per-period lines keep to the measure asked, whatever the scores (which differ by CPU)."""
    question = "How did the number of children looked after change between 2017 and 2025?"
    assert names_another_term(
        question, "In June 2017 the number of children subject to a child protection plan was 276"
    )
    assert not names_another_term(question, "There were 433 children in our care at the end of June 2017.")
    assert not names_another_term(question, "Children in care and on child protection plans: 433 and 276")
    assert not names_another_term(question, "The total was 433.")  # names no term: not another one
    assert not names_another_term("What was the total cost?", "a child protection plan")  # no term asked
    for hub in (
        "The multi-agency children's hub took 300 calls.",
        "The multi-agency children’s hub took 300 calls.",
    ):
        assert names_another_term(question, hub)  # either apostrophe
    assert names_another_term(question, "Number of foster carers: 80, looking after a total of 178 children")
