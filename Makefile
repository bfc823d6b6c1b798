# The two commands a new user needs: `make serve` and `make test`. Both install what they need.
.PHONY: setup serve test lint tempest

# serve installs what serving needs (haproxy, the clients); test also what tests and benchmarks
# need (wrk, pytest, linters).
setup:
	./scripts/setup test

serve:
	./scripts/setup serve
	.venv/bin/statera serve --data-dir ./data

test: setup
	./scripts/test

lint: setup
	.venv/bin/ruff check statera tests bench
	.venv/bin/mypy statera

# Octavia's API test suite (octavia-tempest-plugin) against Statera with a real Keystone;
# RBAC=advanced for the load-balancer_* role model.
tempest: setup
	./scripts/tempest --rbac $(or $(RBAC),keystone_default_roles)
