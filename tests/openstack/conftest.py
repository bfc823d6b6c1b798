"""The session's real Keystone (see keystone.py), for every test under tests/openstack.

The first use installs ``.venv-openstack`` when it is missing (``scripts/openstack-services
install``, under a file lock so that pytest-xdist workers do not install twice). A test that needs
Keystone skips, with the reason, only when it cannot be installed or started here.
"""

from __future__ import annotations

import fcntl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.openstack import keystone as ks

pytestmark = pytest.mark.keystone


def _ensure_installed() -> str | None:
    """Install the OpenStack virtualenv if needed; why it is unusable, or None."""
    if ks.available() is None:
        return None
    with open(ks.ROOT / ".venv-openstack.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ks.available() is None:
            return None
        done = subprocess.run([str(ks.ROOT / "scripts" / "openstack-services"), "install"],
                              capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        return f"cannot install Keystone from PyPI: {done.stderr[-500:]}"
    return ks.available()


@pytest.fixture(scope="session")
def keystone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ks.Keystone]:
    """A bootstrapped Keystone on a free loopback port, stopped by pid after the session."""
    reason = _ensure_installed()
    if reason:
        pytest.skip(reason)
    state = tmp_path_factory.mktemp("keystone")
    try:
        server = ks.start(Path(state))
    except ks.KeystoneUnavailable as exc:
        pytest.skip(f"Keystone cannot start here: {exc}")
    try:
        yield server
    finally:
        server.stop()
