"""Octavia's own API test suite (octavia-tempest-plugin 3.5.0 on tempest 47) against Statera.

``make tempest`` (``scripts/tempest``) runs this file. It

1. installs tempest and the plugin into the OpenStack virtualenv (``.venv-openstack``, beside
   Keystone: their pins are not Statera's), once;
2. starts a real Keystone (``keystone.py``) with the ``load-balancer`` service in its catalog
   pointing at the Statera about to start;
3. starts ``statera serve`` with ``auth_strategy = keystone`` (keystonemiddleware's
   ``auth_token`` against that Keystone), the noop provider as the only and default provider,
   the noop network driver and the noop certificate manager — what Octavia's own noop gate
   job runs (``[load_balancer] test_with_noop = true``: the suite uses random UUIDs for
   networks, subnets, ports and TLS secrets);
4. writes ``tempest.conf`` and runs ``tempest run --regex <regex> --concurrency N``;
5. prints the pass/fail/skip counts and the wall time (also ``summary.json`` in the state
   directory), and stops Statera and Keystone by the pids it started.

Standard library only, so that it runs under any ``python3`` (and under pytest, see
``test_tempest.py``)::

    python3 tests/openstack/tempest_suite.py [--rbac keystone_default_roles|advanced]
        [--regex REGEX] [--concurrency N] [--state-dir DIR]

It exits 0 when no test failed (and at least one ran), 1 otherwise, 2 when the services could
not be installed or started.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import keystone as ks  # noqa: E402  (beside this file; importable without the tests package)

ROOT = ks.ROOT
VENV = ks.VENV
TEMPEST_PACKAGES = ("tempest==47.0.0", "octavia-tempest-plugin==3.5.0")
API_TESTS = r"^octavia_tempest_plugin.tests.api"
PROVIDER = "noop"
#: What ``GET /v2/lbaas/providers`` answers; tempest reads it as ``name:description`` pairs.
PROVIDER_DESCRIPTION = "Accepts everything and touches no data plane"
#: One capability of the noop driver each (``name:description``), which the suite looks up.
FLAVOR_CAPABILITY = "noop_option:Any value; the noop provider ignores it."
AZ_CAPABILITY = "noop_zone:Any value; the noop provider ignores it."
#: ``RBAC_test_type = advanced`` tests a deployment that uses only the ``load-balancer_*``
#: roles: Octavia's gate installs its advanced-RBAC policy file for it. These are its base
#: rules (Octavia's deprecated advanced-RBAC defaults, octavia/policies/advanced_rbac.py);
#: Keystone's member and reader roles then grant nothing.
ADVANCED_POLICY = """\
"context_is_admin": "role:admin or role:load-balancer_admin"
"load-balancer:admin": "is_admin:True or role:admin or role:load-balancer_admin"
"load-balancer:global_observer": "role:load-balancer_global_observer"
"load-balancer:member_and_owner": "role:load-balancer_member and rule:load-balancer:owner"
"load-balancer:observer_and_owner": "role:load-balancer_observer and rule:load-balancer:owner"
"load-balancer:quota-admin": "role:load-balancer_quota_admin"
"""
RBAC_TYPES = ("keystone_default_roles", "advanced", "owner_or_admin", "none")


class Unavailable(RuntimeError):
    """Something the run needs cannot be installed or started here."""


@dataclass
class Summary:
    passed: int
    failed: int
    skipped: int
    wall_seconds: float
    rbac: str
    regex: str
    failures: list[str]

    def line(self) -> str:
        return (f"tempest: {self.passed} passed, {self.failed} failed, {self.skipped} skipped "
                f"in {self.wall_seconds:.0f} s (RBAC_test_type = {self.rbac})")


# Installation ----------------------------------------------------------------------------


def install() -> None:
    """Keystone's virtualenv (scripts/openstack-services), then tempest and the plugin."""
    done = subprocess.run([str(ROOT / "scripts" / "openstack-services"), "install"],
                          capture_output=True, text=True, timeout=1200, check=False)
    if done.returncode != 0 or ks.available() is not None:
        raise Unavailable(f"cannot install Keystone: {done.stderr[-800:] or ks.available()}")
    if (VENV / "bin" / "tempest").exists() and _plugin_installed():
        return
    done = subprocess.run([str(VENV / "bin" / "pip"), "install", "-q",
                           "--disable-pip-version-check", *TEMPEST_PACKAGES],
                          capture_output=True, text=True, timeout=1200, check=False)
    if done.returncode != 0:
        raise Unavailable(f"cannot install {' '.join(TEMPEST_PACKAGES)}: {done.stderr[-800:]}")


def _plugin_installed() -> bool:
    probe = subprocess.run([str(VENV / "bin" / "python"), "-c",
                            "import octavia_tempest_plugin"], capture_output=True, check=False)
    return probe.returncode == 0


# Statera ---------------------------------------------------------------------------------


def statera_config(keystone: ks.Keystone, port: int, data_dir: Path,
                   policy_file: Path | None = None) -> str:
    """``statera serve``'s TOML: Keystone auth, noop everything, this port, and the policy
    file if one is given."""
    options = keystone.authtoken_options()
    authtoken = "\n".join(f"{key} = {json.dumps(value)}" for key, value in options.items())
    certificates = '[certificates]\ncert_manager = "noop"\n' if _has_noop_certs() else ""
    policy = f"[oslo_policy]\npolicy_file = {json.dumps(str(policy_file))}\n" \
        if policy_file else ""
    return f"""\
data_dir = {json.dumps(str(data_dir))}
log_level = "INFO"

[api]
host = "127.0.0.1"
port = {port}
auth_strategy = "keystone"
default_provider_driver = "{PROVIDER}"
enabled_provider_drivers = {{ {PROVIDER} = {json.dumps(PROVIDER_DESCRIPTION)} }}

[driver_agent]
enabled_provider_agents = ["{PROVIDER}"]

[networking]
driver = "noop"

[keystone_authtoken]
{authtoken}

{certificates}
{policy}"""


def _has_noop_certs() -> bool:
    """Whether this Statera has the noop certificate manager (``[certificates]``)."""
    probe = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-c",
         "from statera.config import Settings; import sys; "
         "sys.exit(0 if 'certificates' in Settings.model_fields else 1)"],
        capture_output=True, check=False)
    return probe.returncode == 0


def start_statera(config: Path, url: str, log: Path) -> subprocess.Popen[bytes]:
    """``statera serve`` in its own session, answering ``GET /`` within 60 s."""
    with open(log, "ab") as out:
        proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "statera"), "--config",
                                 str(config), "serve"], stdout=out, stderr=subprocess.STDOUT,
                                cwd=config.parent, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Unavailable(f"statera serve exited ({proc.returncode}): "
                              f"{log.read_text(errors='replace')[-1500:]}")
        try:
            with urllib.request.urlopen(url + "/", timeout=2):
                return proc
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    stop_process(proc)
    raise Unavailable(f"statera serve did not answer on {url} within 60 s")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 15 s: only the process this run started."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


# Tempest ---------------------------------------------------------------------------------


def tempest_conf(keystone: ks.Keystone, rbac: str, log_dir: Path) -> str:
    """tempest.conf for the API tests in noop mode (see keystone-barbican.md). The noop
    provider converges within milliseconds and the suite's waiters sleep ``build_interval``
    between polls: at 1 s the waits, not Statera, took most of the run's time."""
    unavailable = ("nova", "neutron", "glance", "cinder", "swift", "heat", "horizon",
                   "barbican", "designate", "ironic", "manila", "trove", "zaqar", "aodh",
                   "gnocchi", "panko", "sahara", "placement")
    services = "\n".join(f"{name} = false" for name in unavailable)
    admin = keystone.admin
    return f"""\
[DEFAULT]
log_dir = {log_dir}
log_file = tempest.log

[auth]
admin_username = {admin.username}
admin_password = {admin.password}
admin_project_name = {admin.project_name}
admin_domain_name = Default
use_dynamic_credentials = true
tempest_roles = member
create_isolated_networks = false

[identity]
uri_v3 = {keystone.url}
auth_version = v3
region = {keystone.region}
v3_endpoint_type = public

[identity-feature-enabled]
api_v2 = false

[service_available]
load_balancer = true
{services}

[network]
project_networks_reachable = true

[validation]
run_validation = false

[load_balancer]
catalog_type = load-balancer
region = {keystone.region}
endpoint_type = public
build_interval = 0.2
build_timeout = 60
lb_build_interval = 0.2
lb_build_timeout = 60
check_interval = 0.2
check_timeout = 30
test_with_noop = true
provider = {PROVIDER}
enabled_provider_drivers = {PROVIDER}:{PROVIDER_DESCRIPTION}
expected_flavor_capability = {FLAVOR_CAPABILITY}
expected_availability_zone_capability = {AZ_CAPABILITY}
RBAC_test_type = {rbac}
"""


_COUNT = re.compile(r"^\s*-\s*(Passed|Skipped|Failed):\s*(\d+)", re.M)
_FAILED_TEST = re.compile(r"^\{\d+\}\s+(\S+)\s+\[[^\]]*\]\s+\.\.\.\s+FAILED", re.M)


def parse_counts(output: str) -> tuple[int, int, int, list[str]]:
    """(passed, failed, skipped, failed test ids) from stestr's closing totals."""
    counts = {name: int(value) for name, value in _COUNT.findall(output)}
    failures = sorted(set(_FAILED_TEST.findall(output)))
    return (counts.get("Passed", 0), counts.get("Failed", 0), counts.get("Skipped", 0),
            failures)


def run_tempest(workspace: Path, regex: str, concurrency: int, log: Path) -> str:
    """``tempest run`` in ``workspace``, its output written to ``log`` as it comes (follow it
    with ``tail -f``); the whole output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["PATH"] = f"{VENV / 'bin'}:{env.get('PATH', '')}"
    with open(log, "wb") as out:
        subprocess.run([str(VENV / "bin" / "tempest"), "run", "--regex", regex,
                        "--concurrency", str(concurrency)], cwd=workspace, env=env,
                       stdout=out, stderr=subprocess.STDOUT, timeout=3600, check=False)
    return log.read_text(errors="replace")


def run(state: Path, rbac: str, regex: str, concurrency: int) -> Summary:
    """The whole run: services up, tempest, services down (see the module's doc)."""
    install()
    state.mkdir(parents=True, exist_ok=True)
    port = ks.free_port()
    statera_url = f"http://127.0.0.1:{port}"
    keystone = ks.start(state / "keystone", statera_url=statera_url)
    statera: subprocess.Popen[bytes] | None = None
    try:
        data_dir = state / "statera"
        data_dir.mkdir(exist_ok=True)
        config = state / "statera.toml"
        policy_file = None
        if rbac == "advanced":
            policy_file = state / "advanced-policy.yaml"
            policy_file.write_text(ADVANCED_POLICY)
        config.write_text(statera_config(keystone, port, data_dir, policy_file))
        statera = start_statera(config, statera_url, state / "statera.log")
        workspace = state / "tempest"
        if workspace.exists():
            shutil.rmtree(workspace)
        # Its own workspace registry: ~/.tempest/workspace.yaml stays untouched.
        subprocess.run([str(VENV / "bin" / "tempest"), "init", "--name", state.name,
                        "--workspace-path", str(state / "workspaces.yaml"), str(workspace)],
                       capture_output=True, check=True, timeout=120)
        (workspace / "etc" / "tempest.conf").write_text(
            tempest_conf(keystone, rbac, workspace / "logs"))
        started = time.monotonic()
        output = run_tempest(workspace, regex, concurrency, state / "tempest-run.log")
        wall = time.monotonic() - started
    finally:
        if statera is not None:
            stop_process(statera)
        keystone.stop()
    passed, failed, skipped, failures = parse_counts(output)
    if passed + failed + skipped == 0:
        raise Unavailable(f"tempest ran no test: {output[-1500:]}")
    summary = Summary(passed, failed, skipped, wall, rbac, regex, failures)
    (state / "summary.json").write_text(json.dumps(asdict(summary), indent=2))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rbac", choices=RBAC_TYPES, default="keystone_default_roles",
                        help="[load_balancer] RBAC_test_type")
    parser.add_argument("--regex", default=API_TESTS, help="tests to run (tempest --regex)")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--state-dir", type=Path,
                        help="where Keystone, Statera and tempest keep their files and logs "
                        "(default: a new temporary directory, kept for its logs)")
    args = parser.parse_args(argv)
    state = args.state_dir or Path(tempfile.mkdtemp(prefix="statera-tempest-"))
    print(f"tempest: state and logs in {state}", flush=True)
    try:
        summary = run(state.resolve(), args.rbac, args.regex, args.concurrency)
    except (Unavailable, ks.KeystoneUnavailable) as exc:
        print(f"tempest: cannot run: {exc}", file=sys.stderr)
        return 2
    for test in summary.failures:
        print(f"FAILED {test}")
    print(summary.line())
    return 0 if summary.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
