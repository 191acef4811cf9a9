"""`rag api` as a real server on a free port (uvicorn in its own process, over an index built here
with the real model), driven over HTTP as a script would: the replies are the CLI's --json
objects, errors are JSON with the right status, the key is enforced, the docs are served, and a
rebuild swapped in while the server runs is picked up."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import CORPUS, ROOT, free_port, stop_server

from rag.errors import IndexMissingError

REPORTS = (
    "middlesbrough-2018-09-executive-member-report-childrens-care.txt",
    "middlesbrough-2020-04-05-members-briefing-childrens-services-covid.txt",
)
ADDED = "stockton-2017-09-14-cabinet-childrens-services-progress-q1.md"
QUESTION = "How many children were looked after in August 2018?"
KEY = "s3cret-key-for-tests"


def call(port: int, method: str, path: str, body=None, headers: dict | None = None, raw: bytes | None = None):
    """(status, JSON reply or text, headers) of one request to the server."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=300) as reply:
            status, text, got = reply.status, reply.read().decode(), reply.headers
    except urllib.error.HTTPError as error:
        status, text, got = error.code, error.read().decode(), error.headers
    if got.get("content-type", "").startswith("application/json"):
        return status, json.loads(text), got
    return status, text, got


def rag(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
        check=False,
    )


@contextmanager
def api_server(index_dir: Path, log: Path, *flags: str, env: dict | None = None, ready=(200,)):
    """`rag api` on a free port until /health answers one of `ready`; yields the port."""
    port = free_port()
    with log.open("w") as output:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rag.cli",
                "api",
                "--port",
                str(port),
                "--index-dir",
                str(index_dir),
                *flags,
            ],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 300
        while True:
            if server.poll() is not None:
                raise AssertionError(f"rag api exited with {server.returncode}: {log.read_text()}")
            try:
                if call(port, "GET", "/health")[0] in ready:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"rag api did not become ready: {log.read_text()}")
            time.sleep(0.3)
        yield port
    finally:
        stop_server(server)
    assert "Traceback" not in log.read_text()


@pytest.fixture(scope="module")
def small_index(tmp_path_factory) -> Path:
    """Two sample reports, indexed with the real model."""
    from rag.build.ingest import build_index
    from rag.settings import Settings

    folder = tmp_path_factory.mktemp("api")
    corpus = folder / "corpus"
    corpus.mkdir()
    for name in REPORTS:
        shutil.copy(CORPUS / name, corpus / name)
    settings = Settings(corpus_dir=corpus, index_dir=folder / "index")
    build_index([corpus], settings, progress=False)
    return settings.index_dir


@pytest.fixture(scope="module")
def api(small_index, tmp_path_factory):
    """A server with no key over the small index."""
    with api_server(small_index, tmp_path_factory.mktemp("api-log") / "api.log") as port:
        yield port


def without_timings(answer: dict) -> dict:
    return {key: value for key, value in answer.items() if key != "timings_ms"}


def test_ask_replies_exactly_what_rag_ask_json_prints(api, small_index):
    status, reply, headers = call(api, "POST", "/ask", {"question": QUESTION})
    assert status == 200 and headers["content-type"] == "application/json"
    printed = rag("ask", QUESTION, "--json", "--index-dir", str(small_index))
    assert printed.returncode == 0, printed.stderr
    assert without_timings(reply) == without_timings(json.loads(printed.stdout))
    assert reply["status"] == "answered" and "507" in reply["answer"]
    assert reply["timings_ms"]["total"] > 0

    body = {"question": QUESTION, "k": 2, "filters": {"council": "Middlesbrough", "since": "2018"}}
    status, reply, _ = call(api, "POST", "/ask", body)
    printed = rag(
        "ask", QUESTION, "--json", "-k", "2", "--council", "Middlesbrough", "--since", "2018",
        "--index-dir", str(small_index),
    )  # fmt: skip
    assert status == 200 and without_timings(reply) == without_timings(json.loads(printed.stdout))


def test_ask_reads_a_follow_up_against_the_history(api):
    _, first, _ = call(api, "POST", "/ask", {"question": QUESTION})
    status, reply, _ = call(api, "POST", "/ask", {"question": "And in 2020?", "history": [first]})
    assert status == 200 and reply["rewritten_question"] and "2020" in reply["rewritten_question"]


def test_search_info_trend_mentions_and_health(api, small_index):
    status, found, _ = call(api, "GET", "/search?q=children+looked+after&k=3")
    printed = json.loads(
        rag("search", "children looked after", "-k", "3", "--json", "--index-dir", str(small_index)).stdout
    )
    assert status == 200 and found["query"] == "children looked after"
    assert [p["chunk_id"] for p in found["passages"]] == [p["chunk_id"] for p in printed["passages"]]

    status, info, _ = call(api, "GET", "/info")
    assert status == 200 and info["documents"] == 2 and info["chunks"] > 0 and info["skipped"] == []

    status, trend, _ = call(api, "GET", "/trend?measure=children+looked+after")
    printed = json.loads(
        rag("trend", "children looked after", "--json", "--index-dir", str(small_index)).stdout
    )
    assert status == 200 and trend["status"] == "found"
    assert [p["value"] for p in trend["points"]] == [p["value"] for p in printed["points"]]
    assert 507 in [p["value"] for p in trend["points"]]

    status, mentions, _ = call(api, "GET", "/mentions?term=covid&council=Middlesbrough")
    printed = json.loads(rag("mentions", "covid", "--json", "--index-dir", str(small_index)).stdout)
    assert status == 200 and mentions["total"] == printed["total"] > 0
    assert mentions["reports"] == printed["reports"]

    status, health, _ = call(api, "GET", "/health")
    assert status == 200 and health == {"status": "ok", "built_at": info["built_at"]}


@pytest.mark.parametrize(
    "method, path, body, raw, status, says",
    [
        ("POST", "/ask", None, b"{not json", 400, "not JSON"),
        ("POST", "/ask", {}, None, 400, '"question" field'),
        ("POST", "/ask", ["a list"], None, 400, "JSON object"),
        ("POST", "/ask", {"question": "   "}, None, 400, "the question is empty"),
        ("POST", "/ask", {"question": "x" * 2001}, None, 400, "the limit is 2000"),
        ("POST", "/ask", {"question": QUESTION, "k": 0}, None, 400, "must be 1 or more"),
        ("POST", "/ask", {"question": QUESTION, "k": 1000}, None, 400, "at most 100"),
        ("POST", "/ask", {"question": QUESTION, "filter": {}}, None, 400, "unknown field 'filter'"),
        ("POST", "/ask", {"question": QUESTION, "filters": {"town": "x"}}, None, 400, "unknown filter"),
        ("POST", "/ask", {"question": QUESTION, "filters": {"since": "2021-02-30"}}, None, 400, "not a date"),
        (
            "POST",
            "/ask",
            {"question": QUESTION, "filters": {"council": "Nowhere"}},
            None,
            400,
            "No report matches",
        ),
        ("POST", "/ask", {"question": QUESTION, "history": [{"no": 1}]}, None, 400, "history[0]"),
        ("POST", "/ask", {"question": QUESTION, "history": [{"question": 7}]}, None, 400, "history[0]"),
        ("POST", "/ask", {"question": QUESTION, "history": "x"}, None, 400, "history must be a list"),
        ("POST", "/ask", {"question": "x" * 70_000}, None, 413, "larger than 64 kB"),
        ("GET", "/search", None, None, 400, "give the q parameter"),
        ("GET", "/search?q=x&k=many", None, None, 400, "whole number"),
        ("GET", "/search?q=x&county=Kent", None, None, 400, "unknown parameter 'county'"),
        ("GET", "/trend?measure=children&since=2019-13", None, None, 400, "not a date"),
        ("GET", "/mentions?term=%20", None, None, 400, "give the term parameter"),
        ("GET", "/ask", None, None, 405, "GET is not allowed"),
        ("GET", "/nowhere", None, None, 404, "no endpoint /nowhere"),
    ],
)
def test_bad_requests_are_json_errors_with_their_status(api, method, path, body, raw, status, says):
    got, reply, headers = call(api, method, path, body, raw=raw)
    assert got == status and headers["content-type"] == "application/json"
    assert list(reply) == ["error"] and says in reply["error"], reply


def test_docs_and_openapi_are_served(api):
    status, document, _ = call(api, "GET", "/openapi.json")
    assert status == 200 and document["openapi"].startswith("3.")
    assert {"/ask", "/search", "/info", "/health", "/trend", "/mentions"} <= set(document["paths"])
    assert document["paths"]["/ask"]["post"]["requestBody"]
    answer_fields = set(document["components"]["schemas"]["Answer"]["properties"])
    assert answer_fields >= {"answer", "status", "citations", "passages", "candidates"}
    status, page, headers = call(api, "GET", "/docs")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "/openapi.json" in page and "POST</span> /ask" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page  # nothing fetched


def test_the_key_is_required_when_set_and_a_rebuild_is_picked_up(small_index, tmp_path):
    """With --api-key: 401 without it or with another, 200 with it. Then `rag index` adds a
    report while questions are being asked: each is answered (old build, then new), and the
    new build is served once it is in."""
    index_dir = tmp_path / "index"
    shutil.copytree(small_index, index_dir)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in REPORTS:
        shutil.copy(CORPUS / name, corpus / name)
    bearer = {"Authorization": f"Bearer {KEY}"}
    with api_server(index_dir, tmp_path / "api.log", "--api-key", KEY) as port:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
            status, reply, got = call(port, "POST", "/ask", {"question": QUESTION}, headers)
            assert status == 401 and "Bearer" in reply["error"] and got["www-authenticate"] == "Bearer"
        assert call(port, "GET", "/info")[0] == 401
        assert call(port, "GET", "/health")[0] == 200 and call(port, "GET", "/docs")[0] == 200
        status, document, _ = call(port, "GET", "/openapi.json")
        assert status == 200 and document["security"] == [{"bearer": []}]
        status, before, _ = call(port, "GET", "/info", headers=bearer)
        assert status == 200 and before["documents"] == 2

        shutil.copy(CORPUS / ADDED, corpus / ADDED)
        statuses: list[int] = []
        stop = threading.Event()

        def asking() -> None:
            while not stop.is_set():
                statuses.append(call(port, "POST", "/ask", {"question": QUESTION}, bearer)[0])

        asker = threading.Thread(target=asking)
        asker.start()
        try:
            built = rag("index", "--quiet", "--index-dir", str(index_dir), str(corpus))
        finally:
            stop.set()
            asker.join()
        assert built.returncode == 0, built.stderr
        assert statuses and set(statuses) == {200}
        status, after, _ = call(port, "GET", "/info", headers=bearer)
        assert status == 200 and after["documents"] == 3 and after["built_at"] != before["built_at"]
        status, found, _ = call(port, "GET", "/search?q=Stockton+cabinet&k=1", headers=bearer)
        assert status == 200 and found["passages"][0]["source"].endswith(ADDED)
    said = (tmp_path / "api.log").read_text()
    assert "bearer key required" in said and "warning" not in said


def test_no_index_is_404_and_an_unreadable_one_503_and_a_wide_address_warns(small_index, tmp_path):
    """On 0.0.0.0 with no key: a warning. No index: 404 with what to run. Then an index built
    with another model is swapped in: 503, saying how to rebuild it."""
    index_dir = tmp_path / "index"
    env = {"RAG_EMBEDDING_MODEL": "all-MiniLM-L6-v2"}  # the small index is bge-small-en-v1.5
    with api_server(index_dir, tmp_path / "api.log", "--host", "0.0.0.0", env=env, ready=(404,)) as port:
        status, reply, _ = call(port, "POST", "/ask", {"question": QUESTION})
        assert status == 404 and "no index" in reply["error"] and "rag index" in reply["error"]
        assert call(port, "GET", "/health")[0] == 404
        shutil.copytree(small_index, tmp_path / "index.new")
        os.rename(tmp_path / "index.new", index_dir)
        status, reply, _ = call(port, "POST", "/ask", {"question": QUESTION})
        assert status == 503 and "rag index --rebuild" in reply["error"], reply
        assert call(port, "GET", "/search?q=children")[0] == 503
    said = (tmp_path / "api.log").read_text()
    assert "warning: listening on 0.0.0.0 with no key" in said


def test_api_on_a_busy_port_says_so_in_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = rag("api", "--port", str(port), "--index-dir", str(tmp_path))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and f"port {port} on 127.0.0.1 is already in use" in done.stderr


def test_requests_before_the_index_and_models_are_loaded_are_503(tmp_path):
    """The server answers at once; until its first load is done, a request is told to come back."""
    from rag.api import ApiError, Service
    from rag.settings import Settings

    service = Service(Settings(index_dir=tmp_path / "index"))
    with pytest.raises(ApiError) as raised:
        service.index()
    assert raised.value.status == 503 and raised.value.headers == {"Retry-After": "5"}
    service.warm_up()  # no index: loaded, and each request now says there is none
    with pytest.raises(IndexMissingError):
        service.index()
