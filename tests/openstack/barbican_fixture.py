"""The session's real Barbican (see barbican_service.py), behind the session's real Keystone.

Import the fixture into a test module (``from tests.openstack.barbican_fixture import
barbican``). The first use adds Barbican 23 to ``.venv-openstack`` when it is missing (under the
same file lock as Keystone's installation). A test that needs Barbican skips, with the reason,
only when it cannot be installed or started here.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.openstack import barbican_service as bs
from tests.openstack import keystone as ks


def _ensure_installed() -> str | None:
    """Install Barbican into the OpenStack virtualenv if needed; why it is unusable, or None."""
    if bs.available() is None:
        return None
    with open(ks.ROOT / ".venv-openstack.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            bs.install()
        except bs.BarbicanUnavailable as exc:
            return str(exc)
    return bs.available()


@pytest.fixture(scope="session")
def barbican(tmp_path_factory: pytest.TempPathFactory, keystone: ks.Keystone
             ) -> Iterator[bs.Barbican]:
    """Barbican on a free loopback port, in Keystone's catalog as ``key-manager``; stopped by
    pid after the session."""
    reason = _ensure_installed()
    if reason:
        pytest.skip(reason)
    state = tmp_path_factory.mktemp("barbican")
    try:
        server = bs.start(Path(state), keystone)
    except bs.BarbicanUnavailable as exc:
        pytest.skip(f"Barbican cannot start here: {exc}")
    try:
        yield server
    finally:
        server.stop()
