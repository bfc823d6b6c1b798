"""A load balancer keeps serving while Statera restarts: 10 restarts of ``statera serve``
(5 SIGTERM, 5 ``kill -9``) on PostgreSQL and RabbitMQ while clients hit three VIPs.

No request fails, every HAProxy keeps its pid (each new agent adopts it: no restart, no
reload), and the adopted processes still take changes: a new member through the runtime API
and a listener change through a seamless reload, both under the same load. At the end,
``statera dataplanes stop`` ends them (they outlive ``statera serve`` on purpose).
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.dbs import temp_database
from tests.e2e.conftest import VENV_BIN, Server, pids_naming, wait_for
from tests.e2e.haproxy_support import (
    SUBNET_ID,
    Backend,
    haproxy_env,
    haproxy_pid,
    requires_haproxy,
    serving,
)
from tests.e2e.load import Load
from tests.services import AMQP_URL, host_port

pytestmark = requires_haproxy
LBS = 3
RESTARTS = 10


def broker_up() -> bool:
    try:
        socket.create_connection(host_port(AMQP_URL), timeout=1).close()
        return True
    except OSError:
        return False


def counters(server: Server, lb_id: str) -> dict[str, int]:
    path = server.data_dir / "providers" / "haproxy" / lb_id / "counters.json"
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """``statera serve`` with HAProxy on a fresh PostgreSQL database, hints over RabbitMQ
    (the in-process bus when no broker runs here)."""
    with temp_database("postgresql", str(tmp_path)) as url:
        env = haproxy_env(STATERA_DATABASE__CONNECTION=url)
        if broker_up():
            # With a broker, an API host runs no agents unless told; this one is every host.
            env.update(STATERA_BUS__DRIVER="rabbitmq", STATERA_BUS__URL=AMQP_URL,
                       STATERA_API__RUN_AGENTS="true")
        srv = Server(tmp_path / "data", env)
        srv.data_dir.mkdir()
        srv.start()
        try:
            yield srv
        finally:
            srv.close()
            assert wait_for(lambda: pids_naming(srv.data_dir) == [], timeout=5,
                            what="no process left for the data directory")


def create(api: httpx.Client, name: str, port: int, backend: Backend) -> dict[str, Any]:
    body = {"loadbalancer": {
        "name": name, "vip_subnet_id": SUBNET_ID,
        "listeners": [{"protocol": "HTTP", "protocol_port": port, "default_pool": {
            "name": f"{name}-pool", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
            "members": [{"address": "127.0.0.1", "protocol_port": backend.port}]}}]}}
    resp = api.post("/v2/lbaas/loadbalancers", json=body)
    assert resp.status_code == 201, resp.text
    return dict(resp.json()["loadbalancer"])


def active(api: httpx.Client, lb_id: str) -> bool:
    resp = api.get(f"/v2/lbaas/loadbalancers/{lb_id}")
    return resp.status_code == 200 and resp.json()["loadbalancer"][
        "provisioning_status"] == "ACTIVE"


def test_ten_restarts_of_statera_drop_no_request(server: Server) -> None:
    backends = [Backend(f"b{i}") for i in range(LBS)]
    extra = Backend("new")
    api = httpx.Client(base_url=server.url, timeout=30)
    load: Load | None = None
    try:
        lbs = [create(api, f"survive-{i}", 8080 + i, backends[i]) for i in range(LBS)]
        ids = [lb["id"] for lb in lbs]
        targets = [(lb["vip_address"], 8080 + i) for i, lb in enumerate(lbs)]
        for lb_id, (vip, port) in zip(ids, targets, strict=True):
            wait_for(lambda lb_id=lb_id: active(api, lb_id), timeout=20, what="ACTIVE")
            wait_for(lambda vip=vip, port=port: serving(vip, port), timeout=10, what="serving")
        pids = {lb_id: haproxy_pid(server, lb_id) for lb_id in ids}
        assert None not in pids.values()
        load = Load(targets).start()

        for n in range(1, RESTARTS + 1):
            server.stop(signal.SIGTERM if n % 2 else signal.SIGKILL)
            server.start()  # returns once the API answers
            wait_for(lambda n=n: all(counters(server, i).get("adoptions") == n for i in ids),
                     timeout=20, what=f"every HAProxy adopted after restart {n}")
        assert {i: haproxy_pid(server, i) for i in ids} == pids
        # Whoever stopped it with SIGTERM was told the load balancers still serve, and how
        # to end them.
        assert (f"3 load balancer data plane(s) keep serving; `statera dataplanes stop "
                f"--data-dir {server.data_dir}` ends them") in server.log.read_text()
        for lb_id in ids:
            c = counters(server, lb_id)
            assert (c["starts"], c["reloads"], c["restarts"]) == (1, 0, 0), c
        assert load.failed == 0, load.errors()

        # The adopted processes take changes. A member: runtime API, same process.
        first = lbs[0]
        pool_id = api.get("/v2/lbaas/pools", params={"loadbalancer_id": first["id"]}).json()[
            "pools"][0]["id"]
        resp = api.post(f"/v2/lbaas/pools/{pool_id}/members", json={"member": {
            "address": "127.0.0.1", "protocol_port": extra.port}})
        assert resp.status_code == 201, resp.text
        wait_for(lambda: active(api, first["id"]), timeout=20, what="member ACTIVE")
        load.reset_answers()
        wait_for(lambda: load.targets[0].answers.get("new", 0) > 0, timeout=10,
                 what="traffic on the new member")
        assert haproxy_pid(server, first["id"]) == pids[first["id"]]
        # A listener change: a seamless reload of the adopted process.
        listener_id = first["listeners"][0]["id"]
        resp = api.put(f"/v2/lbaas/listeners/{listener_id}",
                       json={"listener": {"timeout_client_data": 40000}})
        assert resp.status_code == 200, resp.text
        wait_for(lambda: counters(server, first["id"]).get("reloads") == 1, timeout=20,
                 what="the adopted HAProxy reloaded")
        wait_for(lambda: active(api, first["id"]), timeout=20, what="listener ACTIVE")
        assert haproxy_pid(server, first["id"]) not in (None, pids[first["id"]])
        load.reset_answers()
        wait_for(lambda: {"b0", "new"} <= set(load.targets[0].answers), timeout=10,
                 what="both members answering after the reload")
        load.stop()
        bus = server.env.get("STATERA_BUS__DRIVER", "in-process")
        print(f"bus {bus}: {load.ok} requests, {load.failed} failed, longest gap "
              f"{load.longest_gap * 1000:.0f} ms, slowest request {load.slowest * 1000:.0f} ms")
        assert load.failed == 0, load.errors()
    finally:
        if load is not None:
            load.stop()
        api.close()
        server.stop()
        # What a user ending Statera for good runs; the fixture checks nothing is left.
        done = subprocess.run([str(VENV_BIN / "statera"), "dataplanes", "stop", "--data-dir",
                               str(server.data_dir)], capture_output=True, text=True,
                              timeout=60, check=False)
        for backend in [*backends, extra]:
            backend.stop()
    assert done.returncode == 0, done.stderr
    assert sorted(line.split()[2] for line in done.stdout.splitlines()) == sorted(ids)
