# Vision AI — the two commands a newcomer needs:
#   make dashboard   install, initialise $VISION_HOME (default .vision/), serve at http://127.0.0.1:8866
#   make test        install (with test tools, Chromium and PostgreSQL), run the whole suite
# Everything installs into .venv; nothing is installed system-wide except Debian's chromium and
# postgresql for tests (the tests start their own throw-away PostgreSQL cluster, never the system one).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
CHROMIUM ?= /usr/bin/chromium
# The installed package keeps its data in ~/.vision; from a checkout `make dashboard` keeps it beside
# the code, in .vision/ (git-ignored), as it always has. Set VISION_HOME to use another folder.
export VISION_HOME ?= $(CURDIR)/.vision

.PHONY: dashboard test bench install install-test chromium postgresql azurite clean

$(VENV)/.base: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.test: $(VENV)/.base
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.base
install-test: $(VENV)/.test

# Debian's Chromium drives the end-to-end tests (Playwright's own browser download is not used).
chromium:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the end-to-end tests..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "The end-to-end tests need Chromium at $(CHROMIUM)."; \
		echo "Install it with: sudo apt-get install chromium   (or set CHROMIUM=/path/to/chromium)"; \
		exit 1; \
	fi

# Debian's PostgreSQL: tests/support/postgres.py runs its initdb/pg_ctl in a temporary folder.
postgresql:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's postgresql for the tests on PostgreSQL..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	else \
		echo "The tests on PostgreSQL need its server binaries (/usr/lib/postgresql/*/bin)."; \
		echo "Install them with: sudo apt-get install postgresql"; \
		exit 1; \
	fi

# Azurite, the Azure Storage emulator (npm), for the Azure connector's tests: into the venv, not system-wide.
AZURITE := $(VENV)/node/node_modules/.bin/azurite
$(AZURITE):
	@command -v npm >/dev/null || { echo "The Azure connector tests need Node.js and npm (apt-get install nodejs npm)."; exit 1; }
	npm install --silent --no-audit --no-fund --prefix $(VENV)/node azurite@3
azurite: $(AZURITE)

dashboard: install
	$(PY) -m vision_widgets init --demo
	$(PY) -m vision_widgets serve

test: install-test chromium postgresql azurite
	$(PY) -m pytest

bench: install-test chromium
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
