"""rag.text: the one sentence splitter, and the comparisons the evaluation makes."""

from rag.text import letters_and_digits, plain_text, split_sentences


def _sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


def test_a_sentence_wrapped_over_printed_lines_is_one_sentence():
    minutes = (
        "1.Fixing of Venue for Annual Meeting of the Council\n\n"
        "The Mayor asked the Meetings Administrator to brief the Members on the venue options\n\n"
        "available for the hosting of the Annual Meeting.\n\n"
        "He proposed Limerick Racecourse, Patrickswell, as the venue as it could accommodate the\n\n"
        "Meeting and the associated physical distancing requirements. A query was raised."
    )
    assert _sentences(minutes) == [
        "1.Fixing of Venue for Annual Meeting of the Council",  # a heading stays apart
        (  # the next line starts in lower case
            "The Mayor asked the Meetings Administrator to brief the Members on the venue options\n\n"
            "available for the hosting of the Annual Meeting."
        ),
        (  # the line ends with "the"
            "He proposed Limerick Racecourse, Patrickswell, as the venue as it could accommodate the\n\n"
            "Meeting and the associated physical distancing requirements."
        ),
        "A query was raised.",
    ]


def test_table_rows_and_labels_stay_lines_of_their_own():
    table = "As of 10th August 2018:-\nCurrent Children Looked After (LAC): 507\nAdur 29.0%\nArun 23.8%"
    assert _sentences(table) == table.split("\n")


def test_evidence_and_answers_are_compared_as_what_they_say():
    assert plain_text("28% ‘worry about keeping warm’ – ﬁnal") == "28% 'worry about keeping warm' - final"
    ours, where = letters_and_digits("28% of the sample reported that they ‘worry\nabout keeping warm’.")
    theirs, _ = letters_and_digits("28% of the sample reported that they 'worry about keeping warm'.")
    assert ours == theirs and len(where) == len(ours)
