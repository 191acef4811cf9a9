"""Synthetic training questions written by a local instruct model (issue 21, item 6): for sentences
drawn at random from an index (statements of 8-40 words with a figure that is not a year), the
model writes a question each answers. Written as a question set (`answers` and `evidence` are the
sentence itself, kind "synthetic"), kept apart from the dev questions, for
benchmarks/answers_cache.py and `benchmarks/train_answerer.py table`; `benchmarks/answers_cv.py
--extra-table` then adds them to every fold's training (not the held-out corpus's own).

    PYTHONPATH=. python benchmarks/synthetic_questions.py --model Q.gguf --index-dir /tmp/kent-idx \\
        --name kent --count 60 > /tmp/syn-kent.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
import sys
import time
from pathlib import Path

from rag.index.folder import DATABASE
from rag.text import NUMBER, split_sentences

PROMPT = (
    "Sentence from a council report:\n{sentence}\n\nWrite one short question that this sentence answers, "
    "as a resident would ask it. Use your own words. Reply with the question only."
)
YEAR = re.compile(r"^(19|20)\d\d$")


def sentences(index_dir: Path, seed: int) -> list[str]:
    """The index's statements with a figure, shuffled with `seed`."""
    db = sqlite3.connect(f"file:{index_dir / DATABASE}?mode=ro", uri=True)
    found = []
    for (text,) in db.execute("SELECT text FROM chunks ORDER BY row"):
        for a, b in split_sentences(text):
            sentence = text[a:b].strip()
            figures = [n for n in NUMBER.findall(sentence) if not YEAR.match(n)]
            letters = sum(c.isalpha() for c in sentence)
            if (
                8 <= len(sentence.split()) <= 40
                and figures
                and "\n" not in sentence
                and letters > 0.6 * len(sentence)
            ):
                found.append(sentence)
    db.close()
    random.Random(seed).shuffle(found)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a GGUF instruct model")
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--name", required=True, help="the corpus's name, in the questions' ids")
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--seed", type=int, default=26)
    args = parser.parse_args()
    from llama_cpp import Llama  # the local-llm extra

    model = Llama(model_path=args.model, n_ctx=1024, n_threads=2, verbose=False, seed=0)
    made, started = 0, time.perf_counter()
    for sentence in sentences(args.index_dir, args.seed):
        if made == args.count:
            break
        reply = model.create_chat_completion(
            messages=[
                {"role": "system", "content": "You write questions about council reports."},
                {"role": "user", "content": PROMPT.format(sentence=sentence)},
            ],
            max_tokens=40,
            temperature=0.0,
        )
        question = reply["choices"][0]["message"]["content"].strip().split("\n")[0].strip()
        if not question.endswith("?") or not 4 <= len(question.split()) <= 30:
            continue
        made += 1
        row = {"id": f"syn-{args.name}-{made:03d}", "question": question, "answers": [sentence]}
        print(json.dumps({**row, "evidence": [sentence], "kind": "synthetic"}), flush=True)
    print(f"{made} questions in {time.perf_counter() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
