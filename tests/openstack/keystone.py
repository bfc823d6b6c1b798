"""A real Keystone 30 on loopback for tests, benchmarks and ``make tempest``.

Keystone runs from its own virtualenv (``.venv-openstack``, made by
``scripts/openstack-services install``) because its pins are not Statera's. It serves on a free
loopback port through gunicorn with one worker and one thread (SQLite answers ``database is
locked`` otherwise), fernet tokens and an in-process token cache (without it every
authenticated call costs hundreds of milliseconds on SQLite).

:func:`start` bootstraps it: the ``admin`` user in the ``admin`` project (which Keystone also
treats as *the* admin project), region ``RegionOne``, the ``load-balancer_*`` roles of
Octavia's advanced role model beside Keystone's ``admin``/``member``/``reader``/``service``, a
``service`` project with a ``statera`` service user holding ``service`` and ``admin`` (what
keystonemiddleware's ``service_token_roles_required`` and Barbican ACLs need), and, given
Statera's URL, the ``load-balancer`` service with its public, internal and admin endpoints.

This file uses only the standard library so that the same code runs under Statera's test
virtualenv (the pytest fixture in ``conftest.py``) and under any ``python3`` from the shell::

    python3 tests/openstack/keystone.py start --state-dir DIR [--statera-url URL] [--port N]
    python3 tests/openstack/keystone.py stop --state-dir DIR

``start`` prints one JSON document (URLs, credentials, pid) and leaves Keystone running;
``stop`` ends it by the pid it wrote.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("STATERA_OPENSTACK_VENV", ROOT / ".venv-openstack"))
REGION = "RegionOne"
ADMIN_PASSWORD = "admin-secret"
SERVICE_PASSWORD = "statera-secret"
LB_ROLES = ("load-balancer_observer", "load-balancer_global_observer", "load-balancer_member",
            "load-balancer_quota_admin", "load-balancer_admin")

CONFIG = """\
[DEFAULT]
use_stderr = true
[database]
connection = sqlite:///{state}/keystone.db
[token]
provider = fernet
expiration = 86400
[fernet_tokens]
key_repository = {state}/fernet-keys
[fernet_receipts]
key_repository = {state}/fernet-keys
[credential]
key_repository = {state}/credential-keys
[identity]
password_hash_rounds = 4
[cache]
enabled = true
backend = oslo_cache.dict
[resource]
admin_project_name = admin
admin_project_domain_name = Default
"""


class KeystoneUnavailable(RuntimeError):
    """Keystone cannot run here (no OpenStack virtualenv, or it did not start)."""


@dataclass
class Credentials:
    username: str
    password: str
    project_name: str
    user_id: str = ""
    project_id: str = ""
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"


@dataclass
class Keystone:
    """A running Keystone: where it is, who may log in, and how to stop it."""

    url: str  # the v3 endpoint, e.g. http://127.0.0.1:35123/v3
    state_dir: str
    pid: int
    admin: Credentials
    service: Credentials  # Statera's service user, in project "service"
    region: str = REGION
    statera_url: str = ""
    roles: dict[str, str] = field(default_factory=dict)  # role name -> id

    # -- the REST calls tests need ---------------------------------------------------------

    def token(self, creds: Credentials) -> str:
        """A project-scoped token for ``creds`` (a fresh one each call)."""
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": creds.username, "password": creds.password,
                "domain": {"name": creds.user_domain_name}}}},
            "scope": {"project": {"name": creds.project_name,
                                  "domain": {"name": creds.project_domain_name}}},
        }}
        _status, headers, _doc = _call("POST", f"{self.url}/auth/tokens", body)
        return headers["X-Subject-Token"]

    def admin_token(self) -> str:
        if not getattr(self, "_admin_token", None):
            self._admin_token = self.token(self.admin)
        return self._admin_token

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One call to Keystone's v3 API as admin; the JSON answer (``{}`` for none)."""
        _status, _headers, doc = _call(method, f"{self.url}{path}", body, self.admin_token())
        return doc

    def project(self, name: str) -> str:
        """The id of project ``name`` in the Default domain, created if it does not exist."""
        found = self.api("GET", f"/projects?name={name}&domain_id=default")["projects"]
        if found:
            return str(found[0]["id"])
        made = self.api("POST", "/projects",
                        {"project": {"name": name, "domain_id": "default"}})
        return str(made["project"]["id"])

    def user(self, name: str, project: str, roles: list[str] | tuple[str, ...],
             password: str = "pass") -> Credentials:
        """A user ``name`` holding ``roles`` on ``project`` (both created when missing)."""
        project_id = self.project(project)
        found = self.api("GET", f"/users?name={name}&domain_id=default")["users"]
        if found:
            user_id = str(found[0]["id"])
            self.api("PATCH", f"/users/{user_id}", {"user": {"password": password}})
        else:
            user_id = str(self.api("POST", "/users", {"user": {
                "name": name, "password": password, "domain_id": "default",
                "default_project_id": project_id}})["user"]["id"])
        for role in roles:
            self.api("PUT", f"/projects/{project_id}/users/{user_id}/roles/{self.role(role)}")
        return Credentials(name, password, project, user_id, project_id)

    def role(self, name: str) -> str:
        """The id of role ``name``, created if it does not exist."""
        if name not in self.roles:
            found = self.api("GET", f"/roles?name={name}")["roles"]
            self.roles[name] = str(found[0]["id"] if found else
                                   self.api("POST", "/roles", {"role": {"name": name}})
                                   ["role"]["id"])
        return self.roles[name]

    def register_load_balancer(self, statera_url: str) -> None:
        """Point the catalog's ``load-balancer`` service at ``statera_url`` (replacing any
        earlier endpoints), as an operator registers Octavia."""
        self.register_service("load-balancer", "octavia", statera_url)
        self.statera_url = statera_url

    def register_service(self, service_type: str, name: str, url: str) -> None:
        """Public, internal and admin endpoints of ``service_type`` at ``url`` in RegionOne
        (the service created when missing, earlier endpoints replaced)."""
        services = self.api("GET", f"/services?type={service_type}")["services"]
        if services:
            service_id = services[0]["id"]
        else:
            service_id = self.api("POST", "/services", {"service": {
                "type": service_type, "name": name}})["service"]["id"]
        for old in self.api("GET", f"/endpoints?service_id={service_id}")["endpoints"]:
            self.api("DELETE", f"/endpoints/{old['id']}")
        for interface in ("public", "internal", "admin"):
            self.api("POST", "/endpoints", {"endpoint": {
                "service_id": service_id, "interface": interface, "region_id": self.region,
                "url": url.rstrip("/")}})

    def authtoken_options(self) -> dict[str, str]:
        """keystonemiddleware ``[keystone_authtoken]`` options for Statera's service user."""
        return {
            "www_authenticate_uri": self.url,
            "auth_url": self.url,
            "auth_type": "password",
            "username": self.service.username,
            "password": self.service.password,
            "project_name": self.service.project_name,
            "user_domain_name": "Default",
            "project_domain_name": "Default",
            "service_token_roles_required": "true",
        }

    def openstack_env(self, creds: Credentials) -> dict[str, str]:
        """``OS_*`` variables that log the ``openstack`` CLI in as ``creds``."""
        return {
            "OS_AUTH_URL": self.url, "OS_AUTH_TYPE": "password",
            "OS_IDENTITY_API_VERSION": "3", "OS_REGION_NAME": self.region,
            "OS_USERNAME": creds.username, "OS_PASSWORD": creds.password,
            "OS_PROJECT_NAME": creds.project_name,
            "OS_USER_DOMAIN_NAME": creds.user_domain_name,
            "OS_PROJECT_DOMAIN_NAME": creds.project_domain_name,
        }

    def stop(self) -> None:
        stop(Path(self.state_dir))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Keystone:
        doc = json.loads(text)
        doc["admin"] = Credentials(**doc["admin"])
        doc["service"] = Credentials(**doc["service"])
        return cls(**doc)


def _call(method: str, url: str, body: dict[str, Any] | None = None,
          token: str | None = None) -> tuple[int, Any, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    req.add_header("Accept", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return resp.status, resp.headers, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:500]
        raise RuntimeError(f"Keystone {method} {url}: {exc.code} {detail}") from None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _manage(state: Path, env: dict[str, str], *args: str) -> None:
    """One ``keystone-manage`` command; its output goes to the state directory's log."""
    with open(state / "keystone-manage.log", "ab") as log:
        done = subprocess.run([str(VENV / "bin" / "keystone-manage"), "--config-file",
                               str(state / "keystone.conf"), *args], env=env, cwd=state,
                              stdout=log, stderr=subprocess.STDOUT, timeout=120, check=False)
    if done.returncode != 0:
        tail = (state / "keystone-manage.log").read_text(errors="replace")[-2000:]
        raise KeystoneUnavailable(f"keystone-manage {args[0]} failed: {tail}")


def available() -> str | None:
    """Why Keystone cannot run here, or None when it can."""
    for tool in ("keystone-manage", "gunicorn"):
        if not (VENV / "bin" / tool).exists():
            return (f"{VENV / 'bin' / tool} is missing: run scripts/openstack-services install "
                    "(Keystone 30 and keystonemiddleware from PyPI in .venv-openstack)")
    return None


def start(state_dir: Path, statera_url: str | None = None, port: int | None = None) -> Keystone:
    """Bootstrap and start Keystone in ``state_dir`` (made if missing); see the module doc."""
    reason = available()
    if reason:
        raise KeystoneUnavailable(reason)
    state = state_dir.resolve()
    state.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    url = f"http://127.0.0.1:{port}/v3"
    (state / "keystone.conf").write_text(CONFIG.format(state=state))
    env = {**os.environ, "OS_KEYSTONE_CONFIG_FILES": str(state / "keystone.conf")}
    for repo in ("fernet-keys", "credential-keys"):
        (state / repo).mkdir(mode=0o700, exist_ok=True)
    user, group = str(os.getuid()), str(os.getgid())
    if not (state / "keystone.db").exists():
        _manage(state, env, "db_sync")
        _manage(state, env, "fernet_setup", "--keystone-user", user, "--keystone-group", group)
        _manage(state, env, "credential_setup", "--keystone-user", user,
                "--keystone-group", group)
    _manage(state, env, "bootstrap", "--bootstrap-password", ADMIN_PASSWORD,
            "--bootstrap-username", "admin", "--bootstrap-project-name", "admin",
            "--bootstrap-role-name", "admin", "--bootstrap-service-name", "keystone",
            "--bootstrap-region-id", REGION, "--bootstrap-public-url", url,
            "--bootstrap-internal-url", url, "--bootstrap-admin-url", url)
    log = open(state / "keystone.log", "ab")  # noqa: SIM115 (the server keeps writing to it)
    proc = subprocess.Popen(
        [str(VENV / "bin" / "gunicorn"), "--workers", "1", "--threads", "1",
         "--bind", f"127.0.0.1:{port}", "--no-control-socket",
         "--pythonpath", str(Path(__file__).parent / "wsgi"), "--timeout", "120",
         "keystone_wsgi:application"],
        env=env, cwd=state, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    log.close()
    (state / "keystone.pid").write_text(str(proc.pid))
    try:
        _wait_up(url, proc, state)
        keystone = Keystone(
            url=url, state_dir=str(state), pid=proc.pid,
            admin=Credentials("admin", ADMIN_PASSWORD, "admin"),
            service=Credentials("statera", SERVICE_PASSWORD, "service"),
        )
        _populate(keystone)
        if statera_url:
            keystone.register_load_balancer(statera_url)
    except BaseException:
        stop(state)
        raise
    (state / "keystone.json").write_text(keystone.to_json())
    return keystone


def _wait_up(url: str, proc: subprocess.Popen[bytes], state: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (state / "keystone.log").read_text(errors="replace")[-3000:]
            raise KeystoneUnavailable(f"Keystone exited at start-up: {tail}")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise KeystoneUnavailable(f"Keystone did not answer on {url} within 60 s")


def _populate(keystone: Keystone) -> None:
    """Octavia's roles and Statera's service user (idempotent)."""
    for role in ("admin", "member", "reader", "service", *LB_ROLES):
        keystone.role(role)
    keystone.admin.project_id = keystone.project("admin")
    keystone.admin.user_id = str(keystone.api("GET", "/users?name=admin")["users"][0]["id"])
    service = keystone.user("statera", "service", ["service", "admin"], SERVICE_PASSWORD)
    keystone.service = service


def stop(state_dir: Path) -> None:
    """Stop the Keystone started in ``state_dir``, by the pid it wrote (gunicorn's master,
    which stops its worker)."""
    stop_gunicorn(state_dir / "keystone.pid")


def stop_gunicorn(pid_file: Path) -> None:
    """Stop the gunicorn master whose pid ``pid_file`` holds (Keystone's or Barbican's; it
    stops its worker), and remove the file; a recycled pid is left alone."""
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text().strip() or 0)
    pid_file.unlink()
    if pid <= 0 or not _is_ours(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)  # reap it when it is our child
        except ChildProcessError:
            pass
        if not _alive(pid):
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _is_ours(pid: int) -> bool:
    """Whether ``pid`` is still a gunicorn (a recycled pid is left alone)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"gunicorn" in cmdline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    start_p = sub.add_parser("start", help="bootstrap and start; print the JSON description")
    start_p.add_argument("--state-dir", type=Path, required=True)
    start_p.add_argument("--statera-url", help="register it as the load-balancer endpoint")
    start_p.add_argument("--port", type=int, help="default: a free loopback port")
    stop_p = sub.add_parser("stop", help="stop the Keystone started in --state-dir")
    stop_p.add_argument("--state-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "start":
        try:
            print(start(args.state_dir, args.statera_url, args.port).to_json())
        except KeystoneUnavailable as exc:
            print(f"keystone: {exc}", file=sys.stderr)
            return 1
        return 0
    stop(args.state_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
