import io
import json
import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT

from rag.cli import COMMANDS, _parser, main

LAC = "How many children were looked after by Middlesbrough as of 10 August 2018?"


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_ask_json_follows_the_design_contract(capsys, corpus_index):
    code, out, _ = run(capsys, "ask", LAC, "--json", "--index-dir", str(corpus_index.index_dir))
    assert code == 0
    answer = json.loads(out)
    assert set(answer) >= {"question", "answer", "status", "citations", "passages", "timings_ms"}
    assert answer["status"] == "answered"
    assert "507" in answer["answer"]
    refs = {int(n) for n in re.findall(r"\[(\d+)\]", answer["answer"])}
    assert refs and refs == {c["ref"] for c in answer["citations"]}
    chunk_texts = [row[0] for row in corpus_index.query("SELECT text FROM chunks")]
    for citation in answer["citations"]:
        assert set(citation) >= {
            "ref",
            "doc_id",
            "title",
            "source",
            "page",
            "paragraph",
            "date",
            "council",
            "text",
            "score",
        }
        assert any(citation["text"] in text for text in chunk_texts)
    first = answer["citations"][0]
    assert first["source"].endswith("middlesbrough-2018-09-executive-member-report-childrens-care.txt")
    assert (first["date"], first["council"]) == ("2018-09", "Middlesbrough Council")
    assert [p["rank"] for p in answer["passages"]] == list(range(1, len(answer["passages"]) + 1))
    assert answer["timings_ms"]["total"] > 0


@pytest.mark.parametrize(
    "question",
    [
        "How many potholes did Middlesbrough fill in 2021?",
        "What was Stockton's highways maintenance budget in 2019?",
    ],
)
def test_unanswerable_questions_are_not_found_and_cite_nothing(capsys, corpus_index, question):
    code, out, _ = run(capsys, "ask", question, "--json", "--index-dir", str(corpus_index.index_dir))
    answer = json.loads(out)
    assert code == 0 and answer["status"] == "not_found" and answer["citations"] == []
    assert answer["passages"]  # the closest passages are still offered


def test_batch_gives_one_json_line_per_question_in_order(capsys, corpus_index, tmp_path):
    batch = tmp_path / "questions.jsonl"
    batch.write_text(
        json.dumps({"question": LAC})
        + "\n\n"
        + json.dumps({"question": "Who chairs the Strategic Improvement Board?"})
        + "\n"
    )
    code, out, _ = run(capsys, "ask", "--batch", str(batch), "--index-dir", str(corpus_index.index_dir))
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [a["question"] for a in lines] == [
        LAC,
        "Who chairs the Strategic Improvement Board?",
    ]
    assert "John Pearce" in lines[1]["answer"]


def test_search_filters_by_council(capsys, corpus_index):
    code, out, _ = run(
        capsys,
        "search",
        "children in care",
        "--json",
        "--filter",
        "council=Stockton",
        "--index-dir",
        str(corpus_index.index_dir),
    )
    passages = json.loads(out)["passages"]
    assert code == 0 and passages
    assert {p["council"] for p in passages} == {"Stockton-on-Tees Borough Council"}


def test_info_json_lists_what_the_index_holds(capsys, corpus_index):
    code, out, _ = run(capsys, "info", "--json", "--index-dir", str(corpus_index.index_dir))
    info = json.loads(out)
    assert code == 0
    assert info["documents"] == 5 and info["chunks"] == corpus_index.size
    assert info["model"] == "bge-small-en-v1.5" and info["size_bytes"] > 0 and info["skipped"] == []
    assert info["built_at"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["ask", "   "], "the question is empty"),
        (["ask", "why " * 2500], "the limit is 2000"),
        (["search", "x", "--filter", "colour=red"], "bad filter"),
    ],
)
def test_bad_questions_get_one_clear_line(capsys, corpus_index, args, message):
    code, out, err = run(capsys, *args, "--index-dir", str(corpus_index.index_dir))
    assert code == 1 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_missing_index_and_missing_corpus_get_one_clear_line(capsys, tmp_path):
    code, _, err = run(capsys, "ask", LAC, "--index-dir", str(tmp_path / "none"))
    assert code == 1 and "run `rag index`" in err
    code, _, err = run(capsys, "index", str(tmp_path / "no-corpus"), "--index-dir", str(tmp_path / "i"))
    assert code == 1 and "does not exist" in err and len(err.strip().splitlines()) == 1


def test_the_installed_command_runs_and_debug_shows_a_traceback(tmp_path):
    rag = [sys.executable, "-m", "rag.cli"]
    quiet = subprocess.run(
        rag + ["info", "--index-dir", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, check=False
    )
    loud = subprocess.run(
        rag + ["info", "--debug", "--index-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert quiet.returncode == 1 and quiet.stderr.startswith("error: no index at")
    assert "Traceback" in loud.stderr and "IndexMissingError" in loud.stderr


def test_every_command_has_help_and_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    subcommands = _parser()._subparsers._group_actions[0].choices
    assert set(subcommands) == set(COMMANDS)
    for name, parser in subcommands.items():
        assert parser.format_help().strip()
        assert f"rag {name}" in readme, f"`rag {name}` is not documented in README.md"


NOT_HELD = "How many potholes did Middlesbrough fill in 2021?"


@pytest.mark.parametrize(
    "args, message",
    [
        (["search", "children in care", "-k", "0"], "must be 1 or more, not 0"),
        (["search", "children in care", "-k", "-1"], "must be 1 or more, not -1"),
        (["ask", LAC, "-k", "0"], "must be 1 or more, not 0"),
        (
            ["search", "children in care", "--since", "2021-02-30"],
            "'2021-02-30' is not a date on the calendar",
        ),
        (
            ["ask", LAC, "--since", "2022-01-01", "--until", "2021-12-31"],
            "since 2022-01-01 is after until 2021-12-31",
        ),
        (
            ["search", "children in care", "--since", "2022", "--until", "2021-06"],
            "since 2022 is after until 2021-06",
        ),
        (["ask", LAC, "--until", ""], "filter until is empty"),
        (["search", "children in care", "--council", "Atlantis"], "No report matches council = Atlantis"),
        (["ask", LAC, "--source", "corpus/nothing-*"], "No report matches source = corpus/nothing-*"),
        (
            ["ask", LAC, "--council", "Stockton", "--since", "2020", "--until", "2021"],
            "No report matches council = Stockton, 2020 to 2021",
        ),
        (["serve", "--port", "99999"], "--port 99999 is not a port number"),
    ],
)
def test_input_the_cli_used_to_accept_silently_gets_one_clear_line(capsys, corpus_index, args, message):
    code, out, err = run(capsys, *args, "--index-dir", str(corpus_index.index_dir))
    assert code == 1 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "command, content, message",
    [
        ("ask --batch", '{"question": 5}\n', "the question field is int, not text"),
        ("ask --batch", '{"question": ["a", "b"]}\n', "the question field is list, not text"),
        (
            "eval",
            '{"id": "q1", "answers": ["507"]}\n',
            "questions.jsonl:1: expected a JSON object with a question",
        ),
        (
            "eval",
            '{"question": "Who?"}\n[1, 2]\n',
            "questions.jsonl:2: expected a JSON object with a question",
        ),
        ("eval", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "cannot read question set"),
    ],
)
def test_bad_question_files_get_one_clear_line(capsys, corpus_index, tmp_path, command, content, message):
    questions = tmp_path / "questions.jsonl"
    questions.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, out, err = run(capsys, *command.split(), str(questions), "--index-dir", str(corpus_index.index_dir))
    assert code == 1 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_k_is_the_number_of_passages_an_answer_shows(capsys, corpus_index):
    index_dir = str(corpus_index.index_dir)
    _, out, _ = run(capsys, "ask", LAC, "-k", "1", "--json", "--index-dir", index_dir)
    answer = json.loads(out)
    cited = {c["passage_rank"] for c in answer["citations"]}
    assert answer["status"] == "answered" and cited
    assert {p["rank"] for p in answer["passages"]} == {1} | cited  # the first passage, and any cited
    for k in (2, 8):
        _, out, _ = run(capsys, "ask", NOT_HELD, "-k", str(k), "--json", "--index-dir", index_dir)
        assert [p["rank"] for p in json.loads(out)["passages"]] == list(range(1, k + 1))
    code, out, _ = run(capsys, "ask", NOT_HELD, "-k", "2", "--index-dir", index_dir)
    closest = out.split("Closest passages:\n")[1].splitlines()
    assert code == 0 and [line.split(".")[0].strip() for line in closest] == ["1", "2"]


def test_chat_honours_its_filters(capsys, corpus_index, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("How many children are looked after?\nquit\n"))
    code, out, _ = run(
        capsys, "chat", "--council", "Stockton", "--json", "--index-dir", str(corpus_index.index_dir)
    )
    line = next(line for line in out.splitlines() if "{" in line)  # after the greeting and the prompt
    answer = json.loads(line[line.index("{") :])
    assert code == 0 and answer["passages"]
    assert {p["council"] for p in answer["passages"]} == {"Stockton-on-Tees Borough Council"}


def test_a_reader_that_stops_early_ends_the_command_quietly(corpus_index):
    """`rag info | head -0`: the reader has gone before the first line is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "rag.cli", "info", "--index-dir", str(corpus_index.index_dir)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 141 and done.stderr == ""


def test_text_output_shows_a_reports_control_characters_escaped(capsys, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "2022-05-12-parking.md").write_text(
        "# Parking \x1b[2J\x1b[31mServices\x1b[0m Report\n\nExample Borough Council, Cabinet, 12 May 2022\n\n"
        "1. Penalty charge notices issued in 2022: 4,321 \x1b]0;pwned\x07 with a bell\r and a carriage return.\n",
        encoding="utf-8",
    )
    index_dir = str(tmp_path / "index")
    assert run(capsys, "index", str(corpus), "--quiet", "--index-dir", index_dir)[0] == 0
    for args in (
        ["search", "penalty charge notices"],
        ["ask", "How many penalty charge notices were issued in 2022?"],
    ):
        code, out, _ = run(capsys, *args, "--index-dir", index_dir)
        assert code == 0 and "4,321" in out
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", out)
        assert r"Parking \x1b[2J\x1b[31mServices\x1b[0m Report" in out and r"\x1b]0;pwned\x07" in out
    _, out, _ = run(capsys, "search", "penalty charge notices", "--json", "--index-dir", index_dir)
    assert "\x1b[31mServices" in json.loads(out)["passages"][0]["title"]  # JSON stays JSON: the text as it is


def _offered(capsys, question: str, index_dir: str, heading: str) -> tuple[dict, str, list[str]]:
    """`rag ask --json`'s answer, the text `rag ask` prints, and the lines under `heading` in it."""
    _, out, _ = run(capsys, "ask", question, "--json", "--index-dir", index_dir)
    code, text, _ = run(capsys, "ask", question, "--index-dir", index_dir)
    assert code == 0
    return json.loads(out), text, text.split(f"{heading}\n")[1].split("\n\n")[0].splitlines()


def test_an_answer_shows_the_next_best_sentences_after_its_citations(capsys, corpus_index):
    heading = "Other passages that may answer it:"
    answer, text, offered = _offered(capsys, LAC, str(corpus_index.index_dir), heading)
    assert answer["status"] == "answered" and 1 <= len(answer["candidates"]) <= 2
    assert offered[::2] == [f"  - {c['text']}" for c in answer["candidates"]]
    assert (
        text.index("[1] ") < text.index("Other passages that may answer it:") < text.index("Also retrieved:")
    )


def test_a_refusal_shows_the_sentences_that_may_answer_it_with_their_reports(capsys, corpus_index):
    heading = "These passages may answer it:"
    answer, text, offered = _offered(capsys, NOT_HELD, str(corpus_index.index_dir), heading)
    assert answer["status"] == "not_found" and 1 <= len(answer["candidates"]) <= 3
    assert len(offered) == 2 * len(answer["candidates"])  # each sentence, then its report
    for line, candidate in zip(offered[::2], answer["candidates"]):
        assert line == f"  - {candidate['text']}"
    assert text.index("These passages may answer it:") < text.index("Closest passages:")
