"""The unmodified ``openstack loadbalancer`` CLI against a running server (no Keystone)."""

from __future__ import annotations

from typing import Any


def test_cli_full_lifecycle(cli: Any) -> None:
    subnets = cli("subnet", "list")
    assert any(s["Name"] == "loopback-v4" for s in subnets)
    lb = cli("loadbalancer", "create", "--name", "cli-lb", "--vip-subnet-id", "loopback-v4",
             "--provider", "noop", "--wait")
    assert lb["provisioning_status"] == "ACTIVE"
    assert lb["vip_address"].startswith("127.0.100.")
    cli("loadbalancer", "listener", "create", "--name", "cli-l", "--protocol", "HTTP",
        "--protocol-port", "8080", "cli-lb", "--wait")
    cli("loadbalancer", "pool", "create", "--name", "cli-p", "--listener", "cli-l",
        "--protocol", "HTTP", "--lb-algorithm", "ROUND_ROBIN", "--wait")
    cli("loadbalancer", "member", "create", "--name", "cli-m", "--address", "127.0.0.1",
        "--protocol-port", "8000", "cli-p", "--wait")
    cli("loadbalancer", "healthmonitor", "create", "--name", "cli-hm", "--delay", "5",
        "--timeout", "3", "--max-retries", "3", "--type", "HTTP", "cli-p", "--wait")
    cli("loadbalancer", "l7policy", "create", "--name", "cli-pol", "--action",
        "REDIRECT_TO_URL", "--redirect-url", "https://example.com/", "cli-l", "--wait")
    cli("loadbalancer", "l7rule", "create", "--type", "PATH", "--compare-type",
        "STARTS_WITH", "--value", "/old", "cli-pol", "--wait")

    shown = cli("loadbalancer", "show", "cli-lb")
    assert shown["name"] == "cli-lb" and shown["provisioning_status"] == "ACTIVE"
    assert cli("loadbalancer", "show", shown["id"])["id"] == shown["id"]
    members = cli("loadbalancer", "member", "list", "cli-p")
    assert [m["name"] for m in members] == ["cli-m"]
    assert cli("loadbalancer", "listener", "list", "--loadbalancer", "cli-lb")[0]["name"] \
        == "cli-l"
    assert len(cli("loadbalancer", "list", "--name", "cli-lb")) == 1

    cli("loadbalancer", "set", "--name", "cli-lb2", "cli-lb", "--wait", parse=False)
    assert cli("loadbalancer", "show", "cli-lb2")["name"] == "cli-lb2"
    status = cli("loadbalancer", "status", "show", "cli-lb2", fmt=False)  # prints JSON itself
    listener = status["loadbalancer"]["listeners"][0]
    assert listener["pools"][0]["members"][0]["provisioning_status"] == "ACTIVE"
    assert listener["pools"][0]["health_monitor"]["name"] == "cli-hm"
    stats = cli("loadbalancer", "stats", "show", "cli-lb2")
    assert stats["bytes_in"] == 0

    cli("loadbalancer", "member", "delete", "cli-p", "cli-m", "--wait", parse=False)
    assert cli("loadbalancer", "member", "list", "cli-p") == []
    cli("loadbalancer", "delete", "--cascade", "cli-lb2", "--wait", parse=False)
    assert cli("loadbalancer", "list") == []
    assert cli("loadbalancer", "provider", "list")
