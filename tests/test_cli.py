import json
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
        assert set(citation) >= {"ref", "doc_id", "title", "source", "page", "paragraph", "date", "council", "text", "score"}
        assert any(citation["text"] in text for text in chunk_texts)
    first = answer["citations"][0]
    assert first["source"].endswith("middlesbrough-2018-09-executive-member-report-childrens-care.txt")
    assert (first["date"], first["council"]) == ("2018-09", "Middlesbrough Council")
    assert [p["rank"] for p in answer["passages"]] == list(range(1, len(answer["passages"]) + 1))
    assert answer["timings_ms"]["total"] > 0


@pytest.mark.parametrize("question", ["How many potholes did Middlesbrough fill in 2021?",
                                      "What was Stockton's highways maintenance budget in 2019?"])
def test_unanswerable_questions_are_not_found_and_cite_nothing(capsys, corpus_index, question):
    code, out, _ = run(capsys, "ask", question, "--json", "--index-dir", str(corpus_index.index_dir))
    answer = json.loads(out)
    assert code == 0 and answer["status"] == "not_found" and answer["citations"] == []
    assert answer["passages"]  # the closest passages are still offered


def test_batch_gives_one_json_line_per_question_in_order(capsys, corpus_index, tmp_path):
    batch = tmp_path / "questions.jsonl"
    batch.write_text(json.dumps({"question": LAC}) + "\n\n" + json.dumps({"question": "Who chairs the Strategic Improvement Board?"}) + "\n")
    code, out, _ = run(capsys, "ask", "--batch", str(batch), "--index-dir", str(corpus_index.index_dir))
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [a["question"] for a in lines] == [LAC, "Who chairs the Strategic Improvement Board?"]
    assert "John Pearce" in lines[1]["answer"]


def test_search_filters_by_council(capsys, corpus_index):
    code, out, _ = run(capsys, "search", "children in care", "--json", "--filter", "council=Stockton",
                       "--index-dir", str(corpus_index.index_dir))
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
    quiet = subprocess.run(rag + ["info", "--index-dir", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, check=False)
    loud = subprocess.run(rag + ["info", "--debug", "--index-dir", str(tmp_path)], capture_output=True, text=True, cwd=ROOT,
                          check=False)
    assert quiet.returncode == 1 and quiet.stderr.startswith("error: no index at")
    assert "Traceback" in loud.stderr and "IndexMissingError" in loud.stderr


def test_every_command_has_help_and_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    subcommands = _parser()._subparsers._group_actions[0].choices
    assert set(subcommands) == set(COMMANDS)
    for name, parser in subcommands.items():
        assert parser.format_help().strip()
        assert f"rag {name}" in readme, f"`rag {name}` is not documented in README.md"
