"""The HTTP API under load: starts `rag api` on a free 127.0.0.1 port over an index, waits until it
has loaded the index and models, then runs N concurrent clients (threads, each with its own
keep-alive connection) against one endpoint for a fixed time: POST /ask with the dev questions in
turn (each client from its own place), then GET /search with the same questions. Prints requests
per second, latency percentiles (as the client sees them: HTTP, JSON and the work), errors by
status, and the machine's load; the last line is JSON with --json. The run is bounded: after
--seconds no new request starts, and the ones in flight are waited for.

    PYTHONPATH=. .venv/bin/python benchmarks/api_load.py --index-dir /tmp/kent-idx \\
        [--clients 8] [--seconds 60] [--endpoints ask,search] [--json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT.parent / "shared" / "eval" / "questions-kent.jsonl"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(index_dir: Path, port: int, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-m", "rag.cli", "api", "--port", str(port), "--index-dir", str(index_dir)]
    with log.open("w") as output:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)


def wait_until_ready(port: int, server: subprocess.Popen, seconds: float = 600) -> float:
    """Seconds from now until /health says ok (the index and models loaded)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if server.poll() is not None:
            raise SystemExit(f"rag api exited with {server.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"rag api was not ready after {seconds} s")


def request(connection: http.client.HTTPConnection, endpoint: str, question: str) -> int:
    if endpoint == "ask":
        body = json.dumps({"question": question})
        connection.request("POST", "/ask", body, {"Content-Type": "application/json"})
    else:
        connection.request("GET", "/search?" + urllib.parse.urlencode({"q": question}))
    reply = connection.getresponse()
    json.loads(reply.read())
    return reply.status


def client(
    port: int, endpoint: str, start: int, questions: list[str], deadline: float, results: list
) -> None:
    """Ask the questions in turn from question `start` until the deadline, on one connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    turn = start
    while time.monotonic() < deadline:
        question = questions[turn % len(questions)]
        turn += 1
        began = time.perf_counter()
        try:
            status = request(connection, endpoint, question)
        except (OSError, http.client.HTTPException, json.JSONDecodeError) as exc:
            status = type(exc).__name__
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        results.append((time.perf_counter() - began, status))
    connection.close()


def run(port: int, endpoint: str, clients: int, seconds: float, questions: list[str]) -> dict:
    results: list = []
    load_before = os.getloadavg()
    started = time.monotonic()
    deadline = started + seconds
    threads = [
        threading.Thread(
            target=client, args=(port, endpoint, n * len(questions) // clients, questions, deadline, results)
        )
        for n in range(clients)
    ]
    for thread in threads:
        thread.start()
    loads = []
    while any(t.is_alive() for t in threads):
        time.sleep(1.0)
        loads.append(os.getloadavg()[0])
    elapsed = time.monotonic() - started
    latencies = np.array([r[0] for r in results if r[1] == 200]) * 1000
    statuses = Counter(str(r[1]) for r in results)

    def percentile(q: float) -> float | None:
        return round(float(np.percentile(latencies, q)), 1) if len(latencies) else None

    return {
        "endpoint": endpoint,
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(results),
        "ok": statuses.get("200", 0),
        "statuses": dict(statuses),
        "requests_per_s": round(statuses.get("200", 0) / elapsed, 2),
        "p50_ms": percentile(50),
        "p95_ms": percentile(95),
        "max_ms": round(float(latencies.max()), 1) if len(latencies) else None,
        "load_before": round(load_before[0], 2),
        "load_during_mean": round(float(np.mean(loads)), 2) if loads else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-dir", type=Path, required=True, help="the index the server opens")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long each endpoint is loaded")
    parser.add_argument("--endpoints", default="ask,search", help="comma-separated: ask, search")
    parser.add_argument("--questions", type=Path, default=QUESTIONS, help="JSONL with a question field")
    parser.add_argument("--log", type=Path, default=Path("/tmp/api_load-server.log"), help="the server's log")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on the last line")
    args = parser.parse_args()

    lines = args.questions.read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    port = free_port()
    server = start_server(args.index_dir, port, args.log)
    try:
        ready_s = wait_until_ready(port, server)
        print(
            f"rag api on 127.0.0.1:{port} over {args.index_dir}: ready in {ready_s:.1f} s; {os.cpu_count()} cores"
        )
        reports = []
        for endpoint in args.endpoints.split(","):
            report = run(port, endpoint.strip(), args.clients, args.seconds, questions)
            reports.append(report)
            print(
                f"  {report['endpoint']:<7} {report['clients']} clients, {report['seconds']} s: "
                f"{report['ok']} ok of {report['requests']} ({report['statuses']}), "
                f"{report['requests_per_s']}/s, p50 {report['p50_ms']} ms, p95 {report['p95_ms']} ms, "
                f"max {report['max_ms']} ms; load {report['load_before']} before, "
                f"{report['load_during_mean']} during"
            )
    finally:
        server.terminate()
        server.wait(timeout=60)
    if args.json:
        print(json.dumps({"ready_s": round(ready_s, 1), "cpus": os.cpu_count(), "runs": reports}))


if __name__ == "__main__":
    main()
