"""Fixtures live in helpers.py (so tests can import the helpers too); re-exported here."""

from tests.haproxy.helpers import backends  # noqa: F401
from tests.nginx.helpers import nginx, nginx_state_dir, udp_backends  # noqa: F401
