"""Leave-one-corpus-out cross-validation of the answer stage: for each question set, fit the
answer scorer on the other sets (benchmarks/train_answerer.py, from the training table) and
measure the whole answer stage on the held-out set's cached retrieval
(benchmarks/answers_cache.py). One line per fold; the last line the summary.

    python benchmarks/answers_cv.py [--json] [--cache-dir /tmp/answers-cache]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from answers_eval import answer_row, figures, load_cache
from train_answerer import fit, load_table

from rag.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--cache-dir", default="/tmp/answers-cache")
    parser.add_argument(
        "--extra-table",
        help="more training rows (benchmarks/synthetic_questions.py); a set named syn<corpus> is left"
        " out of its corpus's fold",
    )
    args = parser.parse_args()
    rows = load_table()
    extra = load_table(Path(args.extra_table)) if args.extra_table else []
    settings = Settings()
    folds = []
    for held in sorted({r["set"] for r in rows}):
        model = fit([r for r in rows if r["set"] != held] + [r for r in extra if r["set"] != f"syn{held}"])
        cached = load_cache(Path(args.cache_dir) / f"{held}.json")
        answers, seconds = [], []
        for row in cached:
            started = time.perf_counter()
            answers.append(answer_row(row, settings, model=model))
            seconds.append(time.perf_counter() - started)
        fold = {"held_out": held, "threshold": model.threshold, **figures(cached, answers, seconds)}
        folds.append(fold)
        print(json.dumps(fold) if args.json else fold, flush=True)
    refused = [tuple(map(int, f["unanswerable_refused"].split("/"))) for f in folds]
    summary = {
        "summary": True,
        "min_answered_precision": min(f["answered_precision"] or 0.0 for f in folds),
        "unanswerable_refused": round(sum(a for a, _ in refused) / max(1, sum(b for _, b in refused)), 3),
        "answer_accuracy": {f["held_out"]: f["answer_accuracy"] for f in folds},
        "evidence_top5": {f["held_out"]: f["evidence_top5"] for f in folds},
        "answer_or_offered": {f["held_out"]: f["answer_or_offered"] for f in folds},
    }
    print(json.dumps(summary) if args.json else summary)


if __name__ == "__main__":
    main()
