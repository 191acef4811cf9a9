"""The fitted answer scorer: a logistic regression over the features of a candidate sentence
(rag/answer/extractive.py), its parameters read from rag/data/answer_model.json (written by
benchmarks/train_answerer.py; JSON, never pickle). It turns a candidate's features into the
probability that the sentence answers the question."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.data import data_file
from rag.errors import RagError

MODEL_FILE = "answer_model.json"


@dataclass(frozen=True)
class AnswerModel:
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float
    """Answer only when the best candidate's probability reaches this."""
    gate: bool = True
    """Also require the best candidate to be the kind of answer asked for (`_fits_the_question`)."""
    training: dict | None = None

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        """P(answers the question) for each row of features (columns in `features` order),
        rounded to 4 places so that float noise of another CPU's kernels does not reorder ties."""
        if not len(rows):
            return np.zeros(0)
        z = (rows - np.asarray(self.mean)) / np.asarray(self.scale) @ np.asarray(self.coef) + self.intercept
        return np.round(1.0 / (1.0 + np.exp(-np.clip(z, -30, 30))), 4)

    def to_dict(self) -> dict:
        return {
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "threshold": self.threshold,
            "gate": self.gate,
            "training": self.training,
        }

    @classmethod
    def from_dict(cls, data: dict) -> AnswerModel:
        try:
            model = cls(
                tuple(data["features"]),
                tuple(float(x) for x in data["mean"]),
                tuple(float(x) for x in data["scale"]),
                tuple(float(x) for x in data["coef"]),
                float(data["intercept"]),
                float(data["threshold"]),
                bool(data.get("gate", True)),
                data.get("training"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RagError(
                f"answer model is malformed ({exc}): run python benchmarks/train_answerer.py"
            ) from None
        sizes = {len(model.features), len(model.mean), len(model.scale), len(model.coef)}
        if len(sizes) != 1 or not all(math.isfinite(x) for x in model.coef):
            raise RagError("answer model is malformed: run python benchmarks/train_answerer.py")
        return model


def load_model(path: Path | None = None) -> AnswerModel:
    """The model at `path`, or the one shipped in rag/data."""
    return _load(str(path) if path else "")


@lru_cache(maxsize=4)
def _load(path: str) -> AnswerModel:
    source = Path(path) if path else data_file(MODEL_FILE)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RagError(f"cannot read answer model {source}: {exc}") from None
    return AnswerModel.from_dict(data)
