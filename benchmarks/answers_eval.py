"""The answer stage over cached retrieval (benchmarks/answers_cache.py): the answer each dev
question gets and the figures `rag eval` would print for it, without searching again.

    python benchmarks/answers_eval.py CACHE.json [CACHE.json ...]   # figures of the code on PYTHONPATH
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from rag.answer.extractive import answer_from_passages
from rag.evaluation import holds_answer, holds_evidence
from rag.settings import Settings
from rag.types import Passage


def load_cache(path: str | Path) -> list[dict]:
    """The cached rows of a question set, their passages as Passage records."""
    rows = json.loads(Path(path).read_text(encoding="utf-8"))
    for row in rows:
        row["passages"] = [Passage(**p) for p in row["passages"]]
        row["adjacent"] = [Passage(**p) for p in row["adjacent"]]
        row["by_period"] = {
            period: (item["question"], [Passage(**p) for p in item["passages"]])
            for period, item in row["by_period"].items()
        }
    return rows


def answer_row(row: dict, settings: Settings, **options):
    return answer_from_passages(
        row["asked"], row["passages"], settings, row["adjacent"], row["by_period"], **options
    )


def figures(rows: list[dict], answers: list, seconds: list[float] | None = None) -> dict:
    """The figures the issue's aims name, for one question set; `answer_or_offered`: the expected
    answer is in the answer or in one of the sentences offered with it (or with a refusal)."""
    answerable = [(r, a) for r, a in zip(rows, answers) if r.get("kind") != "unanswerable"]
    unanswerable = [(r, a) for r, a in zip(rows, answers) if r.get("kind") == "unanswerable"]

    def correct(r, a) -> bool:
        return holds_answer(r, a.answer)

    given = [(r, a) for r, a in zip(rows, answers) if a.status == "answered"]
    right = sum(1 for r, a in given if r.get("kind") != "unanswerable" and correct(r, a))
    top5 = sum(1 for r, _ in answerable if any(holds_evidence(r, p.text) for p in r["passages"][:5]))
    out = {
        "questions": len(rows),
        "answered_precision": round(right / len(given), 3) if given else None,
        "answered": len(given),
        "unanswerable_refused": f"{sum(a.status == 'not_found' for _, a in unanswerable)}/{len(unanswerable)}",
        "answer_accuracy": round(sum(correct(r, a) for r, a in answerable) / len(answerable), 3),
        "cited": round(
            sum(any(holds_evidence(r, c.text) for c in a.citations) for r, a in answerable) / len(answerable),
            3,
        ),
        "evidence_top5": round(top5 / len(answerable), 3),
        "answer_or_offered": round(
            sum(correct(r, a) or any(holds_answer(r, c.text) for c in a.candidates) for r, a in answerable)
            / len(answerable),
            3,
        ),
        "wrongly_refused": round(sum(a.status == "not_found" for _, a in answerable) / len(answerable), 3),
    }
    if seconds:
        out["answer_ms_p50"] = round(1000 * statistics.median(seconds), 1)
    return out


def main(paths: list[str]) -> None:
    settings = Settings()
    for path in paths:
        rows = load_cache(path)
        answers, seconds = [], []
        for row in rows:
            started = time.perf_counter()
            answers.append(answer_row(row, settings))
            seconds.append(time.perf_counter() - started)
        print(json.dumps({"set": Path(path).stem, **figures(rows, answers, seconds)}))


if __name__ == "__main__":
    main(sys.argv[1:])
