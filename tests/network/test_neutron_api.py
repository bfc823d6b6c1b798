"""The Neutron subset: shapes, filters, field selection and errors, through HTTP, and the
look-ups openstacksdk really makes (against a live server)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from statera.api.neutron import neutron_router
from statera.db.engine import Database
from statera.network.base import NetworkDriver
from statera.network.local import LocalNetworkDriver
from statera.network.noop import NoopNetworkDriver
from tests.network.conftest import (
    LOOPBACK_NET,
    LOOPBACK_SUBNET,
    SMALL_A,
    SMALL_B,
    SMALL_NET,
    V6_SUBNET,
)


def make_app(driver: NetworkDriver, db: Database, discovery: bool = False) -> FastAPI:
    app = FastAPI()
    app.include_router(neutron_router(lambda: driver, db.session))
    if discovery:  # the API core serves this for real; the SDK needs it before any call
        @app.get("/")
        def versions(request: Request) -> dict[str, Any]:
            href = f"http://{request.headers['host']}/v2.0/"
            return {"versions": [{"id": "v2.0", "status": "CURRENT",
                                  "links": [{"href": href, "rel": "self"}]}]}
    return app


@pytest.fixture
def client(driver: LocalNetworkDriver, db: Database) -> TestClient:
    return TestClient(make_app(driver, db))


@pytest.fixture
def vip(driver: LocalNetworkDriver, db: Database) -> Any:
    with db.session() as s:
        return driver.allocate_vip(s, lb_id="lb-1", project_id="proj", subnet_id=LOOPBACK_SUBNET)


def test_subnet_shape(client: TestClient) -> None:
    resp = client.get(f"/v2.0/subnets/{LOOPBACK_SUBNET}")
    assert resp.status_code == 200
    subnet = resp.json()["subnet"]
    assert subnet["id"] == LOOPBACK_SUBNET
    assert subnet["name"] == "loopback-v4"
    assert subnet["network_id"] == LOOPBACK_NET
    assert subnet["cidr"] == "127.0.100.0/24"
    assert subnet["ip_version"] == 4
    assert subnet["gateway_ip"] == "127.0.100.1"
    assert subnet["allocation_pools"] == [{"start": "127.0.100.2", "end": "127.0.100.254"}]
    assert subnet["enable_dhcp"] is False
    assert subnet["project_id"] == subnet["tenant_id"]
    for key in ("dns_nameservers", "host_routes", "tags", "service_types"):
        assert subnet[key] == []


def test_subnet_allocation_start_and_ipv6(client: TestClient) -> None:
    small_b = client.get(f"/v2.0/subnets/{SMALL_B}").json()["subnet"]
    assert small_b["allocation_pools"] == [{"start": "127.0.102.100", "end": "127.0.102.254"}]
    v6 = client.get(f"/v2.0/subnets/{V6_SUBNET}").json()["subnet"]
    assert (v6["ip_version"], v6["gateway_ip"]) == (6, "fd00:5ea7:e4a::1")


def test_network_shape(client: TestClient) -> None:
    network = client.get(f"/v2.0/networks/{SMALL_NET}").json()["network"]
    assert network["subnets"] == [SMALL_A, SMALL_B]
    assert network["status"] == "ACTIVE"
    assert network["admin_state_up"] is True
    assert network["shared"] is True
    assert network["name"] == "small"
    assert "project_id" in network and "tenant_id" in network


def test_port_shape(client: TestClient, vip: Any) -> None:
    port = client.get(f"/v2.0/ports/{vip.port_id}").json()["port"]
    assert port["id"] == vip.port_id
    assert port["name"] == "octavia-lb-lb-1"
    assert port["network_id"] == LOOPBACK_NET
    assert port["fixed_ips"] == [{"subnet_id": LOOPBACK_SUBNET, "ip_address": "127.0.100.2"}]
    assert port["device_id"] == "lb-1"
    assert port["device_owner"] == "Octavia"
    assert port["status"] == "ACTIVE"
    assert port["project_id"] == port["tenant_id"] == "proj"
    assert port["mac_address"].startswith("fa:16:3e:")


@pytest.mark.parametrize("path, type_, message", [
    ("/v2.0/networks/nope", "NetworkNotFound", "Network nope could not be found."),
    ("/v2.0/subnets/nope", "SubnetNotFound", "Subnet nope could not be found."),
    ("/v2.0/ports/nope", "PortNotFound", "Port nope could not be found."),
    ("/v2.0/qos/policies/nope", "QosPolicyNotFound", "QoS policy nope could not be found."),
    ("/v2.0/security-groups/nope", "SecurityGroupNotFound", "Security group nope does not exist"),
    ("/v2.0/security-group-rules/nope", "SecurityGroupRuleNotFound",
     "Security group rule nope does not exist"),
    ("/v2.0/floatingips/nope", "FloatingIPNotFound", "Floating IP nope could not be found"),
])
def test_unknown_ids_are_neutron_404s(
    client: TestClient, path: str, type_: str, message: str
) -> None:
    resp = client.get(path)
    assert resp.status_code == 404
    assert resp.json() == {"NeutronError": {"type": type_, "message": message, "detail": ""}}


def test_id_and_name_filters_as_the_cli_sends_them(client: TestClient) -> None:
    by_id = client.get("/v2.0/subnets", params={"id": LOOPBACK_SUBNET}).json()["subnets"]
    assert [s["id"] for s in by_id] == [LOOPBACK_SUBNET]
    by_name = client.get("/v2.0/subnets", params={"name": "small-b"}).json()["subnets"]
    assert [s["id"] for s in by_name] == [SMALL_B]
    assert client.get("/v2.0/subnets", params={"id": "nope"}).json() == {"subnets": []}
    assert client.get("/v2.0/subnets", params={"name": "nope"}).json() == {"subnets": []}
    nets = client.get("/v2.0/networks", params={"name": "loopback"}).json()["networks"]
    assert [n["id"] for n in nets] == [LOOPBACK_NET]


def test_filters_combine_and_repeat(client: TestClient) -> None:
    both = client.get(f"/v2.0/subnets?id={SMALL_A}&id={SMALL_B}").json()["subnets"]
    assert {s["id"] for s in both} == {SMALL_A, SMALL_B}
    anded = client.get(f"/v2.0/subnets?network_id={SMALL_NET}&name=small-a").json()["subnets"]
    assert [s["id"] for s in anded] == [SMALL_A]
    v6 = client.get("/v2.0/subnets?ip_version=6").json()["subnets"]
    assert [s["id"] for s in v6] == [V6_SUBNET]
    assert len(client.get("/v2.0/networks?shared=True").json()["networks"]) == 4
    assert client.get("/v2.0/networks?shared=false").json()["networks"] == []
    # A list attribute matches when it contains the value.
    nets = client.get(f"/v2.0/networks?subnets={SMALL_B}").json()["networks"]
    assert [n["id"] for n in nets] == [SMALL_NET]


def test_port_filters(client: TestClient, vip: Any) -> None:
    def ids(query: str) -> list[str]:
        return [p["id"] for p in client.get(f"/v2.0/ports?{query}").json()["ports"]]

    assert ids("device_id=lb-1") == [vip.port_id]
    assert ids("device_owner=Octavia") == [vip.port_id]
    assert ids(f"network_id={LOOPBACK_NET}") == [vip.port_id]
    assert ids("fixed_ips=ip_address%3D127.0.100.2") == [vip.port_id]
    assert ids(f"fixed_ips=subnet_id%3D{LOOPBACK_SUBNET}") == [vip.port_id]
    assert ids("fixed_ips=ip_address%3D127.0.100.3") == []
    assert ids(f"id={vip.port_id}") == [vip.port_id]
    assert ids("device_id=other") == []


def test_field_selection(client: TestClient, vip: Any) -> None:
    listed = client.get("/v2.0/subnets?fields=id&fields=cidr").json()["subnets"]
    assert listed and all(set(s) == {"id", "cidr"} for s in listed)
    comma = client.get("/v2.0/networks?fields=id,name").json()["networks"]
    assert all(set(n) == {"id", "name"} for n in comma)
    shown = client.get(f"/v2.0/ports/{vip.port_id}?fields=fixed_ips").json()["port"]
    assert shown == {"fixed_ips": [{"subnet_id": LOOPBACK_SUBNET, "ip_address": "127.0.100.2"}]}


def test_unknown_filter_is_a_400(client: TestClient) -> None:
    resp = client.get("/v2.0/subnets?colour=blue")
    assert resp.status_code == 400
    error = resp.json()["NeutronError"]
    assert error["type"] == "HTTPBadRequest"
    assert "colour" in error["message"]


def test_sorting_and_paging(client: TestClient) -> None:
    names = [s["name"] for s in client.get(
        "/v2.0/subnets?sort_key=name&sort_dir=desc").json()["subnets"]]
    assert names == sorted(names, reverse=True)
    seen: list[str] = []
    url = "/v2.0/subnets?limit=2&sort_key=name"
    for _ in range(10):
        body = client.get(url).json()
        seen += [s["name"] for s in body["subnets"]]
        nxt = [link["href"] for link in body.get("subnets_links", []) if link["rel"] == "next"]
        if not nxt:
            break
        url = nxt[0].split("testserver", 1)[1]
    assert seen == sorted(["loopback-v4", "small-a", "small-b", "v6-sub"])
    assert client.get("/v2.0/subnets?marker=nope").status_code == 400


def test_qos_policies_and_security_groups_are_empty(client: TestClient) -> None:
    assert client.get("/v2.0/qos/policies").json() == {"policies": []}
    assert client.get("/v2.0/qos/policies?id=x").json() == {"policies": []}
    assert client.get("/v2.0/security-groups").json() == {"security_groups": []}


@pytest.mark.parametrize("path, key, query", [
    # What tools look up around a load balancer: the floating IP on its VIP port
    # (Ansible's openstack.cloud, Terraform), its port's security groups and their rules.
    ("/v2.0/floatingips", "floatingips", {"port_id": "p-1", "fields": "id"}),
    ("/v2.0/floatingips", "floatingips", {"floating_ip_address": "203.0.113.7"}),
    ("/v2.0/security-groups", "security_groups", {"name": "default", "project_id": "p"}),
    ("/v2.0/security-group-rules", "security_group_rules", {"security_group_id": "sg"}),
    ("/v2.0/qos/policies", "policies", {"name": "gold", "sort_key": "name"}),
])
def test_absent_resources_answer_neutron_filters_empty(
    client: TestClient, path: str, key: str, query: dict[str, str]
) -> None:
    resp = client.get(path, params=query)
    assert resp.status_code == 200 and resp.json() == {key: []}
    bad = client.get(path, params={"colour": "red"})
    assert bad.status_code == 400
    assert bad.json()["NeutronError"]["message"] == "['colour'] is invalid attribute for filtering"


def test_extensions_are_listed_empty(client: TestClient) -> None:
    assert client.get("/v2.0/extensions").json() == {"extensions": []}


def test_version_discovery_is_not_served_here(client: TestClient) -> None:
    assert client.get("/").status_code == 404


def test_noop_driver_resolves_any_id(db: Database) -> None:
    client = TestClient(make_app(NoopNetworkDriver(), db))
    subnets = client.get("/v2.0/subnets?id=anything").json()["subnets"]
    assert [s["id"] for s in subnets] == ["anything"]
    assert client.get("/v2.0/subnets").json() == {"subnets": []}
    assert client.get("/v2.0/ports/p-1").json()["port"]["id"] == "p-1"


# With the real SDK -----------------------------------------------------------------------------
@pytest.fixture
def live_url(driver: LocalNetworkDriver, db: Database) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    config = uvicorn.Config(make_app(driver, db, discovery=True), host="127.0.0.1", port=port,
                            log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_openstacksdk_resolves_networks_subnets_and_ports(live_url: str, vip: Any) -> None:
    openstack = pytest.importorskip("openstack")
    conn = openstack.connection.Connection(auth_type="none", network_endpoint_override=live_url)
    try:
        assert conn.network.find_subnet(LOOPBACK_SUBNET).cidr == "127.0.100.0/24"
        assert conn.network.find_subnet("small-b").id == SMALL_B
        assert conn.network.find_network("loopback").subnet_ids == [LOOPBACK_SUBNET]
        assert conn.network.find_network(LOOPBACK_NET).name == "loopback"
        port = conn.network.find_port(vip.port_id)
        assert port.fixed_ips == [{"subnet_id": LOOPBACK_SUBNET, "ip_address": "127.0.100.2"}]
        assert conn.network.find_subnet("no-such-subnet") is None
        assert conn.network.find_qos_policy("no-such-policy") is None
        assert len(list(conn.network.subnets())) == 4
    finally:
        conn.close()


def test_openstack_cli_shows_and_lists(live_url: str, vip: Any) -> None:
    cli = Path(sys.executable).with_name("openstack")
    if not cli.exists():
        pytest.skip("the openstack CLI is not installed")
    env = dict(os.environ, OS_AUTH_TYPE="none", OS_NETWORK_ENDPOINT_OVERRIDE=live_url)
    env.pop("OS_CLOUD", None)

    def run(*args: str) -> Any:
        done = subprocess.run([str(cli), *args, "-f", "json"], env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    assert run("subnet", "show", "loopback-v4")["cidr"] == "127.0.100.0/24"
    ports = run("port", "list")
    assert [p["ID"] for p in ports] == [vip.port_id]
