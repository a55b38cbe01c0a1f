# The two commands of the README: `make demo` runs the whole pipeline, `make test` the checks.
.PHONY: demo test lint bench mutation

# cargo (for the native JSON reader) from rustup's default place, caches under .cache/
export PATH := $(HOME)/.cargo/bin:$(PATH)
export CARGO_HOME := $(CURDIR)/.cache/cargo
export CARGO_TARGET_DIR := $(CURDIR)/.cache/cargo-target
NATIVE := --manifest-path monitor/decode/native/Cargo.toml

demo:
	@bash deploy/local/bootstrap.sh
	@.venv/bin/driftwarden demo

test: lint
	@.venv/bin/pytest

lint:
	@bash deploy/local/bootstrap.sh
	@.venv/bin/ruff check .
	@.venv/bin/ruff format --check .
	@.venv/bin/mypy
	@cargo fmt --check $(NATIVE)
	@PYO3_PYTHON=$(CURDIR)/.venv/bin/python cargo clippy --quiet --locked $(NATIVE) -- -D warnings

bench:
	@bash deploy/local/bootstrap.sh
	@for script in bench_replay bench_json_parse bench_detectors bench_labels bench_kafka; do \
		.venv/bin/python benchmarks/$$script.py || exit 1; \
	done

# Mutation testing of the rule modules (docs/mutation.md): slow, so not part of `make test`.
# `make mutation MODULE=levels` runs one module; the names: deploy/local/mutation.sh list
mutation:
	@bash deploy/local/bootstrap.sh
	@bash deploy/local/mutation.sh $(MODULE)
