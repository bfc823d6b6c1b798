"""The f5 driver refuses up front (Octavia's 501) what the agent could never declare, on
creates (whole objects) and updates (only the changed fields set)."""

from __future__ import annotations

from typing import Any

import pytest
from octavia_lib.api.drivers import data_models as dm
from octavia_lib.api.drivers import exceptions

from statera.providers.f5.driver import F5ProviderDriver
from tests.f5 import graphs as g

DRIVER = F5ProviderDriver()


def refused(call: Any) -> str:
    with pytest.raises(exceptions.UnsupportedOptionError) as failed:
        call()
    return str(failed.value.user_fault_string)


def test_supported_graph_is_accepted() -> None:
    p = g.pool(session_persistence={"type": "APP_COOKIE", "cookie_name": "JSESSIONID"},
               healthmonitor=g.monitor("HTTPS"))
    lst = g.listener(default_pool=p, l7policies=[g.policy("REDIRECT_TO_POOL",
                                                          redirect_pool_id=p.pool_id)],
                     insert_headers={"X-Forwarded-For": "true"})
    DRIVER.loadbalancer_create(g.loadbalancer([lst], [p]))
    DRIVER.member_batch_update(p.pool_id, [g.member(), g.member("192.0.2.99")])


@pytest.mark.parametrize("call,words", [
    (lambda: DRIVER.listener_create(g.listener("SCTP")), "SCTP listeners"),
    (lambda: DRIVER.listener_update(g.listener(), dm.Listener(allowed_cidrs=["10.0.0.0/8"])),
     "allowed_cidrs"),
    (lambda: DRIVER.listener_update(g.listener(), dm.Listener(
        insert_headers={"X-Forwarded-Proto": "true"})), "X-Forwarded-Proto"),
    (lambda: DRIVER.pool_update(g.pool(), dm.Pool(lb_algorithm="SOURCE_IP_PORT")),
     "SOURCE_IP_PORT"),
    (lambda: DRIVER.pool_create(g.pool("PROXYV2")), "PROXYV2 pools"),
    (lambda: DRIVER.pool_update(g.pool(), dm.Pool(session_persistence={
        "type": "APP_COOKIE", "cookie_name": "a|b"})), "cookie name"),
    (lambda: DRIVER.member_update(g.member(), dm.Member(monitor_port=9000)), "monitor_port"),
    (lambda: DRIVER.health_monitor_create(g.monitor("TLS-HELLO")), "TLS-HELLO"),
    (lambda: DRIVER.health_monitor_update(g.monitor(), dm.HealthMonitor(http_version=2.0)),
     "HTTP/2.0"),
    (lambda: DRIVER.l7policy_update(g.policy(), dm.L7Policy(action="REDIRECT_TO_LISTENER")),
     "REDIRECT_TO_LISTENER"),
    (lambda: DRIVER.l7rule_update(g.rule(), dm.L7Rule(compare_type="REGEX")), "REGEX"),
    (lambda: DRIVER.l7rule_create(g.rule("SSL_DN_FIELD")), "SSL_DN_FIELD"),
    (lambda: DRIVER.validate_flavor({"anything": 1}), "flavor"),
    (lambda: DRIVER.validate_availability_zone({"zone": "a"}), "availability zone"),
])
def test_what_as3_cannot_express_is_501(call: Any, words: str) -> None:
    message = refused(call)
    assert message.startswith("The f5 provider does not support") and words in message


def test_updates_that_change_nothing_refusable_pass() -> None:
    DRIVER.listener_update(g.listener(), dm.Listener(name="renamed", connection_limit=10))
    DRIVER.pool_update(g.pool(), dm.Pool(description="x"))
    DRIVER.health_monitor_update(g.monitor(), dm.HealthMonitor(delay=9))
