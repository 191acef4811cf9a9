"""Streamlit chat over the council reports: layout and rendering only; rag/ decides everything.

Safety: nothing here uses unsafe_allow_html. Every text that comes from a document, a question,
a file name or an error goes through escape_markdown (or st.code / st.text), so tags, links and
images inside a report are shown as text. The only HTML is our own, fixed: the skip link and focus
script (PAGE_SCRIPT) and the script that scrolls to a source (scroll_script: an element key made of
our own numbers), never a document's text."""

from __future__ import annotations

import contextlib
import functools
import json
import math
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import streamlit as st

from rag.answer.verify import load_verifier
from rag.app.conversation import (
    OTHER_CANDIDATES,
    answer_as_text,
    answer_lines,
    answer_sources,
    candidate_lines,
    conversation_markdown,
    describe_filters,
    escape_markdown,
    excerpt_markdown,
    filters_from_choices,
    highlighted_markdown,
    where,
)
from rag.app.conversations import ConversationError, ConversationStore, conversations_path
from rag.app.corpus import (
    date_bounds,
    describe_corpus,
    example_questions,
    list_reports,
    original_file,
    readable_time,
)
from rag.app.jobs import IndexJobs, describe_progress, progress_fraction
from rag.app.pages import PAGE_IMAGES_CACHED, PageImage, page_image
from rag.app.serving import CurrentIndex
from rag.errors import IndexMissingError, RagError
from rag.followup import turn_from_json
from rag.glossary import glossary
from rag.mentions import (
    Mentions,
    every_month,
    find_mentions,
    mentions_answer,
    mentions_csv,
    mentions_question,
    mentions_scope,
    not_found_line,
    summary,
    where_in_report,
)
from rag.models.embeddings import get_embedder
from rag.qa import ask
from rag.read.documents import SUPPORTED_SUFFIXES
from rag.settings import load_settings
from rag.trends import trend, trend_answer, trend_chart, trend_csv, trend_question, trend_rows

st.set_page_config(page_title="Council reports: ask with sources", page_icon="📑")

# Constants are commented, not given a docstring: Streamlit's "magic" would show a bare string on the page.
CONVERSATIONS_LISTED = 30  # saved conversations listed in the sidebar (the latest changed)
MENTIONS_SHOWN = 20  # passages shown under each report in the Mentions view (the CSV has every one)
MENTIONS_CAPTION = (
    "Every passage that mentions the term, its plural or its other names in the council vocabulary"
)
MIME = {".pdf": "application/pdf", ".txt": "text/plain", ".md": "text/markdown", ".markdown": "text/markdown"}


@st.cache_resource(show_spinner=False)
def current_index(index_dir: str) -> CurrentIndex:
    """The index every session shares; it opens a rebuild (from this app or `rag index`) once,
    while questions already asked finish on the build they started with."""
    return CurrentIndex(load_settings(index_dir=index_dir))


@st.cache_resource(show_spinner=False)
def index_jobs(index_dir: str, corpus_dir: str) -> IndexJobs:
    """The index's builds, run by the server process: one at a time, shared by every session,
    going on whatever the page does."""
    return IndexJobs(load_settings(index_dir=index_dir, corpus_dir=corpus_dir))


@st.cache_resource(show_spinner=False)
def conversation_store(path: str) -> ConversationStore:
    """The saved conversations, beside the index (rag.app.conversations)."""
    return ConversationStore(Path(path))


@st.cache_resource(show_spinner="Loading the model…")
def load_model(model: str, batch_size: int) -> None:
    get_embedder(model, batch_size).embed_queries(["warm up"])


@st.cache_resource(show_spinner="Loading the answer check's model…")
def load_answer_check(name: str) -> None:
    load_verifier(name)


@st.cache_data(show_spinner="Rendering the page…", max_entries=PAGE_IMAGES_CACHED, ttl="1h")
def page_png(path: str, page: int, modified: float, quote: str | None) -> PageImage:
    return page_image(Path(path), page, quote=quote)


def badge(ref: int) -> str:
    """The [n] marker, drawn the same in an answer and on its source (only our own numbers here);
    it reads "source n", so a screen reader speaks what the eye sees."""
    return f":blue-badge[source {ref}]"


# The page's own HTML, fixed text: a "Skip to the chat" link, first in the sidebar and shown when
# the keyboard reaches it, and focus in the chat box when the page loads.
PAGE_SCRIPT = """
<a href="#" id="skip-to-chat" class="skip-to-chat">Skip to the chat</a>
<style>
.skip-to-chat { position: absolute; left: -10000px; }
.skip-to-chat:focus { position: static; }
</style>
<script>
(() => {
  if (window.ragPageScript) return;  // once per page, however often Streamlit redraws it
  window.ragPageScript = true;
  const focusChat = (tries) => {
    const box = document.querySelector('[data-testid="stChatInputTextArea"]');
    if (box) box.focus();
    else if (tries > 0) setTimeout(() => focusChat(tries - 1), 100);
  };
  document.addEventListener("click", (event) => {
    if (event.target.closest && event.target.closest("#skip-to-chat")) {
      event.preventDefault();
      focusChat(20);
    }
  });
  if (!document.activeElement || document.activeElement === document.body) focusChat(100);
})();
</script>
"""


def scroll_script(key: str, visit: int) -> str:
    """Bring the expander with `key` (ours: "source-<turn>-<position>") into view and put the
    keyboard on it. `visit` makes each click's script new, so that it runs again."""
    return f"""<script>
(() => {{
  const visit = {visit};
  const bring = (tries) => {{
    const summary = document.querySelector({json.dumps(f".st-key-{key} summary")});
    if (summary) {{
      summary.scrollIntoView({{block: "start"}});
      summary.focus({{preventScroll: true}});
    }} else if (tries > 0) setTimeout(() => bring(tries - 1), 100);
  }};
  bring(30);
}})();
</script>"""


def source_key(turn_key: str, position: int) -> str:
    """The key of a source's expander: its open state is in st.session_state under it."""
    return f"source-{turn_key}-{position}"


def go_to_source(key: str) -> None:
    """A badge clicked: its source opens, and the page scrolls to it (scroll_script)."""
    st.session_state[key] = True
    st.session_state.scroll_to = key
    st.session_state.scroll_visits = st.session_state.get("scroll_visits", 0) + 1


def streamed(markdown: str):
    for piece in re.findall(r"\S+\s*", markdown):
        yield piece
        time.sleep(0.015)


# --- sidebar ---------------------------------------------------------------------------------


def filter_panel(index, info: dict) -> tuple:
    st.header("Ask within")
    reports = list_reports(index)
    council = st.selectbox("Council", [None, *info["councils"]], format_func=lambda c: c or "All councils")
    report = st.selectbox("Report", [None, *reports], format_func=lambda r: r.label() if r else "All reports")
    bounds = date_bounds(info)
    since = until = None
    if bounds:
        since = st.date_input(
            "Meetings from", bounds[0], min_value=bounds[0], max_value=bounds[1], format="DD/MM/YYYY"
        )
        until = st.date_input(
            "Meetings until", bounds[1], min_value=bounds[0], max_value=bounds[1], format="DD/MM/YYYY"
        )
    try:
        filters = filters_from_choices(council, report.source if report else None, since, until, bounds)
    except RagError as exc:  # e.g. "Meetings from" after "Meetings until"
        st.error(escape_markdown(str(exc)))
        st.stop()
    k = st.slider("Sources shown", 1, 10, settings.top_k, help="Passages listed under each answer.")
    modes = ["extractive", "llm"] if settings.llm_url else ["extractive"]
    mode = st.selectbox(
        "Answer mode",
        modes,
        index=modes.index(settings.answer_mode) if settings.answer_mode in modes else 0,
        disabled=len(modes) == 1,
        help="Extractive: the answer quotes the reports' own sentences; no language model is used. "
        "LLM: a language model at llm_url writes the answer; its citations are checked, and anything "
        "unverifiable is dropped (set RAG_LLM_URL to enable).",
    )
    st.caption("Filters apply to the next question and are shown with its answer.")
    with st.expander("Council vocabulary"):
        st.caption("Questions using one of these names also search for the others.")
        for term in glossary():
            st.markdown(f"**{escape_markdown(' / '.join(term.names[:3]))}**: {escape_markdown(term.meaning)}")
    return filters, describe_filters(filters, {r.source: r.label() for r in reports}), k, mode


def conversation_panel(info: dict | None, store: ConversationStore | None) -> None:
    st.header("Conversations")
    turns = st.session_state.turns
    current = st.session_state.conversation
    st.button(
        "New conversation", disabled=not turns, icon=":material/restart_alt:", on_click=new_conversation
    )
    st.download_button(
        "Export as Markdown",
        conversation_markdown(turns, index_info=info),
        file_name="council-reports-conversation.md",
        mime="text/markdown",
        disabled=not turns,
        icon=":material/download:",
        on_click="ignore",
    )
    if store is None:
        st.caption(
            escape_markdown(st.session_state.get("conversations_problem", "Conversations are not saved."))
        )
        return
    saved = store.get(current) if current else None
    if saved is not None:
        with st.popover("Rename", icon=":material/edit:"):
            st.text_input("Name", saved.name or "", key=f"name-{current}", placeholder=saved.title)
            st.button("Save the name", key="rename-conversation", on_click=rename_conversation, args=(store,))
        with st.popover("Delete", icon=":material/delete:"):
            st.caption("Deletes this conversation for good, for everyone who has its link.")
            st.button(
                "Delete this conversation",
                key="delete-conversation",
                type="primary",
                on_click=delete_conversation,
                args=(store,),
            )
    # read-only: a server shared by people who need not see each other's questions lists only
    # this browser session's conversations (each is still saved, and opened by its link)
    mine = st.session_state.my_conversations if settings.read_only else None
    listed = store.list(limit=CONVERSATIONS_LISTED, ids=mine)
    if listed:
        st.caption(
            "Your saved conversations in this browser session (others open from their link):"
            if settings.read_only
            else "Saved conversations, the latest first:"
        )
    for conversation in listed:
        st.button(
            f"{escape_markdown(conversation.title)} · {conversation.date}",
            key=f"conversation-{conversation.id}",
            type="tertiary",
            icon=":material/chat:",
            disabled=conversation.id == current,
            help="The conversation open now" if conversation.id == current else "Reopen this conversation",
            on_click=open_conversation,
            args=(conversation.id,),
        )


def new_conversation() -> None:
    st.query_params.pop("conversation", None)
    st.session_state.conversation = None
    st.session_state.turns = []


def open_conversation(conversation_id: str) -> None:
    """Put the conversation in the address; the page then loads it (follow_link)."""
    st.query_params["conversation"] = conversation_id


def rename_conversation(store: ConversationStore) -> None:
    current = st.session_state.conversation
    try:
        store.rename(current, st.session_state.get(f"name-{current}", ""))
    except ConversationError as exc:
        st.session_state.notice = (False, str(exc))


def delete_conversation(store: ConversationStore) -> None:
    try:
        store.delete(st.session_state.conversation)
        st.session_state.notice = (True, "The conversation was deleted.")
    except ConversationError as exc:
        st.session_state.notice = (False, str(exc))
    new_conversation()


def follow_link(store: ConversationStore | None) -> None:
    """Open the conversation the address names (?conversation=ID): after a reload, a restart of
    the app, or from a shared link."""
    wanted = st.query_params.get("conversation")
    if wanted == st.session_state.conversation:
        return
    turns = store.load(wanted) if store is not None and wanted else None
    if wanted and turns is None:
        st.session_state.notice = (False, "That conversation is not saved here (deleted?): a new one starts.")
        st.query_params.pop("conversation", None)
    st.session_state.conversation = wanted if turns is not None else None
    st.session_state.turns = turns or []
    if turns is not None and wanted not in st.session_state.my_conversations:
        st.session_state.my_conversations.append(wanted)


def save_turn(store: ConversationStore | None, turn: dict) -> None:
    """Keep the turn in the current conversation (one is created, and put in the address, with
    its first question)."""
    if store is None:
        return
    try:
        if st.session_state.conversation is None:
            st.session_state.conversation = store.create()
            st.session_state.my_conversations.append(st.session_state.conversation)
            st.query_params["conversation"] = st.session_state.conversation
        store.append(st.session_state.conversation, turn)
    except ConversationError as exc:
        st.warning(escape_markdown(f"Not saved: {exc}"), icon=":material/warning:")


def index_panel(index, info: dict | None) -> None:
    st.header("Index")
    if info:
        st.caption(
            f"{info['documents']} reports, {info['chunks']} passages, built {escape_markdown(readable_time(info['built_at']))}."
        )
        if info["skipped"]:
            with st.expander(f"{len(info['skipped'])} files could not be indexed"):
                for item in info["skipped"]:
                    st.markdown(f"- {escape_markdown(item['source'])}: {escape_markdown(item['reason'])}")
    else:
        st.caption("No index yet.")
    if settings.read_only:  # rag serve --read-only: no rebuild, no uploads, no removal
        st.caption("Read-only: the index is updated with `rag index` on the server.")
        if index is not None:
            reports_panel(None, index)
        return
    jobs = index_jobs(str(settings.index_dir), str(settings.corpus_dir))
    status = jobs.status()
    build_progress(jobs, run_every=1.0 if status and status.running else None)

    rebuild = st.checkbox("Re-read every file", help="Otherwise only new and changed files are read.")
    if st.button("Update the index" if info else "Build the index", icon=":material/refresh:"):
        start(functools.partial(jobs.update, rebuild))

    generation = st.session_state.setdefault("upload_generation", 0)
    uploads = st.file_uploader(
        "Add reports to the corpus",
        type=[s.lstrip(".") for s in SUPPORTED_SUFFIXES],
        accept_multiple_files=True,
        max_upload_size=max(1, math.ceil(settings.max_file_mb)),
        key=f"upload-{generation}",
        help=f"PDF, text, Markdown or HTML, up to {settings.max_file_mb:g} MB each; indexed straight away.",
    )
    if uploads and st.button("Add and index", type="primary", icon=":material/upload:"):
        files = [(f.name, f.getvalue()) for f in uploads]
        start(functools.partial(jobs.add, files), clear_uploads=True)

    failed_panel(jobs)
    if index is not None:
        reports_panel(jobs, index)


def build_progress(jobs: IndexJobs, run_every: float | None) -> None:
    """The build running (for every session), redrawn each second; when one this session saw
    ends, the page reloads with the new index and says how it went."""

    @st.fragment(run_every=run_every)
    def live() -> None:
        status = jobs.status()
        if status is None:
            return
        if status.running:
            st.session_state.watching = status.id
            st.progress(progress_fraction(status), text=escape_markdown(describe_progress(status)))
            st.button(
                "Cancel",
                icon=":material/cancel:",
                key="cancel-build",
                on_click=jobs.cancel,
                disabled=status.state == "cancelling",
                help="Stop the update: the index stays as it was; uploaded files are kept under Not indexed.",
            )
        elif st.session_state.get("watching") == status.id or run_every:
            st.session_state.pop("watching", None)
            st.session_state.notice = (status.ok, status.message)
            st.rerun()

    live()


def start(action, clear_uploads: bool = False) -> None:
    """Start a build (refused, with the reason, when one is running) and show its progress."""
    try:
        status = action()
    except RagError as exc:
        st.session_state.notice = (False, str(exc))
    else:
        st.session_state.watching = status.id
        if clear_uploads:
            st.session_state.upload_generation += 1
    st.rerun()


def failed_panel(jobs: IndexJobs) -> None:
    failed = jobs.failed()
    if not failed:
        return
    with st.expander(f"Not indexed ({len(failed)})", expanded=True, icon=":material/error:"):
        for item in failed:
            st.markdown(f"**{escape_markdown(item.name)}**: {escape_markdown(item.reason)}")
            retry, remove = st.columns(2)
            if retry.button("Retry", key=f"retry-{item.name}", icon=":material/replay:"):
                start(functools.partial(jobs.retry, item.name))
            if remove.button("Remove", key=f"forget-{item.name}", icon=":material/delete:"):
                try:
                    jobs.forget(item.name)
                    st.session_state.notice = (True, f"Removed {item.name}.")
                except RagError as exc:
                    st.session_state.notice = (False, str(exc))
                st.rerun()


def reports_panel(jobs: IndexJobs | None, index) -> None:
    """The reports the index holds; each with a Remove action, unless `jobs` is None (read-only)."""
    reports = list_reports(index)
    with st.expander(f"Reports in the index ({len(reports)})"):
        for report in reports:
            st.markdown(escape_markdown(report.label()))
            if jobs is None:
                continue
            with st.popover("Remove", icon=":material/delete:"):
                st.caption(
                    f"Deletes {escape_markdown(report.source)} from the corpus folder and updates the index."
                )
                if st.button("Delete and update the index", key=f"remove-{report.source}", type="primary"):
                    start(functools.partial(jobs.remove, report.source, report.label()))


# --- the conversation ------------------------------------------------------------------------


def show_sources(answer: dict, sources: list, key: str) -> None:
    for position, source in enumerate(sources):
        if (
            source.ref is None
            and (position == 0 or sources[position - 1].ref is not None)
            and answer["citations"]
        ):
            st.caption("Also retrieved, not quoted in the answer:")
        label = escape_markdown(source.location())
        if source.ref is not None:
            label = f"{badge(source.ref)} {label}"
        opened = position < 2 and (source.ref is not None or not answer["citations"])
        # keyed and tracked, so that its badge in the answer can open it (go_to_source)
        with st.expander(label, expanded=opened, key=source_key(key, position), on_change="rerun"):
            st.markdown(excerpt_markdown(source))
            note = " · the sentence in bold is the one the answer quotes" if source.highlight else ""
            st.caption(escape_markdown(source.source) + note)
            show_original(source, f"{key}-{position}")


def show_original(source, key: str) -> None:
    path = original_file(source.source)
    if path is None:
        st.caption("The original file is no longer in the corpus folder.")
        return
    suffix = path.suffix.lower()
    if (
        suffix == ".pdf"
        and source.page
        and st.toggle(f"Show page {source.page} of the PDF", key=f"page-{key}")
    ):
        quote = source.quote()
        try:
            image = page_png(str(path), source.page, path.stat().st_mtime, quote)
        except RagError as exc:
            st.error(escape_markdown(str(exc)))
        else:
            if image.marked:
                caption = f"Page {source.page}, the quoted sentence marked"
            elif quote:
                caption = f"Page {source.page} (the quoted sentence could not be located on it)"
            else:
                caption = f"Page {source.page}"
            st.image(image.png, caption=caption)
    st.download_button(
        "Download the report" + (f" (the passage is on page {source.page})" if source.page else ""),
        functools.partial(path.read_bytes),
        file_name=path.name,
        mime=MIME.get(suffix, "application/octet-stream"),
        key=f"file-{key}",
        on_click="ignore",
        icon=":material/description:",
    )


def show_question(turn: dict) -> None:
    with st.chat_message("user"):
        st.caption("You asked")  # who speaks, in words (the avatar alone is only an icon)
        st.markdown(escape_markdown(turn["question"]))


def csv_button(label: str, data: str, file_name: str, key: str) -> None:
    st.download_button(
        label,
        data,
        file_name=file_name,
        mime="text/csv",
        key=key,
        on_click="ignore",
        icon=":material/download:",
    )


def show_trend(turn: dict, key: str) -> None:
    """A question about change over time: the chart, the table of cited points, a CSV download."""
    result = turn["trend"]
    by_name, searched = (_found_by(turn["answer"], how) for how in ("name", "search"))
    if not result.points and (by_name or searched):
        st.warning(
            f"**No value of {escape_markdown(result.measure)} that the reader could date.** "
            + escape_markdown(turn["answer"]["answer"]),
            icon=":material/search_off:",
        )
        for heading, lines in ((NAMED_HEADING, by_name), (SEARCHED_HEADING, searched)):
            if lines:
                st.markdown(heading)
            for line in lines:
                st.markdown(line)
        return
    if not result.points:
        show_refusal(turn["answer"])
        return
    st.markdown(
        escape_markdown(
            f"{result.measure}: {len(result.points)} values stated in the reports, by the date each refers to."
        )
    )
    st.altair_chart(trend_chart(result), width="stretch")
    st.dataframe(trend_rows(result), hide_index=True)
    csv_button("Download as CSV", trend_csv(result), "trend.csv", f"trend-csv-{key}")
    named = turn.get("named")
    if named is not None and named.total:
        reports = len(named.reports)
        st.caption(
            escape_markdown(
                f"{named.total} passage{'s' * (named.total > 1)} in {reports} report{'s' * (reports > 1)} name"
                f"{'s' * (named.total == 1)} {result.measure}. The points above are the values whose date the"
                " reader could tell; a value in a table it cannot read, or stated in other words, is only in"
                f' the passages: ask "Which reports mention {result.measure}?" or download them all.'
            )
        )
        csv_button(
            "Download every passage that names it (CSV)",
            mentions_csv(named),
            "passages.csv",
            f"trend-named-{key}",
        )
    if by_name:
        with st.expander(f"{len(by_name)} more sentences name it with a figure the reader did not place"):
            for line in by_name:
                st.markdown(line)
    if searched:
        with st.expander(f"{len(searched)} sentences with a figure that a search for it finds"):
            for line in searched:
                st.markdown(line)


NAMED_HEADING = "These sentences name it with a figure; check whether one is its value:"
SEARCHED_HEADING = (
    "These sentences, with a figure, are in the passages a search for it finds; the reports may call"
    " it something else:"
)


def _found_by(answer: dict, how: str) -> list[str]:
    """The Markdown lines of a trend answer's offered sentences found by `how` ("name", "search")."""
    return candidate_lines(
        {"candidates": [c for c in answer.get("candidates") or [] if c.get("found_by") == how]}
    )


def new_turn(question: str, filters_text: str, k: int = 0) -> dict:
    """A turn of the conversation as it is saved: the question, the filters it was asked within,
    how many sources it shows, when it was asked."""
    asked_at = datetime.now(UTC).isoformat(timespec="seconds")
    return {"question": question, "filters": filters_text, "k": k, "asked_at": asked_at}


def trend_turn(question: str, asked, filters, filters_text: str) -> dict:
    """A question about change over time: the trend, within the sidebar's filters (a year in the
    question, "since 2017", narrows the sidebar's start; a council it names, the councils)."""
    turn = new_turn(question, filters_text)
    within = filters.narrowed(asked.since, None, asked.council)
    try:
        turn["trend"] = trend(
            index, asked.measure, within.council, within.since, within.until, within.source, settings
        )
        turn["answer"] = trend_answer(turn["trend"], question)
        if turn["trend"].points:  # every passage that names it, for values the reader could not place
            with contextlib.suppress(RagError):  # without them the trend still stands
                turn["named"] = find_mentions(index, asked.measure, within)
    except RagError as exc:
        turn["error"] = str(exc)
    return turn


def mentions_turn(question: str, term: str, filters, filters_text: str) -> dict:
    """A question that asks which reports mention a term: every mention, with the sidebar's filters."""
    turn = new_turn(question, filters_text)
    try:
        turn["mentions"] = find_mentions(index, term, filters)
        turn["answer"] = mentions_answer(turn["mentions"], question)
    except RagError as exc:
        turn["error"] = str(exc)
    return turn


def answer_turn(question: str, filters, filters_text: str, k: int, mode: str) -> dict:
    """Which reports mention a term: the mentions (none is an answer too); how a measure changed
    over time: the trend; any other question, or a trend question that finds no value and no
    sentence naming it with a figure: the answer."""
    term = mentions_question(question)
    if term:
        council, first, last = mentions_scope(question)  # "... in Kent in 2019": those reports only
        # the search is exhaustive: a term found nowhere is an answer too ("No passage mentions ...")
        return mentions_turn(question, term, filters.narrowed(first, last, council), filters_text)
    asked = trend_question(question)
    if asked:
        turn = trend_turn(question, asked, filters, filters_text)
        if "trend" not in turn or turn["trend"].points or turn["trend"].offered:
            return turn
    return ask_turn(question, filters, filters_text, k, mode)


def show_answer(turn: dict, key: str, stream: bool = False) -> None:
    if turn.get("mentions") is not None:
        st.caption(MENTIONS_CAPTION)
        show_mentions(turn["mentions"], key)
        st.caption(filters_caption(turn))
        return None
    if turn.get("trend") is not None:
        return show_trend(turn, key)
    if turn.get("error"):
        st.error(escape_markdown(turn["error"]))
        return
    answer = turn["answer"]
    if answer.get("rewritten_question"):
        st.caption("Understood as: " + escape_markdown(answer["rewritten_question"]))
    if answer.get("note"):
        st.info(escape_markdown(answer["note"]), icon=":material/info:")
    if answer["status"] == "not_found":
        show_refusal(answer)
        sources = answer_sources(answer, min(3, turn["k"]))
        show_sources(answer, sources, key)
    else:
        sources = answer_sources(answer, turn["k"])
        show_answer_lines(answer, sources, key, stream)
        show_sources(answer, sources, key)
        if answer.get("candidates"):
            with st.expander(OTHER_CANDIDATES):
                for line in candidate_lines(answer):
                    st.markdown(line)
    seconds = answer["timings_ms"].get("total", 0) / 1000
    st.caption(f"{filters_caption(turn)} · {seconds:.1f} s")
    with st.popover("Copy as text", icon=":material/content_copy:"):
        st.code(answer_as_text(answer, turn["filters"]), language=None, wrap_lines=True)


def filters_caption(turn: dict) -> str:
    return f"Filters: {escape_markdown(turn['filters'])}" if turn["filters"] else "All reports searched"


def show_refusal(answer: dict) -> None:
    """Not in these reports: said plainly, then the sentences that may answer it, or else a
    heading for the closest passages shown beneath."""
    st.warning("**Not in these reports.** " + escape_markdown(answer["answer"]), icon=":material/search_off:")
    if answer.get("candidates"):
        st.markdown("These passages may answer it:")
        for line in candidate_lines(answer):
            st.markdown(line)
    elif answer["passages"]:
        st.markdown("You may mean:")


def show_answer_lines(answer: dict, sources: list, key: str, stream: bool) -> None:
    """Each answer line, then its source badges: buttons that open the source below and
    scroll to it."""
    positions = {s.ref: position for position, s in enumerate(sources) if s.ref is not None}
    for number, (body, refs) in enumerate(answer_lines(answer)):
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            if stream:
                st.write_stream(streamed(escape_markdown(body)))
            else:
                st.markdown(escape_markdown(body), width="content")
            for place, ref in enumerate(refs):
                if ref not in positions:  # every [n] has its citation; shown as text should one not
                    st.markdown(badge(ref), width="content")
                    continue
                st.button(
                    badge(ref),
                    key=f"badge-{key}-{number}-{place}",
                    type="tertiary",
                    help=f"Open source {ref} below",
                    on_click=go_to_source,
                    args=(source_key(key, positions[ref]),),
                )


def ask_turn(question: str, filters, filters_text: str, k: int, mode: str) -> dict:
    """Ask with the conversation so far, so that "And in 2019?" is understood; an LLM's reply
    streams into the page as it comes."""
    turn = new_turn(question, filters_text, k)
    history = [turn_from_json(t["answer"]) for t in st.session_state.turns if "answer" in t]
    live = st.empty()
    streamed_text: list[str] = []

    def on_text(piece: str) -> None:
        streamed_text.append(piece)
        live.markdown(escape_markdown("".join(streamed_text)))

    try:
        answer = ask(
            index,
            question,
            settings.replace(answer_mode=mode),
            k=k,
            filters=filters,
            history=history,
            on_text=on_text,
        )
        turn["answer"] = answer.to_dict()
    except RagError as exc:
        turn["error"] = str(exc)
    live.empty()
    return turn


def mentions_view(filters, filters_text: str) -> None:
    """Every passage that mentions a term (rag.mentions): a chart by month, each report with its
    count and passages (the term in bold, the text escaped), and the whole list as CSV."""
    st.subheader("Which reports mention…")
    term = st.text_input("Term", placeholder="e.g. family hub", key="mentions-term")
    st.caption(MENTIONS_CAPTION + (f" · Filters: {escape_markdown(filters_text)}" if filters_text else ""))
    if not term.strip():
        return
    try:
        result = find_mentions(index, term, filters)
    except RagError as exc:
        st.warning(escape_markdown(str(exc)))
        return
    if not result.reports:
        st.info(escape_markdown(not_found_line(result)), icon=":material/search_off:")
        return
    show_mentions(result, "view")


def show_mentions(result: Mentions, key: str) -> None:
    """The mentions found: the totals, a chart by month, each report with its count and
    passages (the term in bold, the text escaped), and the whole list as CSV."""
    if not result.reports:
        st.info(escape_markdown(not_found_line(result)), icon=":material/search_off:")
        return
    st.markdown(escape_markdown(summary(result)))
    months = every_month(result.by_month)
    if months:
        st.bar_chart(
            {"month": [m for m, _ in months], "passages": [c for _, c in months]}, x="month", y="passages"
        )
    if result.undated:
        st.caption(f"{result.undated} passages are in reports without a meeting month, not in the chart.")
    csv_button("Download every passage (CSV)", mentions_csv(result), "mentions.csv", f"mentions-csv-{key}")
    for report in result.reports:
        with st.expander(f"**{report.count}** · {escape_markdown(where(report.to_dict()))}"):
            st.caption(escape_markdown(report.source))
            for passage in report.passages[:MENTIONS_SHOWN]:
                st.markdown(
                    f"*{escape_markdown(where_in_report(passage))}*  \n"
                    + highlighted_markdown(passage.text, result.spans(passage))
                )
            if report.count > MENTIONS_SHOWN:
                st.caption(f"… and {report.count - MENTIONS_SHOWN} more in the CSV.")


def choose_example(question: str) -> None:
    st.session_state.pending = question


# --- the page --------------------------------------------------------------------------------

settings = load_settings()
st.session_state.setdefault("turns", [])
st.session_state.setdefault("conversation", None)  # the saved conversation's id, also in the address
st.session_state.setdefault("my_conversations", [])  # started or opened in this browser session
try:
    store = conversation_store(str(conversations_path(settings.index_dir)))
except ConversationError as exc:  # e.g. a read-only disk: the chat works, without saving
    store = None
    st.session_state.conversations_problem = str(exc)
follow_link(store)
index, info, problem = None, None, None
try:
    index = current_index(str(settings.index_dir)).get()
    load_model(settings.embedding_model, settings.embed_batch_size)
    if settings.verifier_model:
        load_answer_check(settings.verifier_model)
    info = index.info()
except IndexMissingError:
    index = None  # no index yet: the page offers to build one
except RagError as exc:
    index, problem = None, str(exc)

st.title("Ask the council reports")
if settings.verifier_model and index is not None:
    st.caption(
        f"Answers are checked by a local model ({escape_markdown(settings.verifier_model)}) before they"
        " are shown: one it doubts is offered as a passage to check, not as the answer."
    )
with st.sidebar:  # first in the sidebar, so first for the keyboard
    st.html(PAGE_SCRIPT, unsafe_allow_javascript=True)
if "notice" in st.session_state:
    ok, message = st.session_state.pop("notice")
    (st.success if ok else st.warning)(escape_markdown(message))

if index is None:
    with st.sidebar:
        index_panel(None, None)
    if problem:
        st.error(escape_markdown(problem))
    st.info(
        "There is no index yet. Build it from the reports in the corpus folder with **Build the index** in the sidebar, or in a terminal:"
    )
    st.code("rag index", language="bash")
    st.stop()

with st.sidebar:
    view = st.radio(
        "View", ["Ask", "Mentions"], horizontal=True, help="Mentions: every passage that names a term."
    )
    filters, filters_text, k, mode = filter_panel(index, info)
if view == "Mentions":
    mentions_view(filters, filters_text)
    with st.sidebar:
        index_panel(index, info)
    st.stop()

st.caption(escape_markdown(describe_corpus(info)))
pending = st.session_state.pop("pending", None)
if not st.session_state.turns and not pending:
    st.markdown(
        "Ask a question about these reports. Each answer quotes the reports' own sentences and shows where "
        "they come from (report, meeting date, page, paragraph), so you can check it. Try one:"
    )
    for number, example in enumerate(example_questions(settings, index)):
        st.button(
            example, key=f"example-{number}", on_click=choose_example, args=(example,), icon=":material/help:"
        )


def turn_key(number: int) -> str:
    """The key of a turn's widgets: its conversation and its place in it, so that a source closed,
    or a page shown, in one conversation is not closed or shown in the next one opened."""
    return f"{st.session_state.conversation or 'new'}-{number}"


for number, turn in enumerate(st.session_state.turns):
    show_question(turn)
    with st.chat_message("assistant"):
        st.caption("Answer")
        show_answer(turn, key=turn_key(number))

question = (
    st.chat_input("Ask about the reports, e.g. How many children were looked after in August 2018?")
    or pending
)
if question:
    turn = {"question": question}
    show_question(turn)
    with st.chat_message("assistant"):
        st.caption("Answer")
        with st.spinner("Searching the reports…"):
            turn = answer_turn(question, filters, filters_text, k, mode)
        st.session_state.turns.append(turn)
        save_turn(store, turn)
        show_answer(turn, key=turn_key(len(st.session_state.turns) - 1), stream=True)
if "scroll_to" in st.session_state:  # a badge was clicked: its source is open, bring it into view
    st.html(
        scroll_script(st.session_state.pop("scroll_to"), st.session_state.scroll_visits),
        unsafe_allow_javascript=True,
    )

with st.sidebar:  # after the question, so that export includes it
    conversation_panel(info, store)
    index_panel(index, info)
