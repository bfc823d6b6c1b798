"""The noop network driver accepts any reference and invents a stable VIP."""

from __future__ import annotations

import ipaddress

import pytest

from statera.config import NetworkingSettings
from statera.db.engine import Database
from statera.network import VipValidationError, network_driver
from statera.network.noop import NoopNetworkDriver


def test_factory_builds_noop() -> None:
    assert isinstance(network_driver(NetworkingSettings(driver="noop")), NoopNetworkDriver)


def test_accepts_any_reference_and_invents_the_rest(db: Database) -> None:
    driver = NoopNetworkDriver()
    with db.session() as s:
        by_subnet = driver.allocate_vip(s, lb_id="lb-1", project_id="p", subnet_id="whatever")
        again = driver.allocate_vip(s, lb_id="lb-1", project_id="p", subnet_id="whatever")
        by_network = driver.allocate_vip(s, lb_id="lb-2", project_id="p", network_id="net")
        by_port = driver.allocate_vip(s, lb_id="lb-3", project_id="p", port_id="port",
                                      ip_address="10.1.2.3")
    assert by_subnet == again  # deterministic per load balancer
    assert ipaddress.ip_address(by_subnet.ip_address) in ipaddress.ip_network("198.51.100.0/24")
    assert by_subnet.subnet_id == "whatever" and by_subnet.octavia_owned
    assert by_network.network_id == "net" and by_network.subnet_id
    assert (by_port.port_id, by_port.ip_address, by_port.octavia_owned) == (
        "port", "10.1.2.3", False)
    driver.release_vip(s, "lb-1")  # nothing to free, must not fail


def test_still_needs_one_reference(db: Database) -> None:
    with db.session() as s, pytest.raises(VipValidationError):
        NoopNetworkDriver().allocate_vip(s, lb_id="lb", project_id="p")


def test_looks_up_anything_and_lists_nothing(db: Database) -> None:
    driver = NoopNetworkDriver()
    assert driver.get_subnet("s-1")["id"] == "s-1"
    assert driver.get_network("n-1")["id"] == "n-1"
    with db.session() as s:
        assert driver.get_port(s, "p-1")["id"] == "p-1"
        assert driver.list_ports(s) == []
    assert driver.list_networks() == [] and driver.list_subnets() == []
