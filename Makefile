# boardcti: `make test` and `make demo` set up everything on a fresh Debian bookworm machine.

VENV      ?= .venv
PY        := $(VENV)/bin/python
PYTEST_ARGS ?=
HOME_DIR  ?= var/demo

# Debian packages: the build (compiler, headers), the peers the tests hold us to
# (libpri, openr2, spandsp, tshark, multimon-ng, minimodem, sox), ALSA for
# pyalsaaudio, ZeroMQ, espeak-ng for demo prompts, librsvg2-bin (rsvg-convert) for
# the loss report's PNG charts.
APT_PACKAGES := build-essential python3 python3-dev python3-venv pkg-config \
	libasound2-dev libzmq3-dev libpri-dev libopenr2-dev libopenr2-bin libspandsp-dev \
	tshark multimon-ng minimodem sox espeak-ng librsvg2-bin

SOURCES := $(shell find csrc -name '*.c' -o -name '*.h' -o -name '*.cdef' -o -name '*.py') setup.py

.PHONY: all deps venv build test contract demo bench ci-extra clean

all: build

# deps asks dpkg every time (cheap), never a stamp: a stamp copied or committed from
# another machine would skip the install on a fresh one.
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

venv: $(VENV)/.stamp
$(VENV)/.stamp: setup.py pyproject.toml Makefile | deps
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q cffi setuptools wheel build pytest hypothesis numpy jsonschema pyzmq sqlite-utils pyserial pyalsaaudio prompt_toolkit mypy
	@touch $@

# the editable install runs the cffi build (setup.py's cffi_modules) once; the C core is
# rebuilt when a source changes
build: deps $(VENV)/.stamp-build
$(VENV)/.stamp-build: $(VENV)/.stamp $(SOURCES)
	$(PY) -m pip install -q --no-build-isolation -e .
	@touch $@

# tests/server/test_contract.py fails when docs/contract/ is stale: `make contract` rewrites it
test: build
	$(PY) -m pytest $(PYTEST_ARGS)

# the published contract (JSON Schema, AsyncAPI) from the registry and the event catalogue
contract: build
	$(PY) -m cti.server.contract --write docs/contract

# what CI runs besides the tests: every bench in its quick mode, so none rots, and the
# sdist installed into a new virtualenv and served from there
ci-extra: build
	$(MAKE) bench BENCH_ARGS=--quick
	$(PY) tests/sdist_check.py

demo: build
	$(PY) -m cti.clients.demo --home $(HOME_DIR)

BENCH_ARGS ?=
bench: build
	@set -e; for b in bench/*.py; do echo "== $$b $(BENCH_ARGS)"; $(PY) $$b $(BENCH_ARGS); done

clean:
	rm -rf build $(VENV) drivers/_hal*.so drivers/_hal.c *.egg-info var
