"""Fit the answer scorer (rag/data/answer_model.json) from the dev question sets.

Two steps. `table` reads the cached retrieval of each question set (benchmarks/answers_cache.py)
and writes one row per question: its candidates' features (rag.answer.extractive.FEATURES) and
whether each holds an expected answer, to benchmarks/answer_training.jsonl. `fit` reads that
table and writes the model: a logistic regression on standardised features, and the refusal
threshold chosen by leave-one-set-out within the training sets. `fit` on the shipped table
reproduces the shipped model exactly (tests/test_answer_model.py checks it).

    python benchmarks/train_answerer.py table /tmp/answers-cache/{sample,kent,wsx,limerick}.json
    python benchmarks/train_answerer.py fit
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from rag.answer.extractive import ANSWER_PASSAGES, FEATURES, candidate_features, without_markers
from rag.answer.model import AnswerModel
from rag.data import data_file
from rag.evaluation import holds_answer
from rag.question import analyse

HERE = Path(__file__).parent
TABLE = HERE / "answer_training.jsonl"
C = 0.03
"""Inverse strength of the L2 penalty."""
WRONG_COST = 0.5
"""The threshold maximises right answers less WRONG_COST times wrong ones (a wrong answer with a
citation costs a reader more than a refusal that shows the candidates)."""
SHIPPED_SETS = ("kent", "limerick", "sample", "wsx")
"""The sets the shipped model is fitted on: all four dev sets (the cross-validation fits on three
and measures the fourth)."""
GATE = True
"""Whether the best candidate must also pass the answer-type checks."""


def table(cache_paths: list[str], out: Path = TABLE) -> None:
    """One line per question of each cached set: {set, id, kind, labels, features}."""
    from answers_eval import load_cache  # benchmarks/ is the script's folder

    lines = []
    for path in cache_paths:
        name = Path(path).stem
        for row in load_cache(path):
            intent = analyse(row["asked"])
            passages = tuple(row["passages"][:ANSWER_PASSAGES] + row["adjacent"])
            spans, features = candidate_features(intent, passages)
            answerable = row.get("kind") != "unanswerable"
            labels = [
                int(answerable and holds_answer(row, without_markers(p.text[s:e]))) for p, s, e in spans
            ]
            lines.append(
                json.dumps(
                    {
                        "set": name,
                        "id": row["id"],
                        "kind": row.get("kind"),
                        "labels": labels,
                        "features": features,
                    }
                )
            )
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def load_table(path: Path = TABLE) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _fit_weights(
    rows: list[dict], names: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    columns = [FEATURES.index(n) for n in names]
    x = np.asarray([f for r in rows for f in r["features"]], dtype=float)[:, columns]
    y = np.asarray([label for r in rows for label in r["labels"]])
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    fitted = LogisticRegression(C=C, max_iter=5000, solver="lbfgs").fit((x - mean) / scale, y)
    return mean, scale, fitted.coef_[0], float(fitted.intercept_[0])


def _model(rows, names, threshold, training=None) -> AnswerModel:
    mean, scale, coef, intercept = _fit_weights(rows, names)
    return AnswerModel(
        names,
        tuple(round(float(v), 6) for v in mean),
        tuple(round(float(v), 6) for v in scale),
        tuple(round(float(v), 6) for v in coef),
        round(intercept, 6),
        threshold,
        GATE,
        training,
    )


def best_of(model: AnswerModel, row: dict) -> tuple[float, int]:
    """The best candidate's probability and label for one question (no candidate: 0, 0)."""
    if not row["features"]:
        return 0.0, 0
    columns = [FEATURES.index(n) for n in model.features]
    probabilities = model.probabilities(np.asarray(row["features"], dtype=float)[:, columns])
    best = int(np.argmax(probabilities))  # the first of equals: candidates are in passage order
    return float(probabilities[best]), row["labels"][best]


def choose_threshold(rows: list[dict], names: tuple[str, ...]) -> float:
    """The threshold that maximises right - WRONG_COST * wrong over the training sets, each set's
    best candidates scored by a model fitted on the other training sets."""
    sets = sorted({r["set"] for r in rows})
    scored = []
    for held in sets if len(sets) > 1 else []:
        inner = _model([r for r in rows if r["set"] != held], names, 0.5)
        scored += [best_of(inner, r) for r in rows if r["set"] == held]
    if not scored:
        return 0.5
    grid = sorted({round(p, 2) for p, _ in scored} | {0.5})
    utility = [
        (
            sum(label for p, label in scored if p >= t)
            - WRONG_COST * sum(1 - label for p, label in scored if p >= t),
            -t,
        )
        for t in grid
    ]
    return float(grid[max(range(len(grid)), key=lambda i: utility[i])])


def fit(rows: list[dict], names: tuple[str, ...] = FEATURES) -> AnswerModel:
    """The model fitted on all rows, with its threshold and what it was trained on."""
    digest = hashlib.sha256(
        json.dumps([[r["set"], r["id"], r["labels"], r["features"]] for r in rows]).encode()
    ).hexdigest()
    training = {
        "sets": sorted({r["set"] for r in rows}),
        "questions": len(rows),
        "candidates": sum(len(r["labels"]) for r in rows),
        "sha256": digest,
        "C": C,
        "wrong_cost": WRONG_COST,
        "script": "benchmarks/train_answerer.py",
    }
    return _model(rows, names, choose_threshold(rows, names), training)


def shipped_rows(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["set"] in SHIPPED_SETS]


def write(model: AnswerModel, out: Path) -> None:
    out.write_text(json.dumps(model.to_dict(), indent=1) + "\n", encoding="utf-8")


def main(argv: list[str]) -> None:
    if argv[:1] == ["table"]:
        table(argv[1:])
    elif argv[:1] == ["fit"]:
        write(fit(shipped_rows(load_table())), data_file("answer_model.json"))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
