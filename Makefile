# Two commands do all set-up on a fresh machine: `make chat` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install browser ocr index chat test eval bench-peer clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0   # the CPU build, before anything that pulls torch
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) browser ocr

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

test: install
	$(BIN)/pytest -q

eval: index
	$(BIN)/rag eval ../shared/eval/questions.jsonl

# Our stack beside LangChain's on the Kent folder (about half an hour on 2 cores).
bench-peer: $(STAMP)
	$(BIN)/pip install --quiet torch==2.13.0 -e '.[bench]'
	$(BIN)/python benchmarks/peer.py

clean:
	rm -rf $(VENV) index .index.* .pytest_cache
