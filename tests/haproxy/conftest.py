"""Fixtures live in helpers.py (so tests can import the helpers too); re-exported here."""

from tests.haproxy.helpers import backends, converger, state_dir  # noqa: F401
