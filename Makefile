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
	@.venv/bin/python benchmarks/run_all.py
