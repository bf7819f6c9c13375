# dnasgen: two commands do all their own set-up on a fresh machine.
#   make demo   - the main job on the default spec (specs/quickstart.yaml)
#   make test   - lint (ruff) then the whole test suite
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SPEC    ?= specs/quickstart.yaml
PYTEST_ARGS ?=

.PHONY: setup toolchain demo test bench clean

$(STAMP): pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e '.[dev,tflm]'
	touch $(STAMP)

# Cortex-M toolchain and emulator (Debian packages); the build still works without them,
# only the firmware/QEMU steps and their tests are skipped.
toolchain:
	@if ! command -v arm-none-eabi-gcc >/dev/null || ! command -v qemu-system-arm >/dev/null; then \
	  ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q --no-install-recommends gcc-arm-none-eabi \
	    libnewlib-arm-none-eabi qemu-system-arm) || echo "warning: Cortex-M toolchain not installed"; \
	fi

setup: $(STAMP) toolchain

demo: setup
	$(VENV)/bin/dnasgen build $(SPEC)

test: setup
	$(VENV)/bin/ruff check dnasgen tests
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: setup
	$(VENV)/bin/pytest tests/benchmarks --benchmark-enable $(PYTEST_ARGS)

clean:
	rm -rf build dist .pytest_cache
