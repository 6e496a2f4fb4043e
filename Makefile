# Two commands a new user needs (see README): `make run` and `make test`. Both set everything up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONSTRAINTS := requirements/constraints.txt
# Qt's offscreen and xcb platform plugins need these shared libraries on a bare Debian.
QT_SYSTEM_LIBS := libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup run test lint bench package lock clean system-deps

setup: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@$(MAKE) --no-print-directory system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) torch==2.13.0
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e ".[dev,package]"
	touch $(STAMP)

# Installs Qt's system libraries when one is missing and we may (root, apt); otherwise says which.
system-deps:
	@missing=""; for lib in libEGL.so.1 libxkbcommon.so.0 libfontconfig.so.1 libdbus-1.so.3; do \
		ldconfig -p | grep -q "$$lib" || missing="$$missing $$lib"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && apt-get install -y -qq $(QT_SYSTEM_LIBS) >/dev/null; \
		else echo "warning: Qt needs$$missing (install: $(QT_SYSTEM_LIBS))"; fi; fi

run: setup
	$(BIN)/cxr-explain view

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports && $(BIN)/mypy

bench: setup
	$(BIN)/python benchmarks/bench_loading.py

# The desktop bundle dist/cxr-explain/ (executable dist/cxr-explain/cxr-explain) from the same
# locked venv as `make test` (CPU torch); prints the bundle's size report at the end.
package: $(STAMP)
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e ".[package]"
	$(BIN)/pyinstaller --noconfirm --log-level WARN --distpath dist \
		--workpath build/pyinstaller packaging/cxr-explain.spec

# Re-resolve the lock from pyproject.toml (needs the package registry).
lock:
	rm -rf /tmp/cxr-lock && $(PYTHON) -m venv /tmp/cxr-lock
	/tmp/cxr-lock/bin/pip install --quiet torch==2.13.0 -e ".[dev,package,fuzz]"
	{ head -3 $(CONSTRAINTS); /tmp/cxr-lock/bin/pip freeze | grep -v '^-e' \
		| sed 's/^torch==\([0-9.]*\)+cpu/torch==\1/'; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache
