"""The answer check (rag/answer/verify.py) held out by corpus: for each question set, the answer
scorer fitted on the other sets answers it from cached retrieval (as benchmarks/answers_cv.py),
the verifier model judges each answer's sentence once, and the threshold is chosen on the other
three sets (most right answers less twice the wrong ones: a wrong answer costs twice what a
right one gains, since a withdrawn answer's sentence is still offered). One line per fold, without
and with the check; then the threshold chosen on all four sets (the shipped default) and the
seconds per check.

    python benchmarks/verify_cv.py --model qwen2.5-coder-1.5b-instruct [--cache-dir DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from answers_eval import answer_row, figures, load_cache
from train_answerer import fit, load_table

from rag.answer.verify import judged, load_verifier
from rag.evaluation import holds_answer
from rag.settings import Settings

GRID = [step / 50 for step in range(50)]


def gain(rows: list[dict], threshold: float, wrong_costs: float) -> float:
    """Right answers less `wrong_costs` times the wrong ones, with the check at `threshold`."""
    total = 0.0
    for row in rows:
        if row["answer"].status == "answered" and row["probability"] >= threshold:
            total += 1 if row["right"] else -wrong_costs
    return total


def choose(rows: list[dict], wrong_costs: float) -> float:
    """The lowest threshold of GRID with the greatest gain on `rows`."""
    return max(GRID, key=lambda t: (gain(rows, t, wrong_costs), -t))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default="qwen2.5-coder-1.5b-instruct", help="a packaged verifier or a .gguf file"
    )
    parser.add_argument("--cache-dir", default="/tmp/answers-cache")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--wrong-costs", type=float, nargs="+", default=[2.0], help="what a wrong answer costs, in right ones"
    )
    args = parser.parse_args()
    table = load_table()
    settings = Settings()
    verifier = load_verifier(args.model)
    rows, seconds = [], []
    for held in sorted({r["set"] for r in table}):
        model = fit([r for r in table if r["set"] != held])
        for cached in load_cache(Path(args.cache_dir) / f"{held}.json"):
            answer = answer_row(cached, settings, model=model)
            probability = 1.0
            if answer.status == "answered" and answer.citations:
                started = time.perf_counter()
                probability = verifier.probability(answer.question, answer.citations[0].text)
                seconds.append(time.perf_counter() - started)
            right = cached.get("kind") != "unanswerable" and holds_answer(cached, answer.answer)
            rows.append(
                {"set": held, "cached": cached, "answer": answer, "probability": probability, "right": right}
            )
    for wrong_costs in args.wrong_costs:
        report(rows, wrong_costs, args.json)
    summary = {
        "summary": True,
        "model": args.model,
        "threshold_on_all_sets": {str(c): choose(rows, c) for c in args.wrong_costs},
        "check_seconds_p50": round(statistics.median(seconds), 2) if seconds else None,
        "checks": len(seconds),
    }
    print(json.dumps(summary) if args.json else summary)


def report(rows: list[dict], wrong_costs: float, as_json: bool) -> None:
    """One line per held-out set: its figures without the check and with it at the threshold
    chosen on the other sets."""
    for held in sorted({r["set"] for r in rows}):
        mine = [r for r in rows if r["set"] == held]
        threshold = choose([r for r in rows if r["set"] != held], wrong_costs)
        cached = [r["cached"] for r in mine]
        before = figures(cached, [r["answer"] for r in mine])
        after = figures(cached, [judged(r["answer"], r["probability"], threshold) for r in mine])
        keys = (
            "answered_precision",
            "answer_accuracy",
            "unanswerable_refused",
            "answer_or_offered",
            "answered",
        )
        fold = {
            "held_out": held,
            "wrong_costs": wrong_costs,
            "threshold": threshold,
            "without": {k: before[k] for k in keys},
            "with": {k: after[k] for k in keys},
        }
        print(json.dumps(fold) if as_json else fold, flush=True)


if __name__ == "__main__":
    main()
