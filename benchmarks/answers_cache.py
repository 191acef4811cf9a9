"""Retrieve once per dev question and keep it: the passages the answer stage reads (search,
adjacent passages, each compared period's search), as JSON per question set, so that fitting and
cross-validating the answer stage does not rerun the cross-encoder. Deterministic for an index.

    python benchmarks/answers_cache.py QUESTIONS.jsonl INDEX_DIR OUT.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from rag.evaluation import load_questions
from rag.index.store import open_index
from rag.qa import gather
from rag.settings import Settings
from rag.types import Passage


def passages_of(items: list[Passage]) -> list[dict]:
    return [p.to_dict() for p in items]


def main(questions_path: str, index_dir: str, out: str) -> None:
    settings = Settings(index_dir=Path(index_dir))
    index = open_index(settings)
    rows = []
    for question in load_questions(Path(questions_path)):
        started = time.perf_counter()
        found = gather(index, question["question"], settings, k=10)
        rows.append(
            {
                **question,
                "asked": found.question,
                "passages": passages_of(found.result.passages),
                "adjacent": passages_of(found.adjacent),
                "by_period": {
                    period: {"question": asked, "passages": passages_of(items)}
                    for period, (asked, items) in found.by_period.items()
                },
                "retrieve_ms": round((time.perf_counter() - started) * 1000, 1),
            }
        )
        print(question.get("id"), rows[-1]["retrieve_ms"], file=sys.stderr)
    Path(out).write_text(json.dumps(rows), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:4])
