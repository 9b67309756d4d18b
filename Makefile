# Two commands for a fresh clone: `make serve` runs the service, `make test` runs every check.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# torch is installed first and pinned: it is the CPU build; anything newer pulls a CUDA build.
TORCH := torch==2.13.0

.PHONY: serve test lint typecheck pytest browser index

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.test: pyproject.toml $(VENV)/.runtime
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# `make serve PORT=8080 HOST=0.0.0.0`. Plain assignments: a HOST or PORT variable that a shell
# exports for its own reasons does not move the server; only the command line does.
HOST = 127.0.0.1
PORT = 8000

serve: $(VENV)/.runtime
	$(BIN)/bot serve --host $(HOST) --port $(PORT)

# Debian's Chromium drives the real-browser tests (Playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

lint: $(VENV)/.test
	$(BIN)/ruff check bot tests migrations benchmarks
	$(BIN)/ruff format --check bot tests migrations benchmarks

typecheck: $(VENV)/.test
	$(BIN)/mypy

pytest: $(VENV)/.test browser
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/pytest

test: lint typecheck pytest

# The shipped articles' index (data/kb_index.npz): a first start on the seed content reads it
# instead of embedding every article. Run after editing data/knowledge/; a test checks it is current.
index: $(VENV)/.runtime
	HF_HUB_OFFLINE=1 $(BIN)/python -c 'from bot.config import Settings; from bot.retrieval.index import build_index, load_encoder; s = Settings(); build_index(s.data_dir / "knowledge", s.data_dir, load_encoder(s.base_model), s.base_model)'
