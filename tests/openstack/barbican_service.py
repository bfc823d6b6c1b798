"""A real Barbican 23 on loopback, behind the tests' real Keystone (see keystone.py).

Barbican runs from the OpenStack virtualenv (``.venv-openstack``) like Keystone. What it needs,
measured (shared/reference/keystone-barbican.md): its configuration only from oslo.config's
default places, so every command runs with ``HOME=<state>/home`` and the file at
``$HOME/.barbican/barbican.conf``; its paste file loaded from our own path by
``wsgi/barbican_wsgi.py``; SQLite, the ``store_crypto`` secret store with ``simple_crypto`` and a
random key-encryption key; ``keystone_authtoken`` for a ``barbican`` service user; gunicorn
with one worker and one thread (SQLite locks otherwise).

:func:`start` also registers the ``key-manager`` service and its endpoints in Keystone's
catalog, where Barbican's clients (and Statera's certificate manager) find it. Standard library
only, so the same code runs under Statera's test virtualenv and any ``python3``::

    python3 tests/openstack/barbican_service.py start --state-dir DIR --keystone-json FILE
    python3 tests/openstack/barbican_service.py stop --state-dir DIR

The module is not called ``barbican.py``: on ``sys.path`` that name would hide Barbican itself.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("STATERA_OPENSTACK_VENV", ROOT / ".venv-openstack"))
WSGI_DIR = Path(__file__).resolve().parent / "wsgi"
PACKAGES = ("barbican==23.0.0", "python-barbicanclient")
SERVICE_USER = "barbican"
SERVICE_PASSWORD = "barbican-secret"

CONFIG = """\
[DEFAULT]
host_href = {url}
use_stderr = true
[database]
connection = sqlite:///{state}/barbican.db
[queue]
enable = false
[secretstore]
enabled_secretstore_plugins = store_crypto
[crypto]
enabled_crypto_plugins = simple_crypto
[simple_crypto_plugin]
kek = {kek}
[keystone_authtoken]
www_authenticate_uri = {keystone}
auth_url = {keystone}
auth_type = password
username = {user}
password = {password}
project_name = service
user_domain_name = Default
project_domain_name = Default
service_token_roles_required = true
"""


class BarbicanUnavailable(RuntimeError):
    """Barbican cannot run here (not installed, or it did not start)."""


@dataclass
class Barbican:
    """A running Barbican: its endpoint (``http://127.0.0.1:<port>``), state and pid."""

    url: str
    state_dir: str
    pid: int

    def stop(self) -> None:
        stop(Path(self.state_dir))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def available() -> str | None:
    """Why Barbican cannot run here, or None when it can."""
    for tool in ("barbican-manage", "gunicorn"):
        if not (VENV / "bin" / tool).exists():
            return (f"{VENV / 'bin' / tool} is missing: Barbican 23 is installed into "
                    f"{VENV} with `{VENV}/bin/pip install {' '.join(PACKAGES)}`")
    return None


def install() -> None:
    """Add Barbican to the OpenStack virtualenv (beside Keystone, whose pins it shares)."""
    if available() is None:
        return
    if not (VENV / "bin" / "pip").exists():
        raise BarbicanUnavailable(f"{VENV} does not exist yet (Keystone's fixture makes it)")
    done = subprocess.run([str(VENV / "bin" / "pip"), "install", "-q",
                           "--disable-pip-version-check", *PACKAGES],
                          capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise BarbicanUnavailable(f"cannot install Barbican from PyPI: {done.stderr[-500:]}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(state_dir: Path, keystone: Any, port: int | None = None) -> Barbican:
    """Configure, migrate and start Barbican in ``state_dir`` against ``keystone`` (an object
    with ``url``, ``region``, ``user()`` and ``api()``, as keystone.py's ``Keystone``)."""
    reason = available()
    if reason:
        raise BarbicanUnavailable(reason)
    state = state_dir.resolve()
    home = state / "home"
    (home / ".barbican").mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    keystone.user(SERVICE_USER, "service", ["service"], SERVICE_PASSWORD)
    kek = base64.b64encode(os.urandom(32)).decode()
    (home / ".barbican" / "barbican.conf").write_text(CONFIG.format(
        url=url, state=state, kek=kek, keystone=keystone.url, user=SERVICE_USER,
        password=SERVICE_PASSWORD))
    paste = state / "barbican-api-paste.ini"
    shutil.copy(VENV / "etc" / "barbican" / "barbican-api-paste.ini", paste)
    env = {**os.environ, "HOME": str(home), "BARBICAN_PASTE_FILE": str(paste)}
    _run(state, env, str(VENV / "bin" / "barbican-manage"), "db", "upgrade")
    log = open(state / "barbican.log", "ab")  # noqa: SIM115 (the server keeps writing to it)
    proc = subprocess.Popen(
        [str(VENV / "bin" / "gunicorn"), "--workers", "1", "--threads", "1",
         "--bind", f"127.0.0.1:{port}", "--pythonpath", str(WSGI_DIR), "--timeout", "120",
         "barbican_wsgi:application"],
        env=env, cwd=str(state), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    (state / "barbican.pid").write_text(str(proc.pid))
    try:
        _wait_up(url, proc, state)
        register(keystone, url)
    except BaseException:
        stop(state)
        raise
    server = Barbican(url=url, state_dir=str(state), pid=proc.pid)
    (state / "barbican.json").write_text(server.to_json())
    return server


def register(keystone: Any, url: str) -> None:
    """Put Barbican in Keystone's catalog as the ``key-manager`` service (replacing any earlier
    endpoints), as an operator does."""
    services = keystone.api("GET", "/services?type=key-manager")["services"]
    if services:
        service_id = services[0]["id"]
    else:
        service_id = keystone.api("POST", "/services", {"service": {
            "type": "key-manager", "name": "barbican"}})["service"]["id"]
    for old in keystone.api("GET", f"/endpoints?service_id={service_id}")["endpoints"]:
        keystone.api("DELETE", f"/endpoints/{old['id']}")
    for interface in ("public", "internal", "admin"):
        keystone.api("POST", "/endpoints", {"endpoint": {
            "service_id": service_id, "interface": interface, "region_id": keystone.region,
            "url": url}})


def _run(state: Path, env: dict[str, str], *cmd: str) -> None:
    with open(state / "barbican-manage.log", "ab") as log:
        done = subprocess.run(list(cmd), env=env, cwd=str(state), stdout=log,
                              stderr=subprocess.STDOUT, timeout=180, check=False)
    if done.returncode != 0:
        tail = (state / "barbican-manage.log").read_text(errors="replace")[-2000:]
        raise BarbicanUnavailable(f"{Path(cmd[0]).name} failed: {tail}")


def _wait_up(url: str, proc: subprocess.Popen[bytes], state: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (state / "barbican.log").read_text(errors="replace")[-3000:]
            raise BarbicanUnavailable(f"Barbican exited at start-up: {tail}")
        try:
            with urllib.request.urlopen(f"{url}/", timeout=5):
                return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:  # the version document answers 300 Multiple Choices
                return
            time.sleep(0.2)
        except OSError:
            time.sleep(0.2)
    raise BarbicanUnavailable(f"Barbican did not answer on {url} within 90 s")


def stop(state_dir: Path) -> None:
    """Stop the Barbican started in ``state_dir``, by the pid it wrote (gunicorn's master,
    which stops its worker); a recycled pid is left alone."""
    _keystone_module().stop_gunicorn(state_dir / "barbican.pid")


def _keystone_module() -> Any:
    """The sibling keystone module, as a package member or (a script run) from this folder."""
    try:
        from tests.openstack import keystone
    except ImportError:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import keystone  # type: ignore[no-redef]
    return keystone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    start_p = sub.add_parser("start", help="configure and start; print the JSON description")
    start_p.add_argument("--state-dir", type=Path, required=True)
    start_p.add_argument("--keystone-json", type=Path, required=True,
                         help="the keystone.json that keystone.py start wrote")
    start_p.add_argument("--port", type=int)
    stop_p = sub.add_parser("stop", help="stop the Barbican started in --state-dir")
    stop_p.add_argument("--state-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "stop":
        stop(args.state_dir)
        return 0
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import keystone as ks  # the sibling module (a script run: no package)

    try:
        server = start(args.state_dir, ks.Keystone.from_json(args.keystone_json.read_text()),
                       args.port)
    except BarbicanUnavailable as exc:
        print(f"barbican: {exc}", file=sys.stderr)
        return 1
    print(server.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
