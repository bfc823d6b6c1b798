"""A stateful property test of the status model: Hypothesis interleaves API writes, provider
reads (the get socket), provider reports (the status socket), stale reports and agent restarts,
and checks the invariants after every step, on SQLite, PostgreSQL and MariaDB.

The provider here is the protocol itself, not a mock of Statera: it calls the driver agent's real
get and status handlers exactly as a provider agent's DriverLibrary calls reach them, and reports
what every provider agent reports (the graph it read ACTIVE, or DELETED for an empty graph). A
read and its report are separate steps, so every order of "read, write, report" is tried,
including a report of a graph read before a delete.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)
from octavia_lib.common import constants as lib_consts
from sqlalchemy import select

from statera.agent import dbgraph
from statera.agent.get import GetHandler
from statera.agent.status import StatusHandler
from statera.api.app import create_app
from statera.db import models as m
from statera.network.local import LOCK_ADDRESS
from tests.api.conftest import LOOPBACK_SUBNET, make_services, make_settings
from tests.dbs import BACKENDS, temp_database

PENDING = ("PENDING_CREATE", "PENDING_UPDATE", "PENDING_DELETE")


class StatusModel(RuleBasedStateMachine):
    """What the clients were told, and the invariants the database must keep about it."""

    env: dict[str, Any] = {}
    lbs = Bundle("lbs")
    listeners = Bundle("listeners")

    def __init__(self) -> None:
        super().__init__()
        self.svc = self.env["services"]
        self.client: TestClient = self.env["client"]
        self.names: dict[str, str] = {}  # kept load balancer -> its last name
        self.deleted_lbs: set[str] = set()
        self.listener_lb: dict[str, str] = {}
        self.deleted_listeners: set[str] = set()
        self.snapshots: dict[str, dict[str, Any]] = {}
        self.port = 1000
        self._new_handlers()

    def _new_handlers(self) -> None:
        """A (re)started driver agent: new handlers, and the provider remembers nothing."""
        db = self.svc.db
        self.get = GetHandler(db)  # what it serves, the status handler compares reports with
        self.status = StatusHandler(
            db, release_vip=lambda session, lb: self.svc.network.release_vip(session, lb.id),
            served=self.get.served)
        self.snapshots.clear()

    def _api(self, method: str, path: str, body: Any = None) -> Any:
        return self.client.request(method, f"/v2/lbaas/{path}", json=body)

    # API writes ------------------------------------------------------------------------------
    @rule(target=lbs, graph=st.booleans())
    def create_lb(self, graph: bool) -> str:
        body: dict[str, Any] = {"vip_subnet_id": LOOPBACK_SUBNET, "name": "new"}
        if graph:
            body["listeners"] = [{"protocol": "TCP", "protocol_port": 80}]
        resp = self._api("POST", "loadbalancers", {"loadbalancer": body})
        assert resp.status_code == 201, resp.text
        lb = resp.json()["loadbalancer"]
        self.names[lb["id"]] = "new"
        for listener in lb["listeners"]:
            self.listener_lb[listener["id"]] = lb["id"]
        return str(lb["id"])

    @rule(lb_id=lbs, name=st.sampled_from(["a", "b", "c"]))
    def update_lb(self, lb_id: str, name: str) -> None:
        resp = self._api("PUT", f"loadbalancers/{lb_id}", {"loadbalancer": {"name": name}})
        if lb_id in self.deleted_lbs:
            assert resp.status_code in (404, 409), resp.text
        else:
            assert resp.status_code == 200, resp.text
            self.names[lb_id] = name

    @rule(lb_id=consumes(lbs), cascade=st.booleans())
    def delete_lb(self, lb_id: str, cascade: bool) -> None:
        resp = self._api("DELETE", f"loadbalancers/{lb_id}" + ("?cascade=true" if cascade else ""))
        if lb_id in self.deleted_lbs:
            assert resp.status_code in (404, 409), resp.text
            return
        with self.svc.db.read_session() as session:  # a listener still being deleted counts
            has_children = session.scalars(select(m.Listener.id).where(
                m.Listener.load_balancer_id == lb_id)).first() is not None
        if has_children and not cascade:
            assert resp.status_code == 400, resp.text
            return
        assert resp.status_code == 204, resp.text
        self.deleted_lbs.add(lb_id)
        self.names.pop(lb_id)
        for listener_id, owner in self.listener_lb.items():
            if owner == lb_id:
                self.deleted_listeners.add(listener_id)

    @rule(target=listeners, lb_id=lbs)
    def create_listener(self, lb_id: str) -> str:
        self.port += 1
        resp = self._api("POST", "listeners", {"listener": {
            "loadbalancer_id": lb_id, "protocol": "TCP", "protocol_port": self.port}})
        if lb_id in self.deleted_lbs:
            assert resp.status_code in (404, 409), resp.text
            return "gone"
        assert resp.status_code == 201, resp.text
        listener_id = str(resp.json()["listener"]["id"])
        self.listener_lb[listener_id] = lb_id
        return listener_id

    @rule(listener_id=consumes(listeners))
    def delete_listener(self, listener_id: str) -> None:
        if listener_id == "gone":
            return
        resp = self._api("DELETE", f"listeners/{listener_id}")
        if listener_id in self.deleted_listeners:
            assert resp.status_code in (404, 409), resp.text
            return
        assert resp.status_code == 204, resp.text
        self.deleted_listeners.add(listener_id)

    # The provider's side ---------------------------------------------------------------------
    @rule(lb_id=lbs)
    def provider_reads(self, lb_id: str) -> None:
        self.snapshots[lb_id] = self.get({"object": "loadbalancers", "id": lb_id})

    @rule(lb_id=lbs)
    def provider_reports(self, lb_id: str) -> None:
        if lb_id in self.snapshots:
            reply = self.status(_report(lb_id, self.snapshots.pop(lb_id)))
            assert reply["status_code"] == lib_consts.DRVR_STATUS_CODE_OK, reply

    @rule()
    def agent_restarts(self) -> None:
        self._new_handlers()

    # Invariants ------------------------------------------------------------------------------
    @invariant()
    def deletes_are_never_undone(self) -> None:
        with self.svc.db.read_session() as session:
            for lb_id in self.deleted_lbs:
                row = session.get(m.LoadBalancer, lb_id)
                assert row is None or row.provisioning_status in ("PENDING_DELETE", "DELETED")
            for listener_id in self.deleted_listeners:
                row = session.get(m.Listener, listener_id)
                assert row is None or row.provisioning_status == "PENDING_DELETE"

    @invariant()
    def kept_objects_keep_what_was_written(self) -> None:
        with self.svc.db.read_session() as session:
            for lb_id, name in self.names.items():
                row = session.get(m.LoadBalancer, lb_id)
                assert row is not None and row.name == name
                assert row.provisioning_status not in ("PENDING_DELETE", "DELETED")
                if row.provisioning_status == "ACTIVE":
                    # ACTIVE is only ever what the provider has applied, all of it.
                    assert row.applied_generation >= row.desired_generation
                    assert [d.id for d in dbgraph.descendants(row)
                            if d.provisioning_status in PENDING] == []

    @invariant()
    def one_vip_per_live_load_balancer(self) -> None:
        with self.svc.db.read_session() as session:
            for lb_id in [*self.names, *self.deleted_lbs]:
                row = session.get(m.LoadBalancer, lb_id)
                live = row is not None and row.provisioning_status != "DELETED"
                vips = session.scalars(select(m.VipPort.id).where(
                    m.VipPort.device_id == lb_id, m.VipPort.ip_address != LOCK_ADDRESS)).all()
                assert len(vips) == (1 if live else 0), (lb_id, row and row.provisioning_status)

    def teardown(self) -> None:
        """Converge everything, check nothing is stuck, then delete what is left."""
        self._converge()
        for lb_id in self.deleted_lbs:
            assert self._api("GET", f"loadbalancers/{lb_id}").status_code == 404
        for listener_id in self.deleted_listeners:
            assert self._api("GET", f"listeners/{listener_id}").status_code == 404
        for lb_id, name in self.names.items():
            lb = self._api("GET", f"loadbalancers/{lb_id}").json()["loadbalancer"]
            assert (lb["provisioning_status"], lb["name"]) == ("ACTIVE", name)
            for listener in lb["listeners"]:
                body = self._api("GET", f"listeners/{listener['id']}").json()["listener"]
                assert body["provisioning_status"] == "ACTIVE"
            resp = self._api("DELETE", f"loadbalancers/{lb_id}?cascade=true")
            assert resp.status_code == 204, resp.text
        self._converge()  # frees the VIPs for the next example

    def _converge(self) -> None:
        self._new_handlers()
        for lb_id in [*self.names, *self.deleted_lbs]:
            for _ in range(3):  # a report may ask for one more round (a newer generation)
                reply = self.status(_report(lb_id, self.get(
                    {"object": "loadbalancers", "id": lb_id})))
                assert reply["status_code"] == lib_consts.DRVR_STATUS_CODE_OK, reply


def _report(lb_id: str, graph: dict[str, Any]) -> dict[str, Any]:
    """What a provider agent reports after converging to ``graph`` (``{}``: torn down)."""
    if not graph:
        return {"loadbalancers": [{"id": lb_id, "provisioning_status": "DELETED"}]}
    active = {"provisioning_status": "ACTIVE", "operating_status": "ONLINE"}
    return {
        "loadbalancers": [{"id": lb_id, **active}],
        "listeners": [{"id": lst["listener_id"], **active} for lst in graph["listeners"] or []],
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_status_model_invariants(backend: str, tmp_path: Path) -> None:
    with temp_database(backend, str(tmp_path)) as url:
        svc = make_services(make_settings(tmp_path, url))
        try:
            StatusModel.env = {"services": svc, "client": TestClient(create_app(svc))}
            run_state_machine_as_test(StatusModel, settings=settings(
                max_examples=20, stateful_step_count=20, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow]))
        finally:
            svc.db.dispose()
