"""Keystone's public WSGI application for gunicorn (Keystone 30 ships no WSGI script).

Run only inside the OpenStack virtualenv (``.venv-openstack``), never imported by Statera's
tests: ``gunicorn --pythonpath tests/openstack/wsgi keystone_wsgi:application`` with
``OS_KEYSTONE_CONFIG_FILES`` naming the configuration file. ``sys.argv`` is cleared first because
Keystone's oslo.config would otherwise parse gunicorn's own arguments and the worker would
exit at start-up, over and over.
"""

import sys

sys.argv = sys.argv[:1]

from keystone.server import wsgi  # noqa: E402  (after sys.argv is cleared, on purpose)

application = wsgi.initialize_public_application()
