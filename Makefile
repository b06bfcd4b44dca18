# Two commands set up everything on a fresh machine (see README.md):
#   make book   install into .venv, execute every chapter, write the HTML to _build/html
#               (and the class meetings' slide decks to _build/html/slides)
#   make test   install into .venv and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Without a GPU, a CPU build of torch (on the book's build machines pip finds this release as a
# local CPU wheel; a bare `pip install torch` would pull a multi-GB CUDA build). With a GPU, the
# newest CUDA build. Override with e.g. make test TORCH_SPEC="torch==2.5.1".
HAS_GPU := $(shell nvidia-smi -L >/dev/null 2>&1 && echo yes)
TORCH_SPEC ?= $(if $(HAS_GPU),torch,torch==2.13.0)
PIP := $(BIN)/python -m pip install --quiet --progress-bar off

.PHONY: book test lint bench smoke-gpu clean-book student sweep

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.torch-installed: | $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || $(PIP) "$(TORCH_SPEC)"
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch-installed
	$(PIP) -e ".[book,test]"
	touch $@

# Jupyter Book re-executes a notebook only when its own cells change, and Sphinx re-reads only
# changed pages. So that every output comes from the current topolib, the execution cache and
# Sphinx's saved doctrees are dropped whenever topolib's source or the stored sweep tables
# (results/*.csv, which the synthesis chapter reads) change. The chapters are
# executed side by side first (tools/execute_chapters.py, one torch thread each), into the
# cache that jupyter-book then reads.
TOPOLIB_HASH = $(shell cat $$(find topolib -name '*.py' | sort) | sha256sum | cut -c1-16)
RESULTS_HASH = $(shell cat $$(find results -name '*.csv' | sort) /dev/null | sha256sum | cut -c1-16)

# The build trains its own models (no downloads), notes which cache files the chapters used and
# publishes them with the site (_build/html/models, tools/publish_models.py). The note
# accumulates until `make clean-book`: a warm re-execution loads only part of the models (the
# rest are answered by cached evaluations), and must not unpublish the others.
book: export TOPOLIB_MODELS_URL =
book: export TOPOLIB_CACHE_LOG = $(CURDIR)/_build/models-used.txt
book: $(VENV)/.installed
	@if [ "$$(cat _build/.topolib-hash 2>/dev/null)" != "$(TOPOLIB_HASH)" ] || \
		[ "$$(cat _build/.results-hash 2>/dev/null)" != "$(RESULTS_HASH)" ]; then \
		echo "topolib or the sweep tables changed since the last build: re-executing every chapter"; \
		rm -rf _build/.jupyter_cache _build/.doctrees; fi
	$(BIN)/python tools/execute_chapters.py
	TOPOLIB_HASH=$(TOPOLIB_HASH) $(BIN)/jupyter-book build . --warningiserror --keep-going
	@echo "$(TOPOLIB_HASH)" > _build/.topolib-hash
	@echo "$(RESULTS_HASH)" > _build/.results-hash
	$(BIN)/python tools/make_slides.py
	$(BIN)/python tools/publish_models.py
	@echo "Book written to _build/html/index.html"

test: $(VENV)/.installed
	$(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/run_all.py

# The notebooks without their solutions, and a separate answer key (standard library only).
student:
	$(PYTHON) tools/student_edition.py --out _build/student

# The book's sweep (topolib.sweep.book_grid): every family on the circle, sphere and torus over
# seeds, at PROFILE, one torch thread per worker. Writes results/sweep-$(PROFILE).csv and its
# provenance (.json); finished jobs are kept in results/sweep-$(PROFILE)/ and not rerun.
PROFILE ?= cpu
sweep: $(VENV)/.installed
	$(BIN)/python -m topolib.sweep --profile $(PROFILE) --out results/sweep-$(PROFILE).csv

# Every chapter at the gpu profile's sizes on this CPU, training cut to one step per epoch
# (TOPOLIB_SMOKE=1), in a private temporary cache: catches the gpu code path's shape bugs.
smoke-gpu: $(VENV)/.installed
	$(BIN)/python tools/smoke_gpu.py

clean-book:
	rm -rf _build/html _build/jupyter_execute _build/.doctrees _build/.jupyter_cache _build/.topolib-hash _build/.results-hash _build/models-used.txt
