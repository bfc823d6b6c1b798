# The two commands a new user needs: `make serve` and `make test`. Both install what they need.
.PHONY: setup serve test lint

setup:
	./scripts/setup

serve: setup
	.venv/bin/statera serve --data-dir ./data

test: setup
	./scripts/test

lint: setup
	.venv/bin/ruff check statera tests bench
	.venv/bin/mypy statera
