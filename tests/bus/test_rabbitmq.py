"""The RabbitMQ bus against the real broker on loopback, and Statera split over two
processes (API host and agent host) that share PostgreSQL and RabbitMQ."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path
from typing import Any

import pytest

from statera.bus.base import FAILOVER
from statera.bus.rabbitmq import RabbitMQBus
from tests.dbs import temp_database
from tests.e2e.conftest import LOOPBACK_SUBNET, Server, wait_for
from tests.services import AMQP_URL, host_port

URL = AMQP_URL


def _broker_up() -> bool:
    try:
        socket.create_connection(host_port(URL), timeout=1).close()
        return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _broker_up(),
                                reason=f"RabbitMQ is not running at {host_port(URL)}")


def test_hints_cross_connections_by_provider_with_their_action() -> None:
    api_side, agent_side = RabbitMQBus(URL), RabbitMQBus(URL)
    topic = f"prov-{uuid.uuid4().hex[:8]}"
    mine = agent_side.subscribe(topic)
    other = agent_side.subscribe(topic + "-other")
    second = RabbitMQBus(URL).subscribe(topic)  # another agent host of the same provider
    try:
        api_side.publish(topic, "lb-1")
        api_side.publish(topic, "lb-2", FAILOVER)
        got = [mine.get(timeout=5), mine.get(timeout=5)]
        assert got == ["lb-1", "lb-2"]
        assert [h.action for h in got if h] == ["converge", "failover"]
        assert [second.get(timeout=5), second.get(timeout=5)] == ["lb-1", "lb-2"]
        assert other.get(timeout=0.5) is None
    finally:
        for sub in (mine, other, second):
            sub.close()
        api_side.close()
        agent_side.close()


def test_publish_without_broker_does_not_raise() -> None:
    bus = RabbitMQBus("amqp://guest:guest@127.0.0.1:1/%2F")
    bus.publish("noop", "lb-1")  # logged; the periodic resync covers it


def test_api_host_and_agent_host_over_rabbitmq_and_postgresql(tmp_path: Path) -> None:
    import openstack

    with temp_database("postgresql", str(tmp_path)) as url:
        env = {"STATERA_DATABASE__CONNECTION": url, "STATERA_BUS__DRIVER": "rabbitmq",
               "STATERA_BUS__URL": URL, "STATERA_API__DEFAULT_PROVIDER_DRIVER": "noop",
               # A long resync: convergence within the wait below comes from the hint.
               "STATERA_DRIVER_AGENT__RESYNC_INTERVAL": "300"}
        (tmp_path / "api").mkdir()
        (tmp_path / "agent").mkdir()
        api = Server(tmp_path / "api", {**env, "STATERA_DRIVER_AGENT__ENABLED_PROVIDER_AGENTS":
                                        "[]"})
        agent = Server(tmp_path / "agent", {**env, "STATERA_DRIVER_AGENT__ENABLED_PROVIDER_AGENTS":
                                            '["noop"]'})
        api.start()
        agent.start_agent()
        try:
            sdk: Any = openstack.connection.Connection(
                auth_type="none", load_balancer_endpoint_override=api.url)
            lb = sdk.load_balancer.create_load_balancer(name="split",
                                                        vip_subnet_id=LOOPBACK_SUBNET)
            wait_for(lambda: sdk.load_balancer.get_load_balancer(lb.id).provisioning_status
                     == "ACTIVE", timeout=20, what="ACTIVE through the agent host")
            sdk.load_balancer.delete_load_balancer(lb.id)
            wait_for(lambda: sdk.load_balancer.find_load_balancer(lb.id, ignore_missing=True)
                     is None, timeout=20, what="deleted through the agent host")
        finally:
            api.stop()
            agent.stop()
    # The AMQP library's INFO chatter (every connection, channel and close) stays out of the
    # logs a user reads; Statera's own lines stay in.
    for server in (api, agent):
        log = server.log.read_text()
        assert " INFO statera" in log
        noisy = [line for line in log.splitlines() if " INFO pika" in line]
        assert noisy == [], noisy[:5]
