"""The policy without Keystone: Octavia's rule names and defaults, the sample file, settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from statera.api import access
from statera.api.policy import Identity, Policy, default_rules, sample_policy
from statera.config import load_settings

VENV_BIN = Path(sys.executable).parent


def test_every_access_rule_names_a_defined_octavia_rule() -> None:
    names = {rule.name for rule in default_rules()}
    used = {rule.policy for rule in access.RULES.values() if rule.policy}
    assert used <= names
    assert all(name.startswith("os_load-balancer_api:") for name in used)


def test_policy_sample_command_writes_every_default(tmp_path: Path) -> None:
    out = tmp_path / "policy.yaml"
    done = subprocess.run([str(VENV_BIN / "statera"), "policy", "sample", "-o", str(out)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    rules = yaml.safe_load(out.read_text())
    assert rules == {rule.name: rule.check_str for rule in default_rules()}
    assert rules["os_load-balancer_api:loadbalancer:get_one"] == "rule:load-balancer:read"
    assert out.read_text() == sample_policy()


@pytest.mark.parametrize("roles,project,allowed", [
    ({"member"}, "alice", True), ({"load-balancer_member"}, "alice", True),
    ({"reader"}, "alice", False), ({"load-balancer_observer"}, "alice", False),
    ({"member"}, "bob", False), ({"load-balancer_admin"}, "bob", True),
    ({"admin"}, "bob", True), ({"load-balancer_global_observer"}, "alice", False),
])
def test_the_sample_as_policy_file_decides_as_the_defaults(
        tmp_path: Path, roles: set[str], project: str, allowed: bool) -> None:
    """Both role models: write a load balancer of project alice."""
    sample = tmp_path / "policy.yaml"
    sample.write_text(sample_policy())
    for policy in (Policy(), Policy(str(sample))):
        ident = Identity(project, frozenset(roles), policy=policy)
        assert ident.allows("os_load-balancer_api:loadbalancer:put", "alice") is allowed


def test_keystone_and_policy_settings_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATERA_API__AUTH_STRATEGY", "keystone")
    monkeypatch.setenv("STATERA_KEYSTONE_AUTHTOKEN__AUTH_URL", "http://k:5000/v3")
    monkeypatch.setenv("STATERA_KEYSTONE_AUTHTOKEN__MEMCACHED_SERVERS", "127.0.0.1:11211")
    monkeypatch.setenv("STATERA_OSLO_POLICY__POLICY_FILE", "/etc/statera/policy.yaml")
    settings = load_settings()
    assert settings.api.auth_strategy == "keystone"
    assert settings.keystone_authtoken == {"auth_url": "http://k:5000/v3",
                                           "memcached_servers": "127.0.0.1:11211"}
    assert settings.oslo_policy.policy_file == "/etc/statera/policy.yaml"


def test_an_unknown_auth_strategy_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATERA_API__AUTH_STRATEGY", "keystone-ish")
    with pytest.raises(ValueError, match="auth_strategy"):
        load_settings()
