"""The unmodified ``openstack`` CLI with real Keystone tokens against ``statera serve``.

Statera is registered in Keystone's catalog as the ``load-balancer`` service (and, for the
CLI's subnet look-up, as the ``network`` service: it serves Neutron's read-only subset), and
configured only from the environment (``STATERA_KEYSTONE_AUTHTOKEN__<OPTION>``), as an operator
would run it. The CLI finds Statera through the catalog of the token it got.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LOOPBACK_SUBNET, VENV_BIN, Server, kill_leftovers
from tests.openstack import keystone as ks

pytestmark = [pytest.mark.keystone, pytest.mark.e2e]


@pytest.fixture
def server(keystone: ks.Keystone, tmp_path: Path) -> Iterator[Server]:
    env = {"STATERA_API__DEFAULT_PROVIDER_DRIVER": "noop",
           "STATERA_API__AUTH_STRATEGY": "keystone"}
    env |= {f"STATERA_KEYSTONE_AUTHTOKEN__{key.upper()}": value
            for key, value in keystone.authtoken_options().items()}
    srv = Server(tmp_path / "data", env)
    srv.data_dir.mkdir()
    keystone.register_load_balancer(srv.url)
    keystone.register_service("network", "neutron", srv.url)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        kill_leftovers(srv.data_dir)


def openstack(keystone: ks.Keystone, creds: ks.Credentials, *args: str) -> Any:
    """``openstack <args>`` (``-f json`` for commands that print) logged in as ``creds``
    (password, through Keystone)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env |= keystone.openstack_env(creds)
    prints = args[1] not in ("set", "delete")
    done = subprocess.run([str(VENV_BIN / "openstack"), *args, *(["-f", "json"] * prints)],
                          env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise CliError(done.stderr)
    return json.loads(done.stdout) if done.stdout.strip() else None


class CliError(Exception):
    pass


def test_openstack_cli_with_keystone_tokens(keystone: ks.Keystone, server: Server) -> None:
    alice = keystone.user("cli-alice", "cli-a", ["member"])
    alice_reader = keystone.user("cli-alice-reader", "cli-a", ["reader"])
    bob = keystone.user("cli-bob", "cli-b", ["load-balancer_member"])

    lb = openstack(keystone, alice, "loadbalancer", "create", "--name", "kslb",
                   "--vip-subnet-id", LOOPBACK_SUBNET, "--provider", "noop", "--wait")
    assert lb["provisioning_status"] == "ACTIVE"
    assert lb["project_id"] == alice.project_id
    listed = openstack(keystone, alice_reader, "loadbalancer", "list")
    assert [row["id"] for row in listed] == [lb["id"]]
    # Another project sees nothing of it (the CLI's look-up gets a 403 and reports it as
    # missing), and cannot change it.
    assert openstack(keystone, bob, "loadbalancer", "list") == []
    with pytest.raises(CliError, match="Unable to locate"):
        openstack(keystone, bob, "loadbalancer", "set", "--name", "stolen", lb["id"])
    # A reader reads but cannot write; the admin sees every project.
    with pytest.raises(CliError, match="403"):
        openstack(keystone, alice_reader, "loadbalancer", "set", "--name", "x", lb["id"])
    assert openstack(keystone, alice, "loadbalancer", "show", lb["id"])["name"] == "kslb"
    assert lb["id"] in {row["id"] for row in openstack(keystone, keystone.admin,
                                                       "loadbalancer", "list")}
    openstack(keystone, alice, "loadbalancer", "delete", "--wait", lb["id"])
    assert openstack(keystone, alice, "loadbalancer", "list") == []
    # The service user's password never reaches Statera's log.
    assert keystone.service.password not in server.log.read_text()
