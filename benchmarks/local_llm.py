"""One local model as the llm answer mode's endpoint, measured on a question set.

Starts llama.cpp's OpenAI-compatible server (llama-cpp-python[server]) on a free localhost port
with the given GGUF, runs `rag eval --json` with answer_mode llm pointed at it, prints the
figures and stops the server. Without --model it runs the same eval in extractive mode, for
comparison. Each row is sorted by what the answer is: the model's own answer, the model's own
refusal (it replied NOT_FOUND), or the extractive answer it fell back to (the answer's note says
so, and why).

    PYTHONPATH=. HF_HUB_OFFLINE=1 python benchmarks/local_llm.py \\
        --model /tmp/gemma.gguf --chat-format gemma \\
        --questions ../shared/eval/questions.jsonl --index-dir /tmp/sample-idx

--limit N measures the first N questions only, --ids a,b,c those questions (a slow model on a
small machine).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

FALLBACK = "this is the extractive answer"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model: Path, chat_format: str | None, port: int, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "llama_cpp.server", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--n_ctx", "4096", "--model", str(model)]
    if chat_format:
        command += ["--chat_format", chat_format]
    with log.open("w") as output:
        return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(server: subprocess.Popen, url: str, log: Path, limit_s: float = 300) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped (exit {server.returncode}); see {log}")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2):
                return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"the server did not answer within {limit_s:.0f} s; see {log}")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def kind(row: dict) -> str:
    """own (the model's answer), refused (the model's NOT_FOUND) or fallback (extractive)."""
    note = row.get("note") or ""
    if FALLBACK in note:
        return "fallback"
    return "refused" if row["status"] == "not_found" else "own"


def run_eval(questions: Path, index_dir: Path, env: dict) -> dict:
    command = [sys.executable, "-m", "rag.cli", "eval", str(questions), "--json"]
    command += ["--index-dir", str(index_dir)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"rag eval failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout)


def summary(figures: dict, llm: bool) -> dict:
    rows = figures["rows"]
    out = {
        key: figures[key]
        for key in (
            "questions",
            "answer_accuracy",
            "cited_evidence",
            "unanswerable_refused",
            "answerable_wrongly_refused",
        )
    }
    out["median_s_per_answer"] = round(statistics.median(r["seconds"] for r in rows), 2)
    if llm:
        kinds = Counter(kind(r) for r in rows)
        out["model_own_answers"] = kinds["own"]
        out["model_refusals"] = kinds["refused"]
        out["fell_back"] = kinds["fallback"]
        reasons = Counter(r["note"].split(";")[0] for r in rows if kind(r) == "fallback")
        out["fallback_reasons"] = dict(reasons.most_common())
        own = [r for r in rows if kind(r) == "own" and r["answerable"]]
        out["own_answers_correct"] = sum(1 for r in own if r["correct"])
        own_unanswerable = [r for r in rows if kind(r) == "own" and not r["answerable"]]
        out["own_answers_to_unanswerable"] = len(own_unanswerable)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="GGUF file; none: extractive mode, no server")
    parser.add_argument(
        "--chat-format", help="llama.cpp chat format (gemma, chatml); none: the GGUF's template"
    )
    parser.add_argument("--questions", type=Path, required=True, help="JSONL question set")
    parser.add_argument("--index-dir", type=Path, required=True, help="the index the questions ask")
    parser.add_argument("--limit", type=int, help="only the first N questions")
    parser.add_argument("--ids", help="only these questions: ids separated by commas")
    parser.add_argument("--timeout", type=float, help="llm_timeout_s (default: the setting's)")
    parser.add_argument("--out", type=Path, help="write the eval's JSON (with rows) here")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="local-llm-"))
    questions = args.questions
    if args.limit or args.ids:
        lines = [line for line in args.questions.read_text().splitlines() if line.strip()]
        if args.ids:
            wanted = set(args.ids.split(","))
            lines = [line for line in lines if json.loads(line).get("id") in wanted]
        questions = work / "questions.jsonl"
        questions.write_text("\n".join(lines[: args.limit]) + "\n")

    env = {**os.environ, "RAG_ANSWER_MODE": "extractive"}
    server = None
    try:
        if args.model:
            port = free_port()
            url = f"http://127.0.0.1:{port}/v1"
            log = work / "server.log"
            started = time.monotonic()
            server = start_server(args.model, args.chat_format, port, log)
            wait_ready(server, url, log)
            print(f"server ready in {time.monotonic() - started:.1f} s (log {log})", file=sys.stderr)
            env.update(RAG_ANSWER_MODE="llm", RAG_LLM_URL=url, RAG_LLM_MODEL=args.model.stem)
            if args.timeout:
                env["RAG_LLM_TIMEOUT_S"] = str(args.timeout)
        started = time.monotonic()
        figures = run_eval(questions, args.index_dir, env)
        print(f"eval took {time.monotonic() - started:.0f} s", file=sys.stderr)
    finally:
        if server is not None:
            stop_server(server)
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2, ensure_ascii=False))
    print(json.dumps(summary(figures, llm=bool(args.model)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
