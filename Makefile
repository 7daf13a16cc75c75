# Custom Training Basics: `make book` builds the site, `make test` runs every test.
# Both start by creating .venv from the lock, so a fresh clone needs nothing but
# Python 3.11, 3.12 or 3.13 and make.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# The first of these that is Python 3.11-3.13; `make book PYTHON=/path/to/python` picks another.
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
  $$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null && { echo $$p; break; }; done)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8000
# The plain, strict build: any cell error, stderr output or Sphinx warning fails it.
JB_BUILD := $(VENV)/bin/jupyter-book build . -W -n --keep-going
# Everything the site is made from: when none is newer than the site, `make book` does nothing.
SITE := _build/html/index.html
PDF := _build/html/custom-training-basics.pdf
SITE_INPUTS = _config.yml _toc.yml requirements.lock $(shell find book code tools -type f -not -path '*/__pycache__/*')

.PHONY: help venv book pdf colab test check lint serve lab bench canary clean distclean lock

help:
	@echo "make book     build the site into _build/html (creates .venv on first use)"
	@echo "make pdf      the whole book as one PDF, $(PDF) (needs Chromium)"
	@echo "make colab    _build/colab: what the workflow publishes on the colab branch"
	@echo "make test     run the whole test suite (lint, package, book, browser, Binder path)"
	@echo "make check    the author's edit loop: lint, the package tests and the claims tests (no book build)"
	@echo "make serve    serve _build/html on http://127.0.0.1:$(PORT)"
	@echo "make lab      open the chapters as notebooks in JupyterLab"
	@echo "make bench    run the benchmarks, write _build/bench.json"
	@echo "make canary   build and test against the newest releases (not the lock)"
	@echo "make clean    remove _build (keeps .venv); make distclean removes .venv and node_modules too"
	@echo "make lock     re-resolve requirements*.txt into requirements.lock and constraints.txt"

venv: $(STAMP)

# uv installs the hashed lock in seconds; it is bootstrapped with pip from the lock's own pin.
# --compile-bytecode: this machine sets PYTHONDONTWRITEBYTECODE, and without .pyc files every
# kernel's `import tensorflow` compiles from source (about 12 s instead of 4).
$(STAMP): requirements.lock
	@test -n "$(PYTHON)" || { echo "No Python 3.11, 3.12 or 3.13 found: install one, or run make PYTHON=/path/to/python3.x"; exit 1; }
	@v=$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || \
	  { echo "$(PYTHON) does not run: install Python 3.11, 3.12 or 3.13, or run make PYTHON=/path/to/python3.x"; exit 1; }; \
	case $$v in 3.11|3.12|3.13) ;; *) echo "Python 3.11, 3.12 or 3.13 is required; $(PYTHON) is Python $$v"; exit 1;; esac
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	sed -n '/^uv==/,/# via/p' requirements.lock > $(VENV)/uv-requirement.txt
	$(PY) -m pip install --isolated --quiet --disable-pip-version-check --require-hashes --no-deps -r $(VENV)/uv-requirement.txt
	$(VENV)/bin/uv pip sync --quiet --python $(PY) --compile-bytecode requirements.lock
	touch $@

book: $(SITE)

$(SITE): $(STAMP) $(SITE_INPUTS)
	$(JB_BUILD)
	touch $@

# The whole book as one PDF: the single-page build, printed by Chromium (tools/pdf.py says why).
pdf: $(PDF)

$(PDF): $(SITE)
	$(JB_BUILD) --builder singlehtml
	$(PY) tools/pdf.py _build/singlehtml $@

# The colab branch, which Colab's buttons open: the chapters' notebooks and the package they install.
colab: $(SITE)
	rm -rf _build/colab && mkdir -p _build/colab
	cp -r _build/html/_notebooks/. _build/colab/
	tar -c --exclude=__pycache__ pyproject.toml README.md code | tar -x -C _build/colab

# System tools the browser tests need: Chromium (Debian's `chromium`, or $$CHROMIUM) and npm, which
# installs axe-core from package-lock.json; the PDF's, poppler-utils. `make test` says what is
# missing; .ci/run installs them.
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: the browser tests will skip (apt-get install npm)"; fi

# The tests on both cores, each file's tests in one worker (-n 2 --dist loadfile: a module's fixture,
# such as Binder's environment, is made once); the first that needs the site runs `make book` (the
# checkout's own build, reused if up to date). PYTEST_ARGS: what to run, as pytest takes it
# (`make test PYTEST_ARGS="tests/test_book.py -x"`).
test: lint node_modules/.installed
	@[ -n "$${CHROMIUM:-}" ] || command -v chromium >/dev/null || echo "Chromium not found: the browser tests will skip (apt-get install chromium, or set CHROMIUM)"
	@command -v pdftotext >/dev/null || echo "pdftotext not found: the PDF test will skip (apt-get install poppler-utils)"
	$(PY) -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

# What an author runs after an edit: no build, no browser, no worker processes or new environments.
check: lint
	$(PY) -m pytest -n 2 -q -m "not book and not browser and not binder and not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check .

serve:
	@test -f $(SITE) || { echo "No site yet: run make book first"; exit 1; }
	@echo "Serving the book on http://127.0.0.1:$(PORT) (Ctrl-C to stop)"
	$(PY) -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

# The chapters open as notebooks in JupyterLab, as on Binder: postBuild, run with this
# environment's jupyter, makes jupytext JupyterLab's default viewer for Markdown here too.
lab: $(STAMP)
	PATH="$(abspath $(VENV))/bin:$$PATH" ./postBuild
	$(VENV)/bin/jupyter lab $(LAB_ARGS) book/intro.md

bench: $(STAMP)
	$(PY) benchmarks/run.py

canary:
	PYTHON="$(PYTHON)" tools/canary.sh

clean:
	rm -rf _build

distclean: clean
	rm -rf $(VENV) node_modules

# A fresh universal resolution (Python 3.11-3.13, every platform) of the pinned direct
# dependencies, with hashes; constraints.txt is the same pins without hashes, for Binder's pip.
lock: $(STAMP)
	: > constraints.txt
	$(VENV)/bin/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes --no-header \
	  --output-file requirements.lock requirements-dev.txt
	{ echo "# Made by \`make lock\` from requirements.lock (the same pins, without hashes): what Binder's pip installs with -c."; \
	  sed -e '/^-e /d' -e '/^ *#/d' -e '/^ *--hash/d' -e 's/ *\\$$//' requirements.lock; } > constraints.txt
