"""Barbican's API as a WSGI application for gunicorn, from a paste file of our choosing.

Run only inside the OpenStack virtualenv (``.venv-openstack``), never imported by Statera's
tests: ``gunicorn --pythonpath tests/openstack/wsgi barbican_wsgi:application`` with ``HOME``
set so that ``$HOME/.barbican/barbican.conf`` is the configuration (Barbican reads it only from
oslo.config's default places, at import) and ``BARBICAN_PASTE_FILE`` naming the paste file
(Barbican's own entry point hard-codes ``/etc/barbican/barbican-api-paste.ini``).
``sys.argv`` is cleared first: oslo.config would otherwise parse gunicorn's arguments.
"""

import os
import sys

sys.argv = sys.argv[:1]

from paste import deploy  # noqa: E402  (after sys.argv is cleared, on purpose)

application = deploy.loadapp(f"config:{os.environ['BARBICAN_PASTE_FILE']}")
