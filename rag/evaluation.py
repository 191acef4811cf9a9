"""Measure a question set: evidence retrieved (hit@1, hit@5, MRR@10), answers right, refusals."""

from __future__ import annotations

import json
import time
from pathlib import Path

from rag.errors import RagError
from rag.index.store import Index
from rag.qa import ask
from rag.settings import Settings
from rag.text import letters_and_digits, plain_text
from rag.types import Answer


def load_questions(path: Path) -> list[dict]:
    """The rows of a JSONL question set; each a JSON object whose question is a string."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RagError(f"cannot read question set {path}: {exc} (expected UTF-8 JSONL)") from None
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RagError(f"{path}:{number}: not JSON ({exc}): expected one JSON object per line") from None
        if not isinstance(row, dict) or not isinstance(row.get("question"), str):
            raise RagError(f"{path}:{number}: expected a JSON object with a question string")
        rows.append(row)
    return rows


def holds_evidence(question: dict, text: str) -> bool:
    """Whether `text` holds one of the question's evidence strings, compared on letters and digits
    (the sets' evidence was read from the PDFs by another extractor: its quotes, dashes, bullets,
    hyphens and line breaks differ from ours)."""
    text = letters_and_digits(text)[0]
    return any(letters_and_digits(e)[0] in text for e in question.get("evidence") or [])


def holds_answer(question: dict, text: str) -> bool:
    """Whether `text` states one of the question's expected answers (case, white space, curly
    quotes and dashes aside)."""
    text = plain_text(text)
    return any(plain_text(a) in text for a in question.get("answers") or [])


def evidence_rank(question: dict, answer: Answer) -> int | None:
    """Rank of the first passage that holds an evidence string."""
    for passage in answer.passages[:10]:
        if holds_evidence(question, passage.text):
            return passage.rank
    return None


def evaluate(index: Index, questions: list[dict], settings: Settings) -> dict:
    """Figures for a question set, and one row per question."""
    rows = []
    for question in questions:
        started = time.perf_counter()
        answer = ask(index, question["question"], settings, k=10)
        seconds = time.perf_counter() - started
        answerable = question.get("kind") != "unanswerable"
        rank = evidence_rank(question, answer) if answerable else None
        rows.append(
            {
                "id": question.get("id"),
                "answerable": answerable,
                "rank": rank,
                "status": answer.status,
                "confidence": answer.confidence,
                "correct": answerable and holds_answer(question, answer.answer),
                "cited": answerable and any(holds_evidence(question, c.text) for c in answer.citations),
                "seconds": seconds,
                "answer": answer.answer,
                "note": answer.note,
            }
        )
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]

    def share(items: list, test) -> float | None:
        return round(sum(1 for r in items if test(r)) / len(items), 3) if items else None

    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "hit@1": share(answerable, lambda r: r["rank"] == 1),
        "hit@5": share(answerable, lambda r: r["rank"] is not None and r["rank"] <= 5),
        "mrr@10": round(sum(1 / r["rank"] for r in answerable if r["rank"]) / len(answerable), 3)
        if answerable
        else None,
        "answer_accuracy": share(answerable, lambda r: r["correct"]),
        "cited_evidence": share(answerable, lambda r: r["cited"]),
        "unanswerable_refused": share(unanswerable, lambda r: r["status"] == "not_found"),
        "answerable_wrongly_refused": share(answerable, lambda r: r["status"] == "not_found"),
        "mean_latency_ms": round(1000 * sum(r["seconds"] for r in rows) / len(rows), 1) if rows else None,
        "rows": rows,
    }
