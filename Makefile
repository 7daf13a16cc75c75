# Custom Training Basics: `make book` builds the site, `make test` runs every test.
# Both start by creating .venv and installing the locked requirements, so a fresh
# clone needs nothing but Python 3.11 and make.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8000
# axe-core for the browser tests (tests/test_browser.py), from package-lock.json.
AXE_STAMP := node_modules/.installed

.PHONY: help venv browser-tools book test serve bench clean distclean lock

help:
	@echo "make book    build the site into _build/html (creates .venv on first use)"
	@echo "make test    run the whole test suite (also installs axe-core; Chromium too in CI)"
	@echo "make serve   serve _build/html on http://127.0.0.1:$(PORT)"
	@echo "make bench   run the benchmarks, write _build/bench.json"
	@echo "make clean   remove _build (keeps .venv); make distclean removes .venv and node_modules too"
	@echo "make lock    re-resolve requirements*.txt into constraints.txt"

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11, or run make PYTHON=/path/to/python3.11"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required, $(PYTHON) is " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $@

# What the browser tests need besides .venv: axe-core (npm, into node_modules/) and Chromium.
# Chromium is a system package: installed here only in CI (CI=true, as root, Debian's apt);
# elsewhere a missing one makes the browser tests skip with a message saying how to install it.
browser-tools: $(AXE_STAMP)
	@if [ -z "$${CHROMIUM:-}" ] && ! command -v chromium >/dev/null; then \
	  if [ "$${CI:-}" = true ]; then \
	    echo "Installing Chromium (Debian's chromium package) for the browser tests"; \
	    apt-get update -qq; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	  else \
	    echo "Chromium not found: the browser tests will skip (apt-get install chromium)"; \
	  fi; \
	fi

$(AXE_STAMP): package.json package-lock.json
	@if ! command -v npm >/dev/null; then \
	  if [ "$${CI:-}" = true ]; then \
	    apt-get update -qq; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; \
	  else \
	    echo "npm not found: the browser tests will skip (install Node.js and npm)"; exit 0; \
	  fi; \
	fi; \
	npm ci --no-audit --no-fund && touch $@

book: $(STAMP)
	$(PY) tools/build.py

test: $(STAMP) browser-tools
	$(PY) -m pytest

serve:
	@test -f _build/html/index.html || { echo "No site yet: run make book first"; exit 1; }
	@echo "Serving the book on http://127.0.0.1:$(PORT) (Ctrl-C to stop)"
	$(PY) -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf _build

distclean: clean
	rm -rf $(VENV) node_modules

# A fresh, unconstrained resolution of the pinned direct dependencies, frozen. requirements.txt
# reads constraints.txt (-c), so the old lock is emptied first; it is restored if the install fails.
lock:
	rm -rf _build/lock-venv && mkdir -p _build
	cp constraints.txt _build/constraints.prev && : > constraints.txt
	$(PYTHON) -m venv _build/lock-venv
	_build/lock-venv/bin/pip install --quiet -r requirements-dev.txt || { cp _build/constraints.prev constraints.txt; exit 1; }
	{ echo "# The fully resolved set, made by \`make lock\` (pip freeze of a fresh venv). Installed with -c, so a fresh"; \
	  echo "# install gets exactly these versions."; \
	  _build/lock-venv/bin/pip freeze --exclude-editable | grep -v '^training-basics'; } > constraints.txt
	rm -rf _build/lock-venv
