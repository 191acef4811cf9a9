"""The `rag` command: parses arguments, calls the library, prints. Nothing else."""

from __future__ import annotations

import argparse
import errno
import ipaddress
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

from rag.errors import RagError
from rag.settings import Settings, load_settings

COMMANDS = ("index", "ask", "chat", "search", "info", "serve", "api", "eval", "trend", "mentions")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index-dir", type=Path, help="index folder (default: index/, or RAG_INDEX_DIR)")
    common.add_argument("--debug", action="store_true", help="show the full traceback on errors")

    parser = argparse.ArgumentParser(
        prog="rag",
        description="Ask questions of council reports; every answer cites the passages it rests on.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    index = commands.add_parser("index", parents=[common], help="build or update the index from documents")
    index.add_argument("paths", nargs="*", type=Path, help="files or folders (default: corpus/)")
    index.add_argument("--rebuild", action="store_true", help="re-read and re-embed every file")
    index.add_argument("--quiet", action="store_true", help="no progress bars")
    index.add_argument(
        "--index-type",
        choices=["auto", "flat", "ivf", "hnsw"],
        help="vector search: exact (flat), approximate (ivf, hnsw) or by size (auto, the default)",
    )
    index.add_argument(
        "--engine",
        choices=("local", "ray"),
        help="read and embed with worker processes here (local, the default) or a Ray Data pipeline "
        "(ray: a local Ray instance, or the cluster in RAG_RAY_ADDRESS)",
    )

    ask = commands.add_parser("ask", parents=[common], help="answer a question with numbered citations")
    ask.add_argument("question", nargs="?", help="the question (or use --batch)")
    ask.add_argument(
        "--batch", type=Path, help="file of questions: one per line, or JSONL with a question field"
    )
    ask.add_argument(
        "--history",
        type=Path,
        help="JSONL of earlier turns (objects with question, and citations or sources), for follow-ups",
    )
    _add_query_options(ask)

    chat = commands.add_parser(
        "chat", parents=[common], help="an interactive chat in the terminal (follow-ups understood)"
    )
    _add_query_options(chat)

    search = commands.add_parser("search", parents=[common], help="show the ranked passages for a query")
    search.add_argument("query", help="what to look for")
    search.add_argument("--explain", action="store_true", help="show dense, keyword and fused scores")
    _add_query_options(search)

    info = commands.add_parser("info", parents=[common], help="what the index holds")
    info.add_argument("--json", action="store_true", help="print JSON")

    serve = commands.add_parser("serve", parents=[common], help="start the chat app (Streamlit)")
    serve.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only); 0.0.0.0 opens the chat, "
        "with its uploads and index rebuilds, to anyone who can reach this machine",
    )
    serve.add_argument(
        "--read-only",
        action="store_true",
        help="answer questions only: no uploads, no index builds (or RAG_READ_ONLY=1)",
    )

    api = commands.add_parser("api", parents=[common], help="serve the HTTP API (JSON; docs at /docs)")
    api.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    api.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only); 0.0.0.0 opens the API to "
        "anyone who can reach this machine: give it a key",
    )
    api.add_argument("--api-key", metavar="KEY", help="require 'Authorization: Bearer KEY' (or RAG_API_KEY)")

    evaluate = commands.add_parser(
        "eval", parents=[common], help="measure retrieval and answers on a question set"
    )
    evaluate.add_argument("questions", type=Path, help="JSONL: id, question, answers, evidence, kind")
    evaluate.add_argument("--json", action="store_true", help="print JSON, with one row per question")
    _add_trend_parser(commands, common)

    mentions = commands.add_parser(
        "mentions", parents=[common], help="every passage that mentions a term, by report and by month"
    )
    mentions.add_argument("term", help='a word or phrase, e.g. "family hub" (plurals and glossary names too)')
    mentions.add_argument("--no-glossary", action="store_true", help="the term alone, not its glossary names")
    _add_filter_options(mentions)
    output = mentions.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON (on one line above 1,000 passages)")
    output.add_argument("--csv", action="store_true", help="print CSV, one row per passage")
    return parser


def _add_trend_parser(commands, common: argparse.ArgumentParser) -> None:
    trend = commands.add_parser(
        "trend", parents=[common], help="every stated value of one measure over time, each cited"
    )
    trend.add_argument("measure", help='the measure, e.g. "children looked after" (glossary names count too)')
    trend.add_argument("--council", help="only reports of this council (part of its name)")
    trend.add_argument("--since", metavar="DATE", help="only values that refer to DATE or later (YYYY-MM-DD)")
    trend.add_argument(
        "--until", metavar="DATE", help="only values that refer to DATE or earlier (YYYY-MM-DD)"
    )
    trend.add_argument("--source", metavar="GLOB", help="only files whose path matches GLOB")
    output = trend.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON")
    output.add_argument("--csv", action="store_true", help="print CSV, one row per point")


def _add_query_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-k", type=int, help="passages to return (default: top_k setting, 5)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    _add_filter_options(parser)


def _add_filter_options(parser: argparse.ArgumentParser) -> None:
    """The filters every command over the reports takes."""
    parser.add_argument(
        "--filter",
        action="append",
        metavar="KEY=VALUE",
        help="council=NAME, source=GLOB, since=DATE, until=DATE, title=TEXT (repeatable)",
    )
    parser.add_argument("--council", help="only reports of this council (part of its name)")
    parser.add_argument("--since", metavar="DATE", help="only meetings on or after DATE (YYYY-MM-DD)")
    parser.add_argument("--until", metavar="DATE", help="only meetings on or before DATE (YYYY-MM-DD)")
    parser.add_argument("--source", metavar="GLOB", help="only files whose path matches GLOB")


def _filters(args: argparse.Namespace):
    """--filter KEY=VALUE pairs and the --council/--since/--until/--source flags, as one Filters
    (checked by the library: real dates, since not after until, no empty value)."""
    from rag.types import Filters

    pairs = list(args.filter or [])
    for key in ("council", "since", "until", "source"):
        value = getattr(args, key)
        if value is not None:
            pairs.append(f"{key}={value}")
    return Filters.parse(pairs)


_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Control characters (ESC, carriage return, backspace, ...) and the marks that reorder text on
a terminal; a line feed and a tab are kept."""


def _shown(text: str | None) -> str:
    """Document text for a terminal: each control character written as an escape (\\x1b), so a
    report cannot move the cursor, recolour or rewrite the screen."""
    return _UNPRINTABLE.sub(lambda m: ascii(m.group())[1:-1], text or "")


def main(argv: list[str] | None = None) -> int:
    """The command; a reader that stops early (`rag ask ... | head -1`) ends it quietly, with 141
    (128 + SIGPIPE, as a shell reports a command killed by a broken pipe)."""
    try:
        code = _main(argv)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the flush at exit does not fail again
        return 141


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(index_dir=args.index_dir)
        return _run(args, settings)
    except RagError as exc:
        if args.debug:
            raise
        print(f"error: {_shown(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; the previous index is unchanged", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "index":
        return _index(args, settings)
    if args.command == "serve":
        return _serve(args, settings)
    if args.command == "api":
        return _api(args, settings)

    from rag.index.store import open_index

    index = open_index(settings)
    if args.command == "info":
        info = index.info()
        print(json.dumps(info, indent=2) if args.json else _shown(_format_info(info)))
    elif args.command == "ask":
        _ask(args, settings, index)
    elif args.command == "chat":
        _chat(args, settings, index)
    elif args.command == "search":
        _search(args, settings, index)
    elif args.command == "trend":
        _trend(args, settings, index)
    elif args.command == "eval":
        from rag.evaluation import evaluate, load_questions

        figures = evaluate(index, load_questions(args.questions), settings)
        if not args.json:
            figures.pop("rows")
        print(json.dumps(figures, indent=2))
    elif args.command == "mentions":
        _mentions(args, index)
    return 0


def _trend(args: argparse.Namespace, settings: Settings, index) -> None:
    from rag.dates import date_range
    from rag.trends import trend, trend_csv, trend_table
    from rag.trends.output import offered_text

    for key in ("since", "until"):
        value = getattr(args, key)
        if value:
            date_range(f"--{key}", value)  # a one-line error for anything but a real date
    # CSV is the points alone: no search for sentences to offer beside them
    result = trend(
        index, args.measure, args.council, args.since, args.until, args.source, settings, search=not args.csv
    )
    if result.message:
        print(f"{'not found' if not result.points else 'note'}: {result.message}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    elif args.csv:
        sys.stdout.write(trend_csv(result))
    else:
        shown = "\n\n".join(x for x in (result.points and trend_table(result), offered_text(result)) if x)
        if shown:
            print(shown)


def _index(args: argparse.Namespace, settings: Settings) -> int:
    from rag.build.ingest import build_index

    settings = settings.replace(index_type=args.index_type, engine=args.engine)
    report = build_index(
        args.paths or None,
        settings,
        rebuild=args.rebuild,
        progress=not args.quiet,
        on_busy=lambda message: print(message, file=sys.stderr, flush=True),
    )
    print(
        f"Index {settings.index_dir}: {report.documents} documents, {report.chunks} chunks ({report.seconds:.1f} s)"
    )
    resumed = f"; {len(report.resumed)} from an interrupted build" if report.resumed else ""
    pages = f"; {report.pages} PDF pages read, {report.ocr_pages} by OCR" if report.pages else ""
    print(
        f"  indexed    {len(report.indexed):>5}  ({report.embedded_chunks} chunks embedded{resumed}{pages})"
    )
    if report.embedded_chunks:
        read = f"{report.pages} PDF pages read in {report.parse_seconds:.0f} s, " if report.pages else ""
        print(
            f"             {read}{report.embedded_chunks} chunks "
            f"embedded in {report.embed_seconds:.0f} s, written in {report.write_seconds:.0f} s"
        )
    print(f"  unchanged  {len(report.unchanged):>5}")
    print(f"  removed    {len(report.removed):>5}")
    print(f"  skipped    {len(report.skipped):>5}")
    width = max((len(item["source"]) for item in report.skipped + report.notes), default=0)
    for item in sorted(report.skipped, key=lambda s: s["source"]):
        print(_shown(f"    {item['source']:<{width}}  {item['reason']}"))
    if report.notes:
        print(f"  notes      {len(report.notes):>5}")
        for item in report.notes:
            print(_shown(f"    {item['source']:<{width}}  {item['note']}"))
    return 0


def _ask(args: argparse.Namespace, settings: Settings, index) -> None:
    from rag.qa import ask
    from rag.retrieval import check_filters, check_k

    filters = _filters(args)
    check_k(args.k, settings)
    check_filters(index, filters)
    if args.batch:
        for question in _batch_questions(args.batch):
            answer = ask(index, question, settings, k=args.k, filters=filters)
            print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
        return
    if not args.question:
        raise RagError('give a question, e.g. rag ask "How many children are looked after?", or --batch FILE')
    history = _history(args.history) if args.history else []
    answer = ask(index, args.question, settings, k=args.k, filters=filters, history=history)
    if args.json:
        print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
        return
    _print_answer(answer)


def _print_answer(answer) -> None:
    """The answer, each citation with its text, then the other passages retrieved (the first k)."""
    from rag.app.conversation import OTHER_CANDIDATES

    if answer.rewritten_question:
        print(f"(understood as: {_shown(answer.rewritten_question)})")
    print(_shown(answer.answer))
    if answer.note:
        print(f"Note: {_shown(answer.note)}")
    print()
    for citation in answer.citations:
        print(f"[{citation.ref}] {_where(citation)}")
        print(textwrap.indent(textwrap.fill(_shown(" ".join(citation.text.split())), 96), "    "))
    if answer.candidates:
        print("These passages may answer it:" if answer.status == "not_found" else f"{OTHER_CANDIDATES}:")
        for suggestion in answer.candidates:
            print(f"  - {_shown(suggestion.text)}")
            print(f"    {_where(suggestion.citation)}")
        print()
    cited = {c.passage_rank for c in answer.citations}
    others = [p for p in answer.passages if p.rank not in cited]
    if others:
        print("Also retrieved:" if answer.citations else "Closest passages:")
        for passage in others:
            print(f"  {passage.rank}. {_where(passage)}")


def _chat(args: argparse.Namespace, settings: Settings, index) -> None:
    from rag.qa import ask, turn_of
    from rag.retrieval import check_filters, check_k

    filters = _filters(args)
    check_k(args.k, settings)
    check_filters(index, filters)
    history = []
    print("Ask about the reports; follow-ups such as 'And in 2021?' are understood. Ctrl-D or 'quit' ends.")
    while True:
        try:
            question = input("\n> ").strip()
        except EOFError:
            print()
            return
        if question.lower() in ("quit", "exit", "q"):
            return
        if not question:
            continue
        try:
            answer = ask(index, question, settings, k=args.k, filters=filters, history=history)
        except RagError as exc:
            print(f"error: {exc}")
            continue
        if args.json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False))
        else:
            _print_answer(answer)
        history.append(turn_of(answer))


def _numbered_lines(path: Path, what: str) -> list[tuple[int, str]]:
    """The non-blank lines of a text file, with their line numbers."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RagError(f"cannot read {what} {path}: {exc}") from None
    return [(number, line.strip()) for number, line in enumerate(lines, start=1) if line.strip()]


def _history(path: Path) -> list:
    """Earlier turns from a JSONL file: `rag ask --json` objects, or {question, sources}."""
    from rag.followup import turn_from_json

    turns = []
    for number, line in _numbered_lines(path, "history file"):
        try:
            turns.append(turn_from_json(json.loads(line)))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            raise RagError(f"{path}:{number}: expected a JSON object with a question field") from None
    return turns


def _batch_questions(path: Path) -> list[str]:
    """One question per line: plain text, or a JSON object with a question field."""
    questions = []
    for number, line in _numbered_lines(path, "batch file"):
        if not line.startswith("{"):
            questions.append(line)
            continue
        try:
            question = json.loads(line)["question"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise RagError(f"{path}:{number}: JSON line without a question field") from None
        if not isinstance(question, str):
            raise RagError(f"{path}:{number}: the question field is {type(question).__name__}, not text")
        questions.append(question)
    return questions


def _search(args: argparse.Namespace, settings: Settings, index) -> None:
    from rag.retrieval import check_filters, check_question, search

    query = check_question(args.query, settings)
    filters = _filters(args)
    check_filters(index, filters)
    result = search(index, query, settings, k=args.k, filters=filters)
    if args.json:
        payload = {
            "query": query,
            "passages": [p.to_dict() for p in result.passages],
            "timings_ms": result.timings_ms,
        }
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    for passage in result.passages:
        print(f"{passage.rank}. {_where(passage)}  score {passage.score:.3f}")
        if args.explain:
            print(
                f"    dense {passage.dense_score}  keyword {passage.keyword_score}  fused {passage.fused_score}"
                f"  rerank {passage.rerank_score}  timings {result.timings_ms}"
            )
        print(textwrap.indent(textwrap.fill(_shown(" ".join(passage.text.split())), 96), "    "))


def _mentions(args: argparse.Namespace, index) -> None:
    from rag.mentions import find_mentions, mentions_csv, mentions_json, mentions_text, not_found_line
    from rag.retrieval import check_filters

    filters = _filters(args)
    check_filters(index, filters)
    result = find_mentions(index, args.term, filters, use_glossary=not args.no_glossary)
    if args.json:
        print(mentions_json(result))
    elif args.csv:
        sys.stdout.write(mentions_csv(result))
    else:
        print(mentions_text(result))
    if not result.reports and (args.json or args.csv):
        print(not_found_line(result), file=sys.stderr)


def _where(item) -> str:
    """Title — council, date — page, paragraph — source."""
    from dataclasses import asdict

    from rag.app.conversation import where

    return _shown(" ".join(f"{where(asdict(item))} — {item.source}".split()))


def _describe_vector_index(described: dict) -> str:
    if described["type"] == "flat":
        return "exact (flat)"
    effort = (
        f"nprobe {described['nprobe']} of {described['nlist']} lists"
        if described["type"] == "ivf"
        else (f"efSearch {described['efSearch']}")
    )
    return f"{described['type']}, {effort}, recall@10 {described['recall@10']:.3f} against exact search"


def _format_info(info: dict) -> str:
    lines = [
        f"Index:      {info['index_dir']}",
        f"Documents:  {info['documents']}",
        f"Chunks:     {info['chunks']}",
        f"Model:      {info['model']} ({info['dimension']} dimensions)",
        f"Search:     {_describe_vector_index(info['vector_index'])}",
        f"Built:      {info['built_at']}",
        f"Size:       {info['size_bytes'] / 1e6:.1f} MB",
        f"Councils:   {', '.join(info['councils']) or '-'}",
        f"Dates:      {info['date_range'][0] or '?'} to {info['date_range'][1] or '?'}",
        f"Skipped:    {len(info['skipped'])}",
    ]
    lines += [f"  {s['source']}: {s['reason']}" for s in info["skipped"]]
    return "\n".join(lines)


def app_script() -> Path:
    """The script Streamlit runs: the checkout's app.py, or, from an installed wheel, the chat
    module itself (rag/app/chat.py), which app.py runs."""
    checkout = Path(__file__).resolve().parent.parent / "app.py"
    if checkout.exists():
        return checkout
    chat = Path(__file__).resolve().parent / "app" / "chat.py"
    if not chat.exists():
        raise RagError(f"the chat app is missing ({chat}): reinstall the package")
    return chat


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    """Become the Streamlit server (through rag.app.launch, which contacts nothing outside), on
    127.0.0.1 unless --host says otherwise."""
    app = app_script()
    if not 1 <= args.port <= 65535:
        raise RagError(f"--port {args.port} is not a port number: use 1 to 65535 (default 8501)")
    _check_port_free(args.host, args.port)
    read_only = args.read_only or settings.read_only
    env = {**os.environ, "RAG_INDEX_DIR": str(settings.index_dir), "RAG_READ_ONLY": "1" if read_only else "0"}
    command = [
        sys.executable,
        "-m",
        "rag.app.launch",
        "run",
        str(app),
        "--server.address",
        args.host,
        "--server.port",
        str(args.port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]
    if not _is_loopback(args.host):
        what = "ask questions" if read_only else "ask questions, upload reports and rebuild the index"
        print(
            f"warning: listening on {args.host}: anyone who can reach this machine on port {args.port} can "
            f"{what}, with no login" + ("" if read_only else " (--read-only stops uploads and rebuilds)"),
            file=sys.stderr,
        )
    host = f"[{args.host}]" if ":" in args.host else args.host
    mode = ", read-only" if read_only else ""
    print(f"Serving the chat on http://{host}:{args.port} (Ctrl-C to stop{mode})", file=sys.stderr)
    sys.stderr.flush()
    if os.name == "posix":  # become the server, so that a stop signal sent to `rag serve` reaches it
        os.execve(sys.executable, command, env)
    return subprocess.call(command, env=env)


def _api(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the HTTP API (rag.api) with uvicorn, in this process, on 127.0.0.1 unless --host
    says otherwise."""
    import uvicorn

    from rag.api import create_app

    settings = settings.replace(api_key=args.api_key)
    if not 1 <= args.port <= 65535:
        raise RagError(f"--port {args.port} is not a port number: use 1 to 65535 (default 8000)")
    _check_port_free(args.host, args.port)
    if not _is_loopback(args.host) and not settings.api_key:
        print(
            f"warning: listening on {args.host} with no key: anyone who can reach this machine on port "
            f"{args.port} can query the index (--api-key KEY, or RAG_API_KEY, requires a bearer token)",
            file=sys.stderr,
        )
    host = f"[{args.host}]" if ":" in args.host else args.host
    key = ", bearer key required" if settings.api_key else ""
    print(
        f"Serving the API on http://{host}:{args.port} (docs at /docs{key}; Ctrl-C to stop)", file=sys.stderr
    )
    sys.stderr.flush()
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_port_free(host: str, port: int) -> None:
    """Fail with one line, before anything is printed, when the address cannot be listened on."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise RagError(f"--host {host!r} is not an address of this machine ({exc.strerror})") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(
            socket.SOL_SOCKET, socket.SO_REUSEADDR, 1
        )  # a closed server's TIME_WAIT is no obstacle
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise RagError(
                    f"port {port} on {host} is already in use (another rag serve?): stop it, or choose "
                    "another port with --port"
                ) from None
            raise RagError(f"cannot listen on {host} port {port}: {exc.strerror}") from None


if __name__ == "__main__":
    sys.exit(main())
