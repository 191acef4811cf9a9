"""A second opinion on an extractive answer (optional, `verifier_model`): a small local language
model reads the question and the answer's sentence and says whether the sentence states the
answer. Below `verifier_threshold` the answer is doubted: the next two sentences it offers are
read, and the first the model trusts (`verifier_fallback_threshold`) answers instead; else the
answer is withdrawn and its sentence offered first with the next best ones ("These passages may
answer it"): shown as evidence, not as the answer.

The model's probability is read from one forward pass (the next token's "Yes" against "No"), so a
check costs the prompt's reading only: about 1.2 s on 2 cores for Qwen2.5-Coder-1.5B-Instruct,
1.5 checks per answer on average. The sentence goes into the prompt quoted, as data; whatever it
says, the model can only keep, swap or withdraw sentences the extractive answerer already chose
from the reports. Held out by corpus, the answers given are right more often in every fold and
every unanswerable dev question is refused (benchmarks/verify_cv.py, benchmarks/results.md)."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache

from rag.answer.extractive import ALTERNATIVES, NOT_FOUND_TEXT, SUGGESTIONS, readable
from rag.errors import ModelError, SettingsError
from rag.models.verifier import verifier_path
from rag.settings import Settings
from rag.types import Answer, Suggestion

INSTRUCTION = "You check whether a sentence from a council report answers a question. Reply Yes or No."
ASK = 'Question: {question}\nSentence: "{sentence}"\nDoes the sentence state the answer to the question? Reply Yes or No.'
CONTEXT_TOKENS = 1024
"""The model's window: the instruction, a question (at most max_question_chars) and one sentence."""


class Verifier:
    """A GGUF model loaded once, in this process (llama-cpp-python), that judges one sentence at a time."""

    def __init__(self, path: str) -> None:
        try:
            from llama_cpp import Llama, llama_get_logits_ith
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError:
            raise SettingsError(
                "verifier_model needs llama-cpp-python: pip install -e '.[verifier]' (or `make verifier`)"
            ) from None
        try:
            self._llm = Llama(
                model_path=path,
                n_ctx=CONTEXT_TOKENS,
                n_threads=os.cpu_count() or 1,
                verbose=False,
            )
            self._last_logits = llama_get_logits_ith
        except (ValueError, RuntimeError) as error:
            raise ModelError(f"the verifier model {path} cannot be loaded: {error}") from None
        template = self._llm.metadata.get("tokenizer.chat_template")
        self._chat = (
            Jinja2ChatFormatter(
                template, self._piece(self._llm.token_eos()), self._piece(self._llm.token_bos())
            )
            if template
            else None
        )
        self._yes = self._first_tokens("Yes", " Yes")
        self._no = self._first_tokens("No", " No")
        self._lock = threading.Lock()  # one evaluation at a time: the model keeps its state

    def _piece(self, token: int) -> str:
        return self._llm.detokenize([token]).decode("utf-8", errors="ignore") if token >= 0 else ""

    def _first_tokens(self, *words: str) -> set[int]:
        return {self._llm.tokenize(w.encode(), add_bos=False, special=False)[0] for w in words}

    def prompt(self, question: str, sentence: str) -> str:
        """The model's chat template around the instruction and the ask; a model without one (a
        base model) reads them as plain text followed by "Answer:"."""
        ask = ASK.format(question=" ".join(question.split()), sentence=" ".join(sentence.split()))
        if self._chat is None:
            return f"{INSTRUCTION}\n\n{ask}\nAnswer:"
        messages = [{"role": "system", "content": INSTRUCTION}, {"role": "user", "content": ask}]
        return self._chat(messages=messages).prompt

    def probability(self, question: str, sentence: str) -> float:
        """The model's probability that `sentence` states the answer to `question`: its next
        token's "Yes" against its "No", the two alone."""
        tokens = self._llm.tokenize(self.prompt(question, sentence).encode(), add_bos=False, special=True)
        tokens = tokens[-CONTEXT_TOKENS:]
        with self._lock:
            self._llm.reset()
            self._llm.eval(tokens)
            logits = self._last_logits(self._llm.ctx, -1)  # the next token's, and only those are kept
            yes = max(float(logits[t]) for t in self._yes)
            no = max(float(logits[t]) for t in self._no)
        return 1.0 / (1.0 + math.exp(no - yes))


@lru_cache(maxsize=2)
def _loaded(path: str) -> Verifier:
    return Verifier(path)


def load_verifier(name: str) -> Verifier:
    """The verifier `name` names (a packaged model or a .gguf file), loaded once per process."""
    return _loaded(str(verifier_path(name)))


FALLBACKS = 2
"""How many of a doubted answer's next best sentences the verifier reads before withdrawing it."""


def verified(answer: Answer, settings: Settings) -> Answer:
    """The answer, checked by the verifier when `settings.verifier_model` names one (see
    `checked`). Unchanged when no verifier is set or the answer is already a refusal."""
    if not settings.verifier_model or answer.status != "answered" or not answer.citations:
        return answer
    started = time.perf_counter()
    verifier = load_verifier(settings.verifier_model)
    result = checked(
        answer,
        lambda sentence: verifier.probability(answer.question, sentence),
        settings.verifier_threshold,
        settings.verifier_fallback_threshold,
    )
    timings = {**result.timings_ms, "verify": round((time.perf_counter() - started) * 1000, 1)}
    return replace(result, timings_ms=timings)


def checked(
    answer: Answer, judge: Callable[[str], float], threshold: float, fallback_threshold: float
) -> Answer:
    """The answer kept when `judge` (the verifier's probability that a sentence states the answer)
    gives its first sentence `threshold` or more. Else the first of its next best sentences
    (FALLBACKS of them, each in a passage the answer shows) that reaches `fallback_threshold`
    answers instead, with the doubted sentence offered after it; else the answer is withdrawn: a
    refusal whose candidates are its sentences first, then the next best it offered."""
    probability = judge(answer.citations[0].text)
    if probability >= threshold:
        return answer
    shown = {(p.doc_id, p.rank) for p in answer.passages}
    doubted = [Suggestion(readable(c.text), c.score, c) for c in answer.citations]
    for other in answer.candidates[:FALLBACKS]:
        if (other.citation.doc_id, other.citation.passage_rank) not in shown:
            continue
        instead = judge(other.citation.text)
        if instead >= fallback_threshold:
            rest = doubted + [c for c in answer.candidates if c is not other]
            note = (
                f"The local model judged that the best-scored sentence does not state the answer "
                f"(probability {probability:.2f}) and that this one does ({instead:.2f})."
            )
            return replace(
                answer,
                answer=f"{other.text} [1]",
                citations=[replace(other.citation, ref=1)],
                confidence=other.score,
                note=note,
                candidates=_numbered(rest, ALTERNATIVES),
            )
    note = (
        f"The local model judged that the best sentence does not state the answer "
        f"(probability {probability:.2f}, below {threshold:.2f}): check the passages below."
    )
    return replace(
        answer,
        answer=NOT_FOUND_TEXT,
        status="not_found",
        citations=[],
        note=note,
        candidates=_numbered(doubted + list(answer.candidates), SUGGESTIONS),
    )


def _numbered(offered: list[Suggestion], count: int) -> list[Suggestion]:
    return [
        Suggestion(s.text, s.score, replace(s.citation, ref=ref))
        for ref, s in enumerate(offered[:count], start=1)
    ]
