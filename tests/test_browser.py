"""The chat in a real browser: Debian's chromium driven by Playwright against `rag serve`.

`make install` installs chromium (apt-get, as root); this test installs nothing itself and skips,
saying why, where /usr/bin/chromium or the playwright package is missing."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import CORPUS, DATA, HOSTILE_QUESTION, ROOT, free_port, need, stop_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "tests" / "artifacts"
LAC = "How many children were looked after by Middlesbrough as of 10 August 2018?"
TREND = "How has the number of children looked after changed since 2017?"
PARISH_PDF = DATA / "pdf-torture" / "souldern-parish" / "2024-05-23 Annual Parish Meeting minutes.pdf"


def _wait_until_healthy(url: str, server: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"rag serve exited with {server.returncode}: {log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"rag serve did not answer on {url} within {seconds} s")


@contextlib.contextmanager
def opened(url: str, height: int = 1000):
    """A page of Debian's chromium (headless, Playwright) at `url`, and Playwright's `expect`;
    the test skips, saying why, where chromium or the playwright package is missing."""
    playwright = _playwright()
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": height})
            page.goto(url)
            yield page, playwright.expect
        finally:
            browser.close()


def _playwright():
    if not CHROMIUM.exists():
        pytest.skip(
            "/usr/bin/chromium is missing: run `make install` as root (it installs Debian's chromium)"
        )
    return pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is missing: make install"
    )


def _screenshot(page, path: Path) -> None:
    """The whole conversation: the chat keeps its newest message in view, so make the window
    tall enough for all of it, then put it back."""
    size = page.viewport_size
    height = page.evaluate(
        "document.querySelector('[data-testid=stAppScrollToBottomContainer]').scrollHeight"
    )
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(height, 2400))})
    page.wait_for_timeout(800)
    page.screenshot(path=str(path))
    page.set_viewport_size(size)


@pytest.fixture
def served_app(hostile_corpus, monkeypatch):
    """`rag serve` on a free localhost port, over the sample corpus and the hostile report,
    indexed into a temporary folder. Yields the URL."""
    with _served(hostile_corpus, monkeypatch) as url:
        yield url


@pytest.fixture
def served_pdf(tmp_path, monkeypatch):
    """`rag serve` over the sample corpus and a real PDF (a parish meeting's minutes)."""
    folder = tmp_path / "corpus"
    shutil.copytree(CORPUS, folder)
    shutil.copy(need(PARISH_PDF), folder / PARISH_PDF.name)
    with _served(folder, monkeypatch) as url:
        yield url


@pytest.fixture
def served_sample(tmp_path, monkeypatch):
    """`rag serve` over the sample corpus alone (as `make chat` shows it)."""
    folder = tmp_path / "corpus"
    shutil.copytree(CORPUS, folder)
    with _served(folder, monkeypatch) as url:
        yield url


@contextlib.contextmanager
def _served(corpus: Path, monkeypatch):
    from rag.build.ingest import build_index
    from rag.settings import Settings

    workdir = corpus.parent
    monkeypatch.chdir(workdir)  # sources are named corpus/... as in a checkout
    index_dir = workdir / "index"
    build_index([corpus], Settings(corpus_dir=corpus, index_dir=index_dir), progress=False)

    port = free_port()
    env = {
        **os.environ,
        "RAG_CORPUS_DIR": str(corpus),
        "STREAMLIT_SERVER_ADDRESS": "127.0.0.1",
    }
    rag = Path(sys.executable).with_name("rag")  # the console script beside this Python
    command = [str(rag)] if rag.exists() else [sys.executable, "-m", "rag.cli"]
    log = workdir / "serve.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [*command, "serve", "--port", str(port), "--index-dir", str(index_dir)],
            cwd=workdir,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, server, log)
        yield url
    finally:
        stop_server(server)


def test_a_question_in_a_real_browser_shows_cited_text_and_runs_no_document_script(served_app):
    playwright = _playwright()
    expect = playwright.expect

    dialogs: list[str] = []
    foreign: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.on(
                "request",
                lambda request: (
                    None
                    if request.url.startswith(("http://127.0.0.1", "data:", "blob:"))
                    else foreign.append(request.url)
                ),
            )
            page.goto(served_app)
            page.get_by_text("Ask the council reports").wait_for(timeout=120_000)

            # The first screen: what is loaded, and example questions; one click asks.
            expect(page.get_by_text("6 reports from")).to_be_visible(timeout=60_000)
            page.get_by_role("button", name=LAC).click()
            answer = page.get_by_test_id("stChatMessage").nth(1)
            source = answer.get_by_test_id("stExpander").first
            expect(source).to_be_visible(timeout=120_000)  # sources follow the streamed answer
            expect(answer.get_by_test_id("stCaptionContainer").first).to_have_text("Answer")  # who speaks
            expect(answer.get_by_test_id("stMarkdownContainer").filter(has_text="507").first).to_be_visible()
            expect(source.locator("summary")).to_contain_text("Executive Member Report to Council")
            excerpt = source.locator("strong", has_text="Current Children Looked After (LAC): 507")
            expect(excerpt).to_be_visible()  # the quoted sentence, in bold within its passage
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            _screenshot(page, ARTIFACTS / "screenshot.png")

            # A follow-up whose answer quotes the hostile report.
            page.get_by_test_id("stChatInputTextArea").fill(HOSTILE_QUESTION)
            page.keyboard.press("Enter")
            hostile = page.get_by_test_id("stChatMessage").nth(3)
            expect(hostile.get_by_test_id("stExpander").first).to_be_visible(timeout=120_000)
            expect(
                hostile.get_by_text('4,321 <script>window.__xss = 1; alert("script ran")</script>').first
            ).to_be_visible()
            expect(hostile.get_by_text("onerror=", exact=False).first).to_be_visible()  # shown as text
            assert len(page.get_by_test_id("stChatMessage").all()) == 4  # the history is kept
            flags = page.evaluate(
                "() => [window.__xss, window.__xss_img, window.__xss_raw, window.__xss_raw_img]"
                ".map(v => v === undefined ? null : v)"
            )
            assert flags == [None, None, None, None]
            assert (
                page.locator(
                    "img[src='x'], img[src*='attacker'], a[href*='attacker'], a[href^='javascript']"
                ).count()
                == 0
            )
            assert page.locator("script", has_text="__xss").count() == 0
            _screenshot(page, ARTIFACTS / "hostile.png")
        finally:
            browser.close()
    assert dialogs == []
    assert foreign == []  # nothing fetched from outside localhost (the Markdown image's host)


def test_an_upload_shows_its_progress_and_the_page_updates_itself_when_it_is_indexed(served_app, tmp_path):
    """AppTest cannot run the progress panel's timer; a browser does: nothing is clicked after
    "Add and index", and the page shows the progress, then the new report."""
    from test_app import BIG, big_report

    upload = tmp_path / BIG
    upload.write_bytes(big_report(100))
    with opened(served_app) as (page, expect):
        expect(page.get_by_text("Reports in the index (6)")).to_be_visible(timeout=120_000)
        page.locator("input[type=file]").set_input_files(str(upload))
        page.get_by_role("button", name="Add and index").click()
        expect(page.get_by_test_id("stProgress")).to_contain_text("passages embedded", timeout=120_000)
        expect(page.get_by_text(f"Added {BIG}.")).to_be_visible(timeout=300_000)
        expect(page.get_by_text("Reports in the index (7)")).to_be_visible()
        expect(page.get_by_test_id("stProgress")).to_have_count(0)


def test_a_badge_opens_its_source_and_the_page_shows_the_quote_marked_all_by_keyboard(served_pdf):
    with opened(served_pdf, height=800) as (page, expect):
        chat = page.get_by_test_id("stChatInputTextArea")
        expect(chat).to_be_focused(timeout=120_000)  # the page opens ready to type

        # From the top of the page, Tab reaches Streamlit's "Skip to main content", then ours,
        # before the sidebar's widgets.
        page.evaluate(
            "() => { const top = document.createElement('button');"
            " document.body.prepend(top); top.focus(); top.remove(); }"
        )
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to the chat")
        expect(skip).to_be_focused()
        expect(skip).to_be_visible()  # shown once the keyboard is on it
        page.keyboard.press("Enter")
        expect(chat).to_be_focused()
        page.keyboard.type("Which football club uses the Souldern playing fields?")
        page.keyboard.press("Enter")

        answer = page.get_by_test_id("stChatMessage").nth(1)
        source = answer.get_by_test_id("stExpander").first
        expect(source).to_be_visible(timeout=120_000)
        expect(source.locator("summary")).to_contain_text("page 2")
        expect(
            answer.get_by_test_id("stMarkdownContainer").filter(has_text="Brackley Town").first
        ).to_be_visible()
        quote = source.locator("strong", has_text="A five year agreement")
        expect(quote).to_be_visible()

        source.locator("summary").click()  # the reader closes source 1 and scrolls back up
        expect(quote).to_be_hidden()
        page.get_by_test_id("stAppScrollToBottomContainer").evaluate("chat => chat.scrollTo(0, 0)")
        badge = answer.get_by_role("button", name="source 1")
        badge.click()
        expect(quote).to_be_visible()  # its source opened
        expect(source.locator("summary")).to_be_focused()  # and the keyboard is on it
        expect(source.locator("summary")).to_be_in_viewport()

        page.keyboard.press("Tab")  # into the source: the "Show page 2" switch
        expect(source.get_by_role("switch", name="Show page 2 of the PDF")).to_be_focused()
        page.keyboard.press("Space")
        image = source.get_by_test_id("stImage")
        expect(image).to_contain_text("Page 2, the quoted sentence marked", timeout=60_000)
        expect(image.get_by_role("img")).to_have_js_property("complete", True)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        _screenshot(page, ARTIFACTS / "highlight.png")


def test_a_trend_question_shows_its_chart_in_the_chat(served_sample):
    with opened(served_sample) as (page, expect):
        chat = page.get_by_test_id("stChatInputTextArea")
        expect(chat).to_be_focused(timeout=120_000)
        chat.fill(TREND)
        page.keyboard.press("Enter")

        answer = page.get_by_test_id("stChatMessage").nth(1)
        chart = answer.get_by_test_id("stVegaLiteChart")
        expect(chart.locator("canvas, svg").first).to_be_visible(timeout=120_000)  # drawn
        expect(answer.get_by_text("children looked after:", exact=False).first).to_be_visible()
        expect(answer.get_by_test_id("stDataFrame")).to_be_visible()  # the cited points
        downloads = answer.get_by_test_id("stDownloadButton")  # the points, and every passage naming it
        expect(downloads).to_have_count(2)
        expect(downloads.nth(0)).to_contain_text("Download as CSV")
        expect(downloads.nth(1)).to_contain_text("Download every passage that names it")
        # beneath, closed: the sentences a search for the measure finds, which may name it otherwise
        searched = answer.get_by_test_id("stExpander").filter(has_text="a search for it finds")
        expect(searched).to_have_count(1)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        _screenshot(page, ARTIFACTS / "trend.png")
