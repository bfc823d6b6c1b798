"""API side: what the haproxy provider accepts and what it refuses with UnsupportedOptionError."""

from __future__ import annotations

import pytest
from octavia_lib.api.drivers import data_models as dm
from octavia_lib.api.drivers import exceptions

from statera.providers.haproxy.driver import HAProxyProviderDriver


@pytest.fixture
def driver() -> HAProxyProviderDriver:
    return HAProxyProviderDriver()


@pytest.mark.parametrize("protocol", ["UDP", "SCTP"])
def test_udp_and_sctp_listeners_and_pools_are_refused(driver, protocol):
    with pytest.raises(exceptions.UnsupportedOptionError) as err:
        driver.listener_create(dm.Listener(listener_id="l", protocol=protocol))
    assert protocol in err.value.user_fault_string
    with pytest.raises(exceptions.UnsupportedOptionError):
        driver.pool_create(dm.Pool(pool_id="p", protocol=protocol))
    with pytest.raises(exceptions.UnsupportedOptionError):
        driver.loadbalancer_create(dm.LoadBalancer(
            loadbalancer_id="x", listeners=[dm.Listener(listener_id="l", protocol=protocol)]))


@pytest.mark.parametrize("kind", ["UDP-CONNECT", "SCTP"])
def test_lvs_only_monitors_are_refused(driver, kind):
    with pytest.raises(exceptions.UnsupportedOptionError):
        driver.health_monitor_create(dm.HealthMonitor(healthmonitor_id="h", type=kind))
    with pytest.raises(exceptions.UnsupportedOptionError):
        driver.pool_create(dm.Pool(pool_id="p", protocol="HTTP",
                                   healthmonitor=dm.HealthMonitor(type=kind)))


def test_supported_objects_are_accepted(driver):
    for protocol in ("HTTP", "HTTPS", "TCP", "TERMINATED_HTTPS", "PROMETHEUS"):
        driver.listener_create(dm.Listener(listener_id="l", protocol=protocol))
    for algorithm in ("ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP", "SOURCE_IP_PORT"):
        driver.pool_create(dm.Pool(pool_id="p", protocol="PROXYV2", lb_algorithm=algorithm,
                                   session_persistence={"type": "APP_COOKIE",
                                                        "cookie_name": "c"}))
    for kind in ("HTTP", "HTTPS", "TCP", "TLS-HELLO", "PING"):
        driver.health_monitor_create(dm.HealthMonitor(healthmonitor_id="h", type=kind))
    # update(old, new): ``new`` holds only what changes, the rest is Unset
    driver.listener_update(dm.Listener(protocol="UDP"), dm.Listener(listener_id="l"))
    driver.member_create(dm.Member(member_id="m"))
    driver.l7rule_create(dm.L7Rule(l7rule_id="r"))


def test_vip_allocation_is_left_to_the_core(driver):
    with pytest.raises(NotImplementedError):
        driver.create_vip_port("lb", "project", {}, [])


def test_flavors(driver):
    assert set(driver.get_supported_flavor_metadata()) == {"nbthread", "maxconn",
                                                           "loadbalancer_topology"}
    driver.validate_flavor({"nbthread": 2, "maxconn": 1000})
    driver.validate_flavor({"loadbalancer_topology": "ACTIVE_STANDBY"})
    driver.validate_flavor({"loadbalancer_topology": "SINGLE", "nbthread": 2})
    for bad in ({"nbthread": 0}, {"nbthread": 65}, {"maxconn": "many"}, {"other": 1},
                {"loadbalancer_topology": "ACTIVE_ACTIVE"}, {"loadbalancer_topology": 2}):
        with pytest.raises(exceptions.UnsupportedOptionError):
            driver.validate_flavor(bad)
    assert driver.get_supported_availability_zone_metadata() == {}
    driver.validate_availability_zone({})
    with pytest.raises(exceptions.UnsupportedOptionError):
        driver.validate_availability_zone({"compute_zone": "a"})
