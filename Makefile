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

.PHONY: all deps venv build test demo bench clean

all: build

deps: .stamp-deps
.stamp-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@touch $@

venv: $(VENV)/.stamp
$(VENV)/.stamp: .stamp-deps setup.py pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q cffi setuptools wheel pytest hypothesis numpy pyzmq sqlite-utils pyserial pyalsaaudio
	@touch $@

build: $(VENV)/.stamp-build
$(VENV)/.stamp-build: $(VENV)/.stamp $(SOURCES)
	$(PY) -m pip install -q --no-build-isolation -e .
	$(PY) csrc/build_hal.py
	@touch $@

test: build
	$(PY) -m pytest $(PYTEST_ARGS)

demo: build
	$(PY) -m cti.demo --home $(HOME_DIR)

bench: build
	$(PY) bench/framer.py
	$(PY) bench/pri.py
	$(PY) bench/dsp.py
	$(PY) bench/r2.py
	$(PY) bench/cti.py
	$(PY) bench/peak.py

clean:
	rm -rf build $(VENV) .stamp-deps drivers/_hal*.so drivers/_hal.c *.egg-info var
