# Two commands a new user needs (see README): `make run` and `make test`. Both set everything up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONSTRAINTS := requirements/constraints.txt
# The system libraries Qt's xcb (X11) and offscreen platform plugins and Qt's own libraries link
# (`readelf -d`/`ldd` of PySide6 6.11; docs/install.md), as soname:Debian-package pairs (Ubuntu
# uses the same names). viewer/platform_check.py names the same packages when one is missing.
QT_SYSTEM_LIBS := libEGL.so.1:libegl1 libGL.so.1:libgl1 libX11.so.6:libx11-6 \
	libX11-xcb.so.1:libx11-xcb1 libxkbcommon.so.0:libxkbcommon0 \
	libxkbcommon-x11.so.0:libxkbcommon-x11-0 libfontconfig.so.1:libfontconfig1 \
	libfreetype.so.6:libfreetype6 libglib-2.0.so.0:libglib2.0-0 libgthread-2.0.so.0:libglib2.0-0 \
	libdbus-1.so.3:libdbus-1-3 libxcb.so.1:libxcb1 libxcb-cursor.so.0:libxcb-cursor0 \
	libxcb-icccm.so.4:libxcb-icccm4 libxcb-image.so.0:libxcb-image0 \
	libxcb-keysyms.so.1:libxcb-keysyms1 libxcb-randr.so.0:libxcb-randr0 \
	libxcb-render.so.0:libxcb-render0 libxcb-render-util.so.0:libxcb-render-util0 \
	libxcb-shape.so.0:libxcb-shape0 libxcb-shm.so.0:libxcb-shm0 libxcb-sync.so.1:libxcb-sync1 \
	libxcb-util.so.1:libxcb-util1 libxcb-xfixes.so.0:libxcb-xfixes0 libxcb-xkb.so.1:libxcb-xkb1 \
	libxcb-glx.so.0:libxcb-glx0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup run test lint bench package lock clean system-deps test-deps

setup: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@$(MAKE) --no-print-directory system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) torch==2.13.0
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e ".[dev,package,research,cluster]"
	touch $(STAMP)

# Installs the packages of the Qt libraries above and Xvfb (the X11 smoke test,
# tests/viewer/test_xcb_smoke.py) that are missing, when we may (root, apt); otherwise prints one
# line saying how. Silent when all are there; the check (ldconfig's cache) takes milliseconds,
# so `run` and `test` repeat it: the setup stamp alone would only check on the first setup.
system-deps:
	@[ "$$(uname -s)" = Linux ] || exit 0; \
	libs=" $$( { command -v ldconfig >/dev/null && ldconfig -p || /sbin/ldconfig -p; } \
		2>/dev/null | awk '{ print $$1 }' | tr '\n' ' ')"; \
	missing=""; for pair in $(QT_SYSTEM_LIBS); do \
		case "$$libs" in *" $${pair%%:*} "*) ;; *) missing="$$missing $${pair#*:}" ;; esac; done; \
	command -v Xvfb >/dev/null || missing="$$missing xvfb"; \
	missing="$$(printf '%s\n' $$missing | sort -u | tr '\n' ' ')"; \
	if [ -n "$${missing% }" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			log="$$( { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
				apt-get install -y -qq $$missing; } 2>&1)" || { echo "$$log" >&2; exit 1; }; \
		else echo "warning: Qt's X11 display or the tests need: sudo apt-get install $$missing"; fi; fi

# The tests' own tools, for `make test` only: dicom3tools (dciodvfy checks the DICOM results) and
# Orthanc with its DICOMweb plugin (the real PACS of tests/engine/pacs, started by the fixture on
# free ports). The packaged Orthanc service is stopped and disabled again where systemd started it:
# nothing listens on this machine's PACS ports because the tests ran.
test-deps:
	@[ "$$(uname -s)" = Linux ] || exit 0; \
	missing=""; \
	command -v dciodvfy >/dev/null || missing="$$missing dicom3tools"; \
	command -v Orthanc >/dev/null || missing="$$missing orthanc"; \
	[ -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] || missing="$$missing orthanc-dicomweb"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			log="$$( { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
				apt-get install -y -qq $$missing; } 2>&1)" || { echo "$$log" >&2; exit 1; }; \
			command -v systemctl >/dev/null && systemctl disable --now orthanc >/dev/null 2>&1; \
			true; \
		else echo "warning: the DICOM and PACS tests need: sudo apt-get install$$missing"; fi; fi

run: system-deps setup
	$(BIN)/cxr-explain view

test: system-deps test-deps setup
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
	/tmp/cxr-lock/bin/pip install --quiet torch==2.13.0 -e ".[dev,package,fuzz,research,cluster]"
	{ head -3 $(CONSTRAINTS); /tmp/cxr-lock/bin/pip freeze | grep -v '^-e' \
		| sed 's/^torch==\([0-9.]*\)+cpu/torch==\1/'; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache
