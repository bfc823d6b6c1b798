"""``/metrics`` of real ``statera serve`` and ``statera agent`` processes, parsed with
prometheus_client's own parser and checked against what the test did through the API."""

from __future__ import annotations

import socket
import subprocess
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import (
    LOOPBACK_SUBNET,
    VENV_BIN,
    Server,
    free_port,
    running_server,
    wait_for,
)

Labels = dict[str, str]


def scrape(port: int) -> dict[str, list[tuple[str, Labels, float]]]:
    """Family name -> its samples (name, labels, value), from the process's /metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
    return {family.name: [(s.name, s.labels, s.value) for s in family.samples]
            for family in text_string_to_metric_families(text.decode())}


def value(families: dict[str, Any], sample: str, **labels: str) -> float:
    """The value of the one sample named ``sample`` with exactly these labels (0 if none)."""
    family = sample.removesuffix("_total").removesuffix("_count").removesuffix("_sum")
    found = [v for name, lbl, v in families.get(family, []) if name == sample and lbl == labels]
    assert len(found) <= 1, found
    return found[0] if found else 0.0


def status_code(url: str) -> int:
    try:
        return int(urllib.request.urlopen(url, timeout=10).status)
    except urllib.error.HTTPError as exc:
        return exc.code


def sdk_for(server: Server) -> Any:
    return openstack.connection.Connection(
        auth_type="none", load_balancer_endpoint_override=server.url,
        network_endpoint_override=server.url)


@pytest.fixture
def metered(tmp_path: Path) -> Iterator[tuple[Server, int]]:
    port = free_port()
    env = {"STATERA_API__DEFAULT_PROVIDER_DRIVER": "noop", "STATERA_METRICS__PORT": str(port)}
    with running_server(tmp_path / "data", env) as srv:
        yield srv, port


def test_serve_counts_requests_reconciles_and_load_balancers(
        metered: tuple[Server, int]) -> None:
    server, port = metered
    lbs = sdk_for(server).load_balancer
    created = [lbs.create_load_balancer(name=f"m{i}", vip_subnet_id=LOOPBACK_SUBNET)
               for i in range(3)]
    created.append(lbs.create_load_balancer(name="off", vip_subnet_id=LOOPBACK_SUBNET,
                                            is_admin_state_up=False))
    for lb in created:
        wait_for(lambda lb=lb: lbs.get_load_balancer(lb.id).provisioning_status == "ACTIVE",
                 what=f"{lb.name} ACTIVE")
    lbs.delete_load_balancer(created[0].id)
    wait_for(lambda: lbs.find_load_balancer(created[0].id, ignore_missing=True) is None,
             what="deleted")
    # Exactly one refused request on a route with a parameter, and one that no route serves.
    assert status_code(f"{server.url}/v2/lbaas/pools/{uuid.uuid4()}") == 404
    assert status_code(f"{server.url}/v2/no-such-thing/{uuid.uuid4()}") == 404

    families = scrape(port)
    requests = "statera_api_requests_total"
    assert value(families, requests, route="/v2/lbaas/loadbalancers", method="POST",
                 status="2xx") == 4
    assert value(families, "statera_api_request_duration_seconds_count",
                 route="/v2/lbaas/loadbalancers", method="POST") == 4
    assert value(families, requests, route="/v2/lbaas/loadbalancers/{lb_id}",
                 method="DELETE", status="2xx") == 1
    assert value(families, requests, route="/v2/lbaas/pools/{pool_id}", method="GET",
                 status="4xx") == 1
    assert value(families, requests, route="unmatched", method="GET", status="4xx") == 1
    # Routes are templates: no id of a load balancer is ever a label value.
    label_values = {v for samples in families.values() for _, lbl, _ in samples
                    for v in lbl.values()}
    assert not any(lb.id in v for lb in created for v in label_values)

    # Load balancers by status: what the API lists, grouped the same way.
    listed = Counter((lb.provider, lb.provisioning_status, lb.operating_status)
                     for lb in lbs.load_balancers())
    gauged = Counter({(lbl["provider"], lbl["provisioning_status"], lbl["operating_status"]):
                      int(v) for _, lbl, v in families["statera_loadbalancers"]})
    assert gauged == listed
    # Octavia's noop mode: no data plane ever sees a load balancer up.
    assert listed == {("noop", "ACTIVE", "OFFLINE"): 3}
    assert value(families, "statera_database_up") == 1

    # The agents inside `statera serve`: 4 creates and a delete converged, and reported.
    assert value(families, "statera_reconcile_duration_seconds_count", provider="noop",
                 outcome="ok") >= 5
    assert value(families, "statera_reconcile_duration_seconds_count", provider="noop",
                 outcome="error") == 0
    assert value(families, "statera_status_reports_total", outcome="applied") >= 5
    assert value(families, "statera_workqueue_depth", provider="noop") == 0


def test_agent_process_serves_its_own_metrics(tmp_path: Path) -> None:
    """An API host and an agent host on one database: each process has its own /metrics;
    the agent's shows its reconciles and status reports, the API's the requests and the
    database's gauges."""
    shared = {"STATERA_DATABASE__CONNECTION": f"sqlite:///{tmp_path}/shared.db",
              "STATERA_API__DEFAULT_PROVIDER_DRIVER": "noop",
              # In-process bus: no hint crosses processes, the agent's resync finds the work.
              "STATERA_DRIVER_AGENT__RESYNC_INTERVAL": "0.5"}
    api_port, agent_port = free_port(), free_port()
    (tmp_path / "api").mkdir()
    (tmp_path / "agent").mkdir()
    api = Server(tmp_path / "api", {**shared, "STATERA_METRICS__PORT": str(api_port),
                                    "STATERA_DRIVER_AGENT__ENABLED_PROVIDER_AGENTS": "[]"})
    agent = Server(tmp_path / "agent", {
        **shared, "STATERA_DRIVER_AGENT__ENABLED_PROVIDER_AGENTS": '["noop"]'})
    api.start()
    try:
        agent.start_agent("--metrics-port", str(agent_port))
        lbs = sdk_for(api).load_balancer
        lb = lbs.create_load_balancer(name="split", vip_subnet_id=LOOPBACK_SUBNET)
        wait_for(lambda: lbs.get_load_balancer(lb.id).provisioning_status == "ACTIVE",
                 timeout=20, what="ACTIVE through the agent process")
        on_agent = scrape(agent_port)
        on_api = scrape(api_port)
    finally:
        agent.stop()
        api.stop()
    assert value(on_agent, "statera_reconcile_duration_seconds_count", provider="noop",
                 outcome="ok") >= 1
    assert value(on_agent, "statera_status_reports_total", outcome="applied") >= 1
    assert value(on_agent, "statera_workqueue_adds_total", provider="noop") >= 1
    assert on_agent.get("statera_api_requests", []) == []  # no API in that process
    assert "statera_loadbalancers" not in on_agent  # the API host exports the database's
    assert value(on_api, "statera_api_requests_total", route="/v2/lbaas/loadbalancers",
                 method="POST", status="2xx") == 1
    assert value(on_api, "statera_loadbalancers", provider="noop",
                 provisioning_status="ACTIVE", operating_status="OFFLINE") == 1
    assert on_api.get("statera_reconcile_duration_seconds", []) == []  # no agents there


@pytest.mark.parametrize("command", ["serve", "agent"])
def test_a_chosen_metrics_port_that_is_taken_stops_the_process(tmp_path: Path,
                                                                command: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = [str(VENV_BIN / "statera"), command, "--data-dir", str(tmp_path / "d"),
                "--metrics-port", str(port)]
        if command == "serve":
            args += ["--port", str(free_port())]
        done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert (f"statera {command}: cannot serve metrics on 127.0.0.1:{port}: address already "
            "in use (choose another with --metrics-port, or 0 to disable)") in done.stderr
    assert "Traceback" not in done.stderr


def test_the_default_metrics_port_taken_is_only_a_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    """An API must not fail to start because another process (a second `statera serve` on
    a laptop) holds the default metrics port: it runs without metrics and says why."""
    from statera.cli import start_metrics
    from statera.config import Settings

    settings = Settings()
    holder = socket.socket()
    try:
        holder.bind((settings.metrics.host, settings.metrics.port))
        holder.listen()
    except OSError:
        pass  # someone else holds it: taken either way
    try:
        assert start_metrics(settings, "port", None) is None
    finally:
        holder.close()
    assert f"cannot listen on 127.0.0.1:{settings.metrics.port}" in caplog.text
