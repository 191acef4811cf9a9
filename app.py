"""Streamlit chat over the council reports: layout and rendering only; rag/ decides everything."""

from __future__ import annotations

import re

import streamlit as st

from rag.answer import ask
from rag.errors import RagError
from rag.index import open_index, read_manifest
from rag.settings import load_settings

st.set_page_config(page_title="Council reports: ask with sources", page_icon="📑")


def plain(text: str) -> str:
    """Document text shown as text: every Markdown and HTML character escaped, so a link,
    an image or a tag inside a report is shown, never made live."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$&:])", r"\\\1", text)


@st.cache_resource(show_spinner="Loading the index and the model…")
def load_index(index_dir: str, built_at: str):
    """One open index per build, shared by every session (a rebuild changes built_at)."""
    return open_index(load_settings(index_dir=index_dir))


def where(item: dict) -> str:
    parts = [item["title"], ", ".join(p for p in (item.get("council"), item.get("meeting"), item.get("date")) if p)]
    if item.get("page"):
        parts.append(f"page {item['page']}")
    if item.get("paragraph"):
        parts.append(f"paragraph {item['paragraph']}")
    return " — ".join(p for p in parts if p)


def show_answer(answer: dict) -> None:
    st.markdown(plain(answer["answer"]))
    if answer["status"] == "not_found":
        st.caption("Closest passages, in case they help:")
        sources = [{**p, "ref": p["rank"]} for p in answer["passages"][:3]]
    else:
        sources = answer["citations"]
    for position, source in enumerate(sources):
        with st.expander(f"[{source['ref']}] {where(source)}", expanded=position < 2):
            st.markdown(f"> {plain(' '.join(source['text'].split()))}")
            st.caption(plain(source["source"]))


settings = load_settings()
st.title("Ask the council reports")

manifest = None
try:
    manifest = read_manifest(settings.index_dir)
except RagError as exc:
    st.error(str(exc))
if manifest is None:
    st.info("There is no index yet. Build it from the reports in corpus/, then reload this page:")
    st.code("rag index", language="bash")
    st.stop()

try:
    index = load_index(str(settings.index_dir), manifest["built_at"])
except RagError as exc:
    st.error(str(exc))
    st.stop()

info = index.info()
st.caption(
    f"{info['documents']} reports from {', '.join(info['councils']) or 'unknown councils'}, "
    f"{info['date_range'][0] or '?'} to {info['date_range'][1] or '?'}; index built {info['built_at']}. "
    "Every answer shows the passages it comes from."
)

if "messages" not in st.session_state:
    st.session_state.messages = []

for message in st.session_state.messages:
    with st.chat_message(message["role"]):
        if message["role"] == "user":
            st.markdown(plain(message["content"]))
        else:
            show_answer(message["answer"])

question = st.chat_input("Ask about the reports, e.g. How many children were looked after in August 2018?")
if question:
    st.session_state.messages.append({"role": "user", "content": question})
    with st.chat_message("user"):
        st.markdown(plain(question))
    with st.chat_message("assistant"):
        try:
            with st.spinner("Searching the reports…"):
                answer = ask(index, question, settings).to_dict()
        except RagError as exc:
            st.error(str(exc))
        else:
            show_answer(answer)
            st.session_state.messages.append({"role": "assistant", "answer": answer})
