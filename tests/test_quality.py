"""Quality on the dev question set over the sample reports (../shared/eval/questions.jsonl)."""

from conftest import EVAL, need

from rag.evaluation import evaluate, load_questions


def test_evidence_is_in_the_top_five_for_most_answerable_questions(corpus_index, corpus_settings):
    questions = load_questions(need(EVAL / "questions.jsonl"))
    figures = evaluate(corpus_index, questions, corpus_settings)
    assert figures["hit@5"] >= 0.85, figures
    assert figures["answer_accuracy"] >= 0.75, figures
    assert figures["unanswerable_refused"] == 1.0, figures
    assert figures["answerable_wrongly_refused"] <= 0.05, figures
