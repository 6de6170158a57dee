# wasm-otel: build, run and test. Every target installs what it needs, so
# `make run` and `make test` work on a fresh clone.

CARGO ?= cargo
WASM_TARGETS := wasm32-wasip1 wasm32-wasip2
# Every guest in components/ is built for wasm32-wasip1; hello is also
# built as a native preview-2 component.
COMPONENTS := $(notdir $(wildcard components/*))
HOST := target/release/wasm-otel
HELLO := target/wasm32-wasip1/release/hello.wasm

.PHONY: all setup build run test clean

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
	$(CARGO) build --release --target wasm32-wasip2 -p hello

## run: hello under the host; with no collector set, its spans print as a tree
run: build
	$(HOST) run $(HELLO) world wasm otel

## test: every test, unit and end to end
test: build
	$(CARGO) test --release --workspace

clean:
	$(CARGO) clean
