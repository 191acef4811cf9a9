"""Concurrent users: N threads in one process, sharing one loaded model and one current index
(rag.app.serving.CurrentIndex, as the app's server does), each asking the dev questions in a loop
through the full ask path (hybrid retrieval, rerank, extractive answer) for a fixed time.
With --rebuild-at S, a separate process rebuilds the same index (`rag index --rebuild`) from
second S, and it is swapped in while the users ask (if the rebuild is slower than the run, the
users go on asking until it is in and has answered). Prints latency percentiles, throughput,
errors, and how many questions each build answered; the last line is JSON with --json.

    .venv/bin/python benchmarks/load.py --index-dir index [--users 8] [--seconds 60] \\
        [--rebuild-at 20] [--corpus corpus] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

from rag.app.serving import CurrentIndex
from rag.qa import ask
from rag.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT.parent / "shared" / "eval" / "questions.jsonl"


def load_questions(path: Path) -> list[str]:
    return [
        json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def user(
    start: int, questions: list[str], current: CurrentIndex, settings, stop: threading.Event, results: list
) -> None:
    """Ask the questions in turn, from question `start`, until told to stop."""
    turn = start
    while not stop.is_set():
        question = questions[turn % len(questions)]
        turn += 1
        started = time.perf_counter()
        built_at = None
        try:
            index = current.get()
            built_at = index.manifest["built_at"]
            answer = ask(index, question, settings)
            error = None
            stages = answer.timings_ms
        except Exception as exc:  # noqa: BLE001 (every failure counts, whatever its kind)
            error, stages = f"{type(exc).__name__}: {exc}", {}
        results.append((time.perf_counter() - started, built_at, error, stages))


def rebuild(index_dir: Path, corpus: Path, at: float, started: float, report: dict) -> None:
    """At `at` seconds into the run, rebuild the index in another process."""
    time.sleep(max(0.0, started + at - time.monotonic()))
    report["started_s"] = round(time.monotonic() - started, 1)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    command = [
        sys.executable,
        "-m",
        "rag.cli",
        "index",
        "--rebuild",
        "--index-dir",
        str(index_dir),
        str(corpus),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    report["finished_s"] = round(time.monotonic() - started, 1)
    report["exit_code"] = done.returncode
    if done.returncode:
        report["stderr"] = done.stderr[-2000:]


def run(
    users: int, seconds: float, settings, questions: list[str], rebuild_at: float | None, corpus: Path
) -> dict:
    current = CurrentIndex(settings)
    first = current.get()
    ask(first, questions[0], settings)  # load the models before the clock starts
    old_build = first.manifest["built_at"]
    results: list = []
    load_before = os.getloadavg()
    started = time.monotonic()
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=user, args=(n * len(questions) // users, questions, current, settings, stop, results)
        )
        for n in range(users)
    ]
    rebuilt: dict = {}
    builder = threading.Thread(
        target=rebuild, args=(settings.index_dir, corpus, rebuild_at, started, rebuilt)
    )
    if rebuild_at is not None:
        builder.start()
    for thread in threads:
        thread.start()

    def asking() -> bool:
        now = time.monotonic() - started
        if now < seconds or rebuild_at is None:
            return now < seconds
        finished = rebuilt.get("finished_s")
        if finished is None or rebuilt.get("exit_code"):
            return finished is None
        served_new = any(r[1] not in (None, old_build) for r in list(results))
        return now < finished + 5 or not served_new  # until the new build has answered

    loads: list[float] = []
    while asking():
        time.sleep(1.0)
        loads.append(os.getloadavg()[0])
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    if rebuild_at is not None:
        builder.join()

    latencies = np.array([r[0] for r in results]) * 1000
    errors = [r[2] for r in results if r[2]]
    builds = Counter("old" if r[1] == old_build else "new" if r[1] else "none" for r in results)
    stages = {
        stage: round(float(np.median([r[3][stage] for r in results if stage in r[3]])), 1)
        for stage in ("embed", "dense", "keyword", "fuse", "rerank", "answer", "total")
        if any(stage in r[3] for r in results)
    }
    return {
        "users": users,
        "seconds": round(elapsed, 1),
        "queries": len(results),
        "errors": len(errors),
        "first_errors": list(dict.fromkeys(errors))[:5],
        "p50_ms": round(float(np.percentile(latencies, 50)), 1) if len(results) else None,
        "p95_ms": round(float(np.percentile(latencies, 95)), 1) if len(results) else None,
        "max_ms": round(float(latencies.max()), 1) if len(results) else None,
        "queries_per_s": round(len(results) / elapsed, 2),
        "stage_p50_ms": stages,
        "served_by": {"old": builds["old"], "new": builds["new"]},
        "builds_opened": current.opens,
        "old_built_at": old_build,
        "new_built_at": current.get().manifest["built_at"],
        "rebuild": rebuilt or None,
        "load_before": [round(x, 2) for x in load_before],
        "load_during_mean": round(float(np.mean(loads)), 2) if loads else None,
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-dir", type=Path, help="the index to query (default: settings, index/)")
    parser.add_argument("--users", type=int, default=8, help="concurrent users (threads)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the users ask")
    parser.add_argument(
        "--rebuild-at", type=float, help="rebuild the index in another process at this second"
    )
    parser.add_argument(
        "--corpus", type=Path, help="what the rebuild indexes (default: settings' corpus folder)"
    )
    parser.add_argument("--questions", type=Path, default=QUESTIONS, help="JSONL with a question field")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on the last line")
    args = parser.parse_args()

    settings = load_settings(index_dir=args.index_dir)
    questions = load_questions(args.questions)
    report = run(
        args.users, args.seconds, settings, questions, args.rebuild_at, args.corpus or settings.corpus_dir
    )
    print(f"{report['users']} users for {report['seconds']} s on {report['cpus']} cores")
    print(f"  queries      {report['queries']} ({report['queries_per_s']}/s), errors {report['errors']}")
    for message in report["first_errors"]:
        print(f"    {message}")
    print(f"  latency      p50 {report['p50_ms']} ms, p95 {report['p95_ms']} ms, max {report['max_ms']} ms")
    print(f"  stages p50   {report['stage_p50_ms']}")
    if report["rebuild"]:
        r = report["rebuild"]
        print(f"  rebuild      {r.get('started_s')} s to {r.get('finished_s')} s, exit {r.get('exit_code')}")
        print(
            f"  served by    old build {report['served_by']['old']}, new build {report['served_by']['new']}"
            f" ({report['old_built_at']} -> {report['new_built_at']}; builds opened {report['builds_opened']})"
        )
    print(
        f"  load average before {report['load_before']}, during (mean 1-min) {report['load_during_mean']},"
        f" after {report['load_after']}"
    )
    if args.json:
        print(json.dumps(report))


if __name__ == "__main__":
    main()
