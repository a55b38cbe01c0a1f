# The two commands of the README: `make demo` runs the whole pipeline, `make test` the checks.
.PHONY: demo test lint bench

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

bench:
	@bash deploy/local/bootstrap.sh
	@for script in bench_replay bench_detectors bench_labels bench_kafka; do \
		.venv/bin/python benchmarks/$$script.py || exit 1; \
	done
