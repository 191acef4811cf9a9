"""The answer check (rag/answer/verify.py) held out by corpus: for each question set, the answer
scorer fitted on the other sets answers it from cached retrieval (as benchmarks/answers_cv.py),
the verifier model judges each answer's sentence and the next FALLBACKS sentences it offers, and
the two thresholds are chosen on the other three sets: the pair (lowest first) that gives the
most right answers less `c` times the wrong ones (`--wrong-costs`; a withdrawn answer's sentence
is still offered, so a refusal costs nothing here). One line per fold and cost, without and with
the check; then the pair chosen on all four sets (the shipped defaults) and the seconds per check.

    python benchmarks/verify_cv.py [--model qwen2.5-coder-1.5b-instruct] [--cache-dir DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from answers_eval import answer_row, figures, load_cache
from train_answerer import fit, load_table

from rag.answer.verify import FALLBACKS, checked, load_verifier
from rag.evaluation import holds_answer
from rag.settings import Settings

THRESHOLDS = [step / 50 for step in range(50)]
FALLBACK_THRESHOLDS = [step / 50 for step in range(10, 50)] + [1.01]  # 1.01: no fallback


def outcome(row: dict, threshold: float, fallback: float):
    """The checked answer of a cached row at these thresholds (the scorer's refusals unchanged)."""
    answer = row["answer"]
    if answer.status != "answered" or not answer.citations:
        return answer
    return checked(answer, row["judged"].__getitem__, threshold, fallback)


def is_right(row: dict, answer) -> bool:
    """Whether the answer holds the expected one (remembered per row and answer text)."""
    known = row.setdefault("right", {})
    if answer.answer not in known:
        known[answer.answer] = row["cached"].get("kind") != "unanswerable" and holds_answer(
            row["cached"], answer.answer
        )
    return known[answer.answer]


def gain(rows: list[dict], pair: tuple[float, float], wrong_costs: float) -> float:
    total = 0.0
    for row in rows:
        answer = outcome(row, *pair)
        if answer.status == "answered":
            total += 1 if is_right(row, answer) else -wrong_costs
    return total


def choose(rows: list[dict], wrong_costs: float) -> tuple[float, float]:
    pairs = [(t, f) for t in THRESHOLDS for f in FALLBACK_THRESHOLDS]
    return max(pairs, key=lambda pair: (gain(rows, pair, wrong_costs), -pair[0], -pair[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default="qwen2.5-coder-1.5b-instruct", help="a packaged verifier or a .gguf file"
    )
    parser.add_argument("--cache-dir", default="/tmp/answers-cache")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--wrong-costs",
        type=float,
        nargs="+",
        default=[1.0, 2.0],
        help="what a wrong answer costs, in right ones",
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
            judged: dict[str, float] = {}
            if answer.status == "answered" and answer.citations:
                sentences = [answer.citations[0].text] + [
                    c.citation.text for c in answer.candidates[:FALLBACKS]
                ]
                for sentence in sentences:
                    started = time.perf_counter()
                    judged[sentence] = verifier.probability(answer.question, sentence)
                    seconds.append(time.perf_counter() - started)
            rows.append({"set": held, "cached": cached, "answer": answer, "judged": judged})
    for wrong_costs in args.wrong_costs:
        report(rows, wrong_costs, args.json)
    summary = {
        "summary": True,
        "model": args.model,
        "thresholds_on_all_sets": {str(c): choose(rows, c) for c in args.wrong_costs},
        "check_seconds_p50": round(statistics.median(seconds), 2) if seconds else None,
        "checks": len(seconds),
    }
    print(json.dumps(summary) if args.json else summary)


def report(rows: list[dict], wrong_costs: float, as_json: bool) -> None:
    """One line per held-out set: its figures without the check and with it at the thresholds
    chosen on the other sets."""
    keys = ("answered_precision", "answer_accuracy", "unanswerable_refused", "answer_or_offered", "answered")
    for held in sorted({r["set"] for r in rows}):
        mine = [r for r in rows if r["set"] == held]
        pair = choose([r for r in rows if r["set"] != held], wrong_costs)
        cached = [r["cached"] for r in mine]
        before = figures(cached, [r["answer"] for r in mine])
        after = figures(cached, [outcome(r, *pair) for r in mine])
        fold = {
            "held_out": held,
            "wrong_costs": wrong_costs,
            "thresholds": pair,
            "without": {k: before[k] for k in keys},
            "with": {k: after[k] for k in keys},
        }
        print(json.dumps(fold) if as_json else fold, flush=True)


if __name__ == "__main__":
    main()
