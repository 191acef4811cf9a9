"""The `rag` command: parses arguments, calls the library, prints. Nothing else."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from rag.errors import RagError
from rag.settings import Settings, load_settings

COMMANDS = ("index", "ask", "chat", "search", "info", "serve", "eval", "mentions")


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

    evaluate = commands.add_parser(
        "eval", parents=[common], help="measure retrieval and answers on a question set"
    )
    evaluate.add_argument("questions", type=Path, help="JSONL: id, question, answers, evidence, kind")
    evaluate.add_argument("--json", action="store_true", help="print JSON, with one row per question")

    mentions = commands.add_parser(
        "mentions", parents=[common], help="every passage that mentions a term, by report and by month"
    )
    mentions.add_argument("term", help='a word or phrase, e.g. "family hub" (plurals and glossary names too)')
    mentions.add_argument("--no-glossary", action="store_true", help="the term alone, not its glossary names")
    _add_filter_options(mentions)
    output = mentions.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON")
    output.add_argument("--csv", action="store_true", help="print CSV, one row per passage")
    return parser


def _add_query_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-k", type=int, help="passages to return (default: top_k setting, 5)")
    parser.add_argument("--json", action="store_true", help="print JSON")
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


def _add_filter_options(parser: argparse.ArgumentParser) -> None:
    """The filters of _add_query_options, for commands that take no -k."""
    parser.add_argument("--filter", action="append", metavar="KEY=VALUE", help="as for rag ask (repeatable)")
    parser.add_argument("--council", help="only reports of this council (part of its name)")
    parser.add_argument("--since", metavar="DATE", help="only meetings on or after DATE (YYYY-MM-DD)")
    parser.add_argument("--until", metavar="DATE", help="only meetings on or before DATE (YYYY-MM-DD)")
    parser.add_argument("--source", metavar="GLOB", help="only files whose path matches GLOB")


def _filters(args: argparse.Namespace):
    """--filter KEY=VALUE pairs and the --council/--since/--until/--source flags, as one Filters."""
    from rag.retrieval import Filters

    pairs = list(args.filter or [])
    for key in ("council", "since", "until", "source"):
        value = getattr(args, key)
        if value is not None:
            pairs.append(f"{key}={value}")
    filters = Filters.parse(pairs)
    for key in ("since", "until"):
        value = getattr(filters, key)
        if value and not re.fullmatch(r"(19|20)\d\d(-[01]\d(-[0-3]\d)?)?", value):
            raise RagError(f"--{key} {value!r} is not a date: use YYYY-MM-DD, YYYY-MM or YYYY")
    return filters


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(index_dir=args.index_dir)
        return _run(args, settings)
    except RagError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; the previous index is unchanged", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "index":
        return _index(args, settings)
    if args.command == "serve":
        return _serve(args, settings)

    from rag.index import open_index

    index = open_index(settings)
    if args.command == "info":
        info = index.info()
        print(json.dumps(info, indent=2) if args.json else _format_info(info))
    elif args.command == "ask":
        _ask(args, settings, index)
    elif args.command == "chat":
        _chat(args, settings, index)
    elif args.command == "search":
        _search(args, settings, index)
    elif args.command == "eval":
        from rag.evaluation import evaluate, load_questions

        figures = evaluate(index, load_questions(args.questions), settings)
        if not args.json:
            figures.pop("rows")
        print(json.dumps(figures, indent=2))
    elif args.command == "mentions":
        _mentions(args, index)
    return 0


def _index(args: argparse.Namespace, settings: Settings) -> int:
    from rag.ingest import build_index

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
        print(f"    {item['source']:<{width}}  {item['reason']}")
    if report.notes:
        print(f"  notes      {len(report.notes):>5}")
        for item in report.notes:
            print(f"    {item['source']:<{width}}  {item['note']}")
    return 0


def _ask(args: argparse.Namespace, settings: Settings, index) -> None:
    from rag.answer import ask

    filters = _filters(args)
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
    if answer.rewritten_question:
        print(f"(understood as: {answer.rewritten_question})")
    print(answer.answer)
    if answer.note:
        print(f"Note: {answer.note}")
    print()
    if answer.status == "answered":
        for citation in answer.citations:
            print(f"[{citation.ref}] {_where(citation)}")
            print(textwrap.indent(textwrap.fill(citation.text, 96), "    "))
    else:
        print("Closest passages:")
        for passage in answer.passages[:3]:
            print(f"  {passage.rank}. {_where(passage)}")


def _chat(args: argparse.Namespace, settings: Settings, index) -> None:
    from rag.answer import ask, turn_of
    from rag.retrieval import Filters

    filters = Filters.parse(args.filter)
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
            questions.append(json.loads(line)["question"])
        except (json.JSONDecodeError, KeyError, TypeError):
            raise RagError(f"{path}:{number}: JSON line without a question field") from None
    return questions


def _search(args: argparse.Namespace, settings: Settings, index) -> None:
    from rag.retrieval import check_question, search

    query = check_question(args.query, settings)
    result = search(index, query, settings, k=args.k, filters=_filters(args))
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
        print(textwrap.indent(textwrap.fill(" ".join(passage.text.split()), 96), "    "))


def _mentions(args: argparse.Namespace, index) -> None:
    from rag.mentions import find_mentions, mentions_csv, mentions_text, not_found_line

    result = find_mentions(index, args.term, _filters(args), use_glossary=not args.no_glossary)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    elif args.csv:
        sys.stdout.write(mentions_csv(result))
    else:
        print(mentions_text(result))
    if not result.reports and (args.json or args.csv):
        print(not_found_line(result), file=sys.stderr)


def _where(item) -> str:
    """Title — council, date — page, paragraph — source."""
    from dataclasses import asdict

    from rag.conversation import where

    return f"{where(asdict(item))} — {item.source}"


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


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    app = Path(__file__).resolve().parent.parent / "app.py"
    if not app.exists():
        raise RagError(f"the chat app is missing ({app}); run rag serve from a checkout of the project")
    env = {**os.environ, "RAG_INDEX_DIR": str(settings.index_dir)}
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
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
    print(f"Serving the chat on http://localhost:{args.port} (Ctrl-C to stop)", file=sys.stderr)
    sys.stderr.flush()
    if os.name == "posix":  # become the server, so that a stop signal sent to `rag serve` reaches it
        os.execve(sys.executable, command, env)
    return subprocess.call(command, env=env)


if __name__ == "__main__":
    sys.exit(main())
