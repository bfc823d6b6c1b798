"""Many real clients mixing creates, updates, deletes and cascades against one ``statera serve``
while its driver agent reports, on SQLite, PostgreSQL and MariaDB.

What a user must see at the end: every object whose delete was answered 204 is gone (no
resurrection), every object that was kept exists and is ACTIVE with the last name written,
nothing is left PENDING_*, and no VIP stays allocated for a deleted load balancer.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select

from statera.db import models as m
from statera.network.local import LOCK_ADDRESS
from tests.e2e.conftest import LOOPBACK_SUBNET, Server

CLIENTS = 8
ROUNDS = 12  # per client; each round is one load balancer's life


@dataclass
class Outcome:
    """What the clients were told, per object id: kept (with its last name) or deleted."""

    kept_lbs: dict[str, str] = field(default_factory=dict)
    deleted_lbs: set[str] = field(default_factory=set)
    kept_children: dict[str, str] = field(default_factory=dict)  # id -> collection path
    deleted_children: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _ok(resp: httpx.Response, *codes: int) -> dict[str, Any]:
    if resp.status_code not in codes:
        raise AssertionError(f"{resp.request.method} {resp.request.url.path}: "
                             f"{resp.status_code} {resp.text[:300]}")
    return resp.json() if resp.content else {}


def _wait_active(client: httpx.Client, lb_id: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        body = _ok(client.get(f"/loadbalancers/{lb_id}"), 200)["loadbalancer"]
        if body["provisioning_status"] == "ACTIVE":
            return
        time.sleep(0.02)
    raise AssertionError(f"load balancer {lb_id} not ACTIVE in 20 s")


def _one_life(client: httpx.Client, rng: random.Random, out: Outcome) -> None:
    """Create a load balancer (sometimes a whole graph), change it, and maybe delete it."""
    graph = rng.random() < 0.4
    body: dict[str, Any] = {"vip_subnet_id": LOOPBACK_SUBNET, "name": "new"}
    if graph:
        body["listeners"] = [{"protocol": "HTTP", "protocol_port": 80, "default_pool": {
            "name": "p", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
            "members": [{"address": "127.0.0.1", "protocol_port": 8080}]}}]
    lb = _ok(client.post("/loadbalancers", json={"loadbalancer": body}), 201)["loadbalancer"]
    lb_id, name = lb["id"], "new"
    if rng.random() < 0.5:
        _wait_active(client, lb_id)  # the lost-delete race: a report of the update lands late
    name = f"renamed-{rng.randrange(1000)}"
    _ok(client.put(f"/loadbalancers/{lb_id}", json={"loadbalancer": {"name": name}}), 200)
    children: dict[str, str] = {}
    had_listener = rng.random() < 0.5
    if had_listener:
        port = 1000 + rng.randrange(60000)
        listener = _ok(client.post("/listeners", json={"listener": {
            "loadbalancer_id": lb_id, "protocol": "TCP", "protocol_port": port}}), 201)
        children[listener["listener"]["id"]] = "listeners"
        if rng.random() < 0.5:
            listener_id = listener["listener"]["id"]
            _ok(client.delete(f"/listeners/{listener_id}"), 204)
            with out.lock:
                out.deleted_children[listener_id] = "listeners"
            del children[listener_id]
    action = rng.choice(["keep", "delete", "cascade"])
    # A listener being deleted is still a child (Octavia's 400 without cascade).
    has_children = graph or had_listener
    if action == "delete" and has_children:
        action = "cascade"
    if action == "keep":
        with out.lock:
            out.kept_lbs[lb_id] = name
            out.kept_children.update(children)
        return
    query = "?cascade=true" if action == "cascade" else ""
    _ok(client.delete(f"/loadbalancers/{lb_id}{query}"), 204)
    with out.lock:
        out.deleted_lbs.add(lb_id)
        out.deleted_children.update(children)


def _client_thread(url: str, seed: int, out: Outcome) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=url + "/v2/lbaas", timeout=60) as client:
        for _ in range(ROUNDS):
            try:
                _one_life(client, rng, out)
            except Exception as exc:  # recorded; the test fails on any
                with out.lock:
                    out.errors.append(repr(exc))


def _pending(client: httpx.Client) -> list[tuple[str, str, str]]:
    found = []
    for path, key in (("loadbalancers", "loadbalancers"), ("listeners", "listeners"),
                      ("pools", "pools")):
        for obj in _ok(client.get(f"/{path}?limit=10000"), 200)[key]:
            if obj["provisioning_status"].startswith("PENDING_"):
                found.append((path, obj["id"], obj["provisioning_status"]))
    return found


def test_no_lost_delete_no_resurrection_no_leak(db_server: tuple[Server, str]) -> None:
    server, url = db_server
    out = Outcome()
    threads = [threading.Thread(target=_client_thread, args=(server.url, seed, out))
               for seed in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert out.errors == []

    with httpx.Client(base_url=server.url + "/v2/lbaas", timeout=60) as client:
        deadline = time.monotonic() + 30
        while (pending := _pending(client)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert pending == [], "objects stuck in PENDING_*"
        for lb_id in out.deleted_lbs:
            resp = client.get(f"/loadbalancers/{lb_id}")
            assert resp.status_code == 404, f"deleted load balancer {lb_id} came back: {resp.text}"
        for lb_id, name in out.kept_lbs.items():
            lb = _ok(client.get(f"/loadbalancers/{lb_id}"), 200)["loadbalancer"]
            assert (lb["provisioning_status"], lb["name"]) == ("ACTIVE", name)
        for obj_id, path in out.deleted_children.items():
            assert client.get(f"/{path}/{obj_id}").status_code == 404
        for obj_id, path in out.kept_children.items():
            obj = _ok(client.get(f"/{path}/{obj_id}"), 200)
            assert obj[path[:-1]]["provisioning_status"] == "ACTIVE"

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            live = set(conn.scalars(select(m.LoadBalancer.id).where(
                m.LoadBalancer.provisioning_status != "DELETED")))
            addresses = m.VipPort.ip_address != LOCK_ADDRESS  # the allocator's lock row
            vip_owners = list(conn.scalars(select(m.VipPort.device_id).where(addresses)))
            ports = conn.scalar(select(func.count()).select_from(m.VipPort).where(addresses))
    finally:
        engine.dispose()
    assert live == set(out.kept_lbs), "the database's live load balancers differ"
    assert sorted(o for o in vip_owners if o) == sorted(live), "VIPs leaked or missing"
    assert ports == len(live)
