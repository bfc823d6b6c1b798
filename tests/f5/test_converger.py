"""The f5 converger against the BIG-IP emulator: declarations, task polling, ACTIVE/ERROR,
coalescing, "no change", outage and full resync, stray tenants, token expiry, health."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from statera.providers.f5 import declaration as decl
from statera.providers.f5.converger import F5Converger
from tests.f5 import graphs as g
from tests.f5.bigip_emulator import BigIPEmulator
from tests.f5.conftest import RecordingLibrary, make_converger

TENANT = decl.tenant_name("Project_", g.PROJECT)


def status(report: dict[str, Any], lb: Any) -> str:
    rows = [r for r in report["loadbalancers"] if r["id"] == lb.loadbalancer_id]
    return str(rows[0]["provisioning_status"])


def test_create_declares_the_tenant_and_reports_active(
        bigip: BigIPEmulator, converger: F5Converger) -> None:
    lb = g.simple_lb()
    report = converger.converge(lb.loadbalancer_id, lb)
    assert status(report, lb) == "ACTIVE"
    assert {r["provisioning_status"] for rows in report.values() for r in rows} == {"ACTIVE"}
    held = bigip.tenant(TENANT)
    assert held is not None
    app = held[decl.Names.app(lb.loadbalancer_id)]
    assert app[decl.Names.service(lb.listeners[0].listener_id)]["virtualPort"] == 80
    assert bigip.logins == 1


def test_delete_removes_the_application_then_the_tenant(
        bigip: BigIPEmulator, converger: F5Converger) -> None:
    a, b = g.simple_lb(), g.simple_lb(vip="198.51.100.11")
    converger.converge(a.loadbalancer_id, a)
    converger.converge(b.loadbalancer_id, b)
    report = converger.converge(a.loadbalancer_id, None)
    assert status(report, a) == "DELETED"
    held = bigip.tenant(TENANT)
    assert held is not None and decl.Names.app(a.loadbalancer_id) not in held
    assert decl.Names.app(b.loadbalancer_id) in held
    converger.converge(b.loadbalancer_id, None)
    assert bigip.tenant(TENANT) is None and bigip.deletes == [TENANT]


def test_device_refusal_is_error_with_the_reason_logged(
        bigip: BigIPEmulator, converger: F5Converger, caplog: pytest.LogCaptureFixture) -> None:
    good = g.simple_lb()
    converger.converge(good.loadbalancer_id, good)
    clash = g.simple_lb()  # same VIP:port as ``good``, in another project's tenant
    clash.project_id = "other-project"
    with caplog.at_level(logging.ERROR):
        report = converger.converge(clash.loadbalancer_id, clash)
    assert status(report, clash) == "ERROR"
    assert "illegally shares destination address" in caplog.text
    # the refusal does not stick to the tenant: a fixed graph goes ACTIVE
    clash.vip_address = "198.51.100.99"
    assert status(converger.converge(clash.loadbalancer_id, clash), clash) == "ACTIVE"


def test_refused_load_balancer_does_not_hold_back_its_tenant(
        bigip: BigIPEmulator, converger: F5Converger) -> None:
    a = g.simple_lb()
    converger.converge(a.loadbalancer_id, a)
    bigip.refuse_with = "01020036:3: The requested pool member was not found"
    b = g.simple_lb(vip="198.51.100.12")
    assert status(converger.converge(b.loadbalancer_id, b), b) == "ERROR"
    bigip.refuse_with = None
    c = g.simple_lb(vip="198.51.100.13")
    assert status(converger.converge(c.loadbalancer_id, c), c) == "ACTIVE"
    held = bigip.tenant(TENANT) or {}
    assert decl.Names.app(c.loadbalancer_id) in held
    assert decl.Names.app(b.loadbalancer_id) not in held


def test_schema_invalid_load_balancer_never_leaves_statera(
        bigip: BigIPEmulator, converger: F5Converger, caplog: pytest.LogCaptureFixture) -> None:
    a = g.simple_lb()
    converger.converge(a.loadbalancer_id, a)
    before = len(bigip.declarations)
    bad = g.simple_lb(vip="198.51.100.20")
    bad.pools[0].members[0].protocol_port = 70000  # past what the schema allows
    with caplog.at_level(logging.ERROR):
        assert status(converger.converge(bad.loadbalancer_id, bad), bad) == "ERROR"
    assert "servicePort" in caplog.text
    assert len(bigip.declarations) == before
    assert decl.Names.app(a.loadbalancer_id) in (bigip.tenant(TENANT) or {})


def test_unsupported_graph_is_error_without_a_declaration(
        bigip: BigIPEmulator, converger: F5Converger) -> None:
    lb = g.loadbalancer([g.listener("SCTP", 80)])
    assert status(converger.converge(lb.loadbalancer_id, lb), lb) == "ERROR"
    assert bigip.declarations == []


def test_concurrent_changes_in_one_tenant_are_coalesced(bigip: BigIPEmulator,
                                                        converger: F5Converger) -> None:
    bigip.declare_delay = 0.3
    lbs = [g.simple_lb(vip=f"198.51.100.{30 + i}") for i in range(8)]
    reports: dict[str, str] = {}

    def run(lb: Any) -> None:
        reports[lb.loadbalancer_id] = status(converger.converge(lb.loadbalancer_id, lb), lb)

    threads = [threading.Thread(target=run, args=(lb,)) for lb in lbs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(reports.values()) == {"ACTIVE"}
    assert bigip.declarations_for(TENANT) <= 3  # one in flight, the rest folded into one more
    assert len([k for k in (bigip.tenant(TENANT) or {}) if k.startswith("lb_")]) == 8


def test_unchanged_tenant_is_not_declared_again(bigip: BigIPEmulator,
                                                converger: F5Converger) -> None:
    lb = g.simple_lb()
    converger.converge(lb.loadbalancer_id, lb)
    assert status(converger.converge(lb.loadbalancer_id, lb), lb) == "ACTIVE"
    assert bigip.declarations_for(TENANT) == 1


def test_no_change_answer_still_moves_to_active(bigip: BigIPEmulator, converger: F5Converger,
                                                lib: RecordingLibrary) -> None:
    lb = g.simple_lb()
    converger.converge(lb.loadbalancer_id, lb)
    lib.graphs = {lb.loadbalancer_id: lb}
    restarted = make_converger(bigip, lib)  # a restarted agent: knows nothing of the device
    try:
        assert bigip.results[-1] == {"code": 200, "message": "no change", "tenant": TENANT}
        assert lib.last("loadbalancers", lb.loadbalancer_id, "provisioning_status") == "ACTIVE"
        assert status(restarted.converge(lb.loadbalancer_id, lb), lb) == "ACTIVE"
    finally:
        restarted.client.close()
    assert bigip.declarations_for(TENANT) == 2


def test_outage_then_full_resync_and_stray_removal(bigip: BigIPEmulator,
                                                   lib: RecordingLibrary) -> None:
    a, b = g.simple_lb(), g.simple_lb(vip="198.51.100.11", project="second")
    lib.graphs = {a.loadbalancer_id: a, b.loadbalancer_id: b}
    converger = make_converger(bigip, lib)  # first contact: full resync declares both
    assert lib.last("loadbalancers", a.loadbalancer_id, "provisioning_status") == "ACTIVE"
    assert lib.last("loadbalancers", b.loadbalancer_id, "provisioning_status") == "ACTIVE"
    bigip.unreachable = True
    a.pools[0].members.append(g.member("192.0.2.99"))
    assert status(converger.converge(a.loadbalancer_id, a), a) == "ERROR"
    converger.tick(lib)  # still away: nothing happens
    bigip.unreachable = False
    bigip.tenants["Project_stray"] = {"class": "Tenant"}  # a project with no LB left
    bigip.tenants["Operator_owned"] = {"class": "Tenant"}  # not under our prefix
    bigip.tenants.pop(decl.tenant_name("Project_", "second"))  # lost while away
    converger.tick(lib)
    assert lib.last("loadbalancers", a.loadbalancer_id, "provisioning_status") == "ACTIVE"
    held = bigip.tenant(TENANT) or {}
    members = held[decl.Names.app(a.loadbalancer_id)][decl.Names.pool(a.pools[0].pool_id)][
        "members"]
    assert ["192.0.2.99"] in [m["serverAddresses"] for m in members]
    assert bigip.tenant(decl.tenant_name("Project_", "second")) is not None
    assert bigip.tenant("Project_stray") is None
    assert bigip.tenant("Operator_owned") is not None


def test_expired_token_means_a_new_login(bigip: BigIPEmulator, converger: F5Converger) -> None:
    lb = g.simple_lb()
    converger.converge(lb.loadbalancer_id, lb)
    bigip.expire_tokens()
    lb.pools[0].members[0].weight = 5
    assert status(converger.converge(lb.loadbalancer_id, lb), lb) == "ACTIVE"
    assert bigip.logins == 2


def test_old_as3_is_refused_clearly(bigip: BigIPEmulator, lib: RecordingLibrary,
                                    caplog: pytest.LogCaptureFixture) -> None:
    bigip.version = "3.30.0"
    lb = g.simple_lb()
    lib.graphs = {lb.loadbalancer_id: lb}
    with caplog.at_level(logging.ERROR):
        converger = make_converger(bigip, lib)
        assert status(converger.converge(lb.loadbalancer_id, lb), lb) == "ERROR"
    assert "AS3 3.30.0 is older than 3.36" in caplog.text
    assert bigip.declarations == []


def test_health_and_statistics_from_the_device(bigip: BigIPEmulator,
                                               lib: RecordingLibrary) -> None:
    lb = g.simple_lb()
    lib.graphs = {lb.loadbalancer_id: lb}
    converger = make_converger(bigip, lib)
    pool, listener = lb.pools[0], lb.listeners[0]
    first, second = pool.members
    assert lib.last("members", first.member_id, "operating_status") == "ONLINE"
    bigip.mark_member("192.0.2.11", 8080, up=False)
    bigip.set_virtual_counters(decl.Names.service(listener.listener_id), bitsIn=8000,
                               bitsOut=16000, curConns=3, totConns=42)
    converger.tick(lib)
    assert lib.last("members", first.member_id, "operating_status") == "ERROR"
    assert lib.last("members", second.member_id, "operating_status") == "ONLINE"
    assert lib.last("pools", pool.pool_id, "operating_status") == "DEGRADED"
    assert lib.last("loadbalancers", lb.loadbalancer_id, "operating_status") == "DEGRADED"
    assert lib.statistics[-1]["listeners"] == [{
        "id": listener.listener_id, "bytes_in": 1000, "bytes_out": 2000,
        "active_connections": 3, "total_connections": 42, "request_errors": 0}]
    assert lib.last("listeners", listener.listener_id, "operating_status") == "ONLINE"
    bigip.mark_member("192.0.2.12", 8080, up=False)
    converger.tick(lib)
    assert lib.last("pools", pool.pool_id, "operating_status") == "ERROR"
    assert lib.last("loadbalancers", lb.loadbalancer_id, "operating_status") == "ERROR"
    assert lib.last("listeners", listener.listener_id, "operating_status") == "ERROR"
    bigip.mark_member("192.0.2.12", 8080, up=True)
    converger.tick(lib)
    assert lib.last("listeners", listener.listener_id, "operating_status") == "ONLINE"
    assert lib.last("loadbalancers", lb.loadbalancer_id, "operating_status") == "DEGRADED"


def test_password_and_keys_are_never_logged(bigip: BigIPEmulator, lib: RecordingLibrary,
                                            caplog: pytest.LogCaptureFixture) -> None:
    from tests.certs.pki import build_pki

    pki = build_pki()
    p = g.pool()
    lst = g.listener("TERMINATED_HTTPS", 443, p, default_tls_container_data={
        "certificate": pki.leaf_pem, "private_key": pki.leaf_key_pem, "intermediates": []})
    lb = g.loadbalancer([lst], [p])
    lib.graphs = {lb.loadbalancer_id: lb}
    with caplog.at_level(logging.DEBUG):
        converger = make_converger(bigip, lib)
        bigip.refuse_with = "refused"
        lb.pools[0].members[0].weight = 3
        converger.converge(lb.loadbalancer_id, lb)
        bigip.unreachable = True
        converger.converge(lb.loadbalancer_id, g.simple_lb(lb_id=lb.loadbalancer_id))
    key_body = pki.leaf_key_pem.splitlines()[1]
    assert "f5-secret" not in caplog.text and key_body not in caplog.text
    held = bigip.tenants[TENANT]
    assert key_body in str(held)  # the key did go to the device


def test_restart_never_declares_part_of_a_tenant(bigip: BigIPEmulator, converger: F5Converger,
                                                 lib: RecordingLibrary) -> None:
    a, b = g.simple_lb(), g.simple_lb(vip="198.51.100.11")
    converger.converge(a.loadbalancer_id, a)
    converger.converge(b.loadbalancer_id, b)
    lib.graphs = {a.loadbalancer_id: a, b.loadbalancer_id: b}
    from statera.providers.f5.client import BigIPClient
    from statera.providers.f5.converger import F5Converger as Converger

    restarted = Converger(converger.settings, BigIPClient(converger.settings))
    first = len(bigip.declarations)
    reports: list[dict[str, Any]] = []
    early = threading.Thread(target=lambda: reports.append(
        restarted.converge(a.loadbalancer_id, a)))
    early.start()  # the reconcile loop's workers start before the first tick
    early.join(0.5)
    assert early.is_alive()  # waiting for the full resync, not declaring half the tenant
    restarted.tick(lib)
    early.join(10)
    assert status(reports[0], a) == "ACTIVE"
    assert len(bigip.declarations) > first
    for tenant, body in bigip.declarations[first:]:
        assert tenant != TENANT or {decl.Names.app(a.loadbalancer_id),
                                    decl.Names.app(b.loadbalancer_id)} <= set(body)
    restarted.client.close()


def test_failing_device_is_error_until_it_recovers(bigip: BigIPEmulator, converger: F5Converger,
                                                   lib: RecordingLibrary,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    lb = g.simple_lb()
    lib.graphs = {lb.loadbalancer_id: lb}
    bigip.failing = True
    with caplog.at_level(logging.ERROR):
        assert status(converger.converge(lb.loadbalancer_id, lb), lb) == "ERROR"
    assert "HTTP 500" in caplog.text
    converger.tick(lib)  # still failing: nothing changes, nothing raises
    bigip.failing = False
    converger.tick(lib)  # answers again: full resync
    assert lib.last("loadbalancers", lb.loadbalancer_id, "provisioning_status") == "ACTIVE"
    assert decl.Names.app(lb.loadbalancer_id) in (bigip.tenant(TENANT) or {})


def test_slow_device_beyond_task_timeout_is_error(bigip: BigIPEmulator,
                                                  lib: RecordingLibrary) -> None:
    converger = make_converger(bigip, lib, task_timeout=0.5)
    bigip.declare_delay = 2.0
    lb = g.simple_lb()
    assert status(converger.converge(lb.loadbalancer_id, lb), lb) == "ERROR"
    converger.client.close()


def test_resync_removes_load_balancers_deleted_while_the_device_was_away(
        bigip: BigIPEmulator, lib: RecordingLibrary) -> None:
    a, b = g.simple_lb(), g.simple_lb(vip="198.51.100.11")
    lib.graphs = {a.loadbalancer_id: a, b.loadbalancer_id: b}
    converger = make_converger(bigip, lib)
    bigip.unreachable = True
    assert status(converger.converge(b.loadbalancer_id, None), b) == "ERROR"
    del lib.graphs[b.loadbalancer_id]
    bigip.unreachable = False
    converger.tick(lib)
    assert lib.last("loadbalancers", b.loadbalancer_id, "provisioning_status") == "DELETED"
    held = bigip.tenant(TENANT) or {}
    assert decl.Names.app(a.loadbalancer_id) in held
    assert decl.Names.app(b.loadbalancer_id) not in held
    assert converger.known_ids() == {a.loadbalancer_id}
    converger.client.close()


def test_schema_invalid_declaration_gets_as3_errors_back(bigip: BigIPEmulator) -> None:
    from statera.providers.f5.client import BigIPClient, DeclarationRefused
    from statera.providers.f5.settings import F5Settings

    client = BigIPClient(F5Settings(url=bigip.url, username="admin", password="f5-secret"))
    body = decl.declaration("Project_x", {"lb_x": {"class": "Application", "pool_x": {
        "class": "Pool", "members": [{"serverAddresses": ["192.0.2.1"]}]}}})
    with pytest.raises(DeclarationRefused, match="servicePort"):
        client.declare("Project_x", body)
    assert bigip.tenant("Project_x") is None
    client.close()


def test_wrong_password_is_a_device_error_without_the_password(bigip: BigIPEmulator) -> None:
    from statera.providers.f5.client import BigIPClient, DeviceError
    from statera.providers.f5.settings import F5Settings

    client = BigIPClient(F5Settings(url=bigip.url, username="admin", password="wrong-pw"))
    with pytest.raises(DeviceError) as failed:
        client.as3_version()
    assert "login" in str(failed.value) and "wrong-pw" not in str(failed.value)
    client.close()


def test_busy_device_is_asked_again(bigip: BigIPEmulator, converger: F5Converger) -> None:
    bigip.busy_answers = 2
    lb = g.simple_lb()
    assert status(converger.converge(lb.loadbalancer_id, lb), lb) == "ACTIVE"
    assert bigip.busy_answers == 0


def test_refused_change_in_a_batch_fails_alone(bigip: BigIPEmulator,
                                               converger: F5Converger) -> None:
    existing = g.simple_lb()
    converger.converge(existing.loadbalancer_id, existing)
    bigip.declare_delay = 0.3
    blocker, good = g.simple_lb(vip="198.51.100.40"), g.simple_lb(vip="198.51.100.41")
    clash = g.simple_lb()  # same VIP:port as ``existing``: the device refuses it
    reports: dict[str, str] = {}

    def run(lb: Any) -> None:
        reports[lb.loadbalancer_id] = status(converger.converge(lb.loadbalancer_id, lb), lb)

    first = threading.Thread(target=run, args=(blocker,))
    first.start()  # in flight for 0.3 s: the next two are folded into one declaration
    time.sleep(0.1)
    rest = [threading.Thread(target=run, args=(lb,)) for lb in (good, clash)]
    for t in rest:
        t.start()
    for t in [first, *rest]:
        t.join()
    assert reports == {blocker.loadbalancer_id: "ACTIVE", good.loadbalancer_id: "ACTIVE",
                       clash.loadbalancer_id: "ERROR"}
    held = bigip.tenant(TENANT) or {}
    assert decl.Names.app(good.loadbalancer_id) in held
    assert decl.Names.app(clash.loadbalancer_id) not in held
    # an unchanged load balancer converging beside a refused change is not made ERROR
    assert status(converger.converge(existing.loadbalancer_id, existing), existing) == "ACTIVE"


def test_an_unexpected_error_does_not_wedge_the_tenant() -> None:
    from statera.providers.f5.tenant import TenantState

    calls: list[int] = []

    def send(tenant: str, apps: dict[str, Any]) -> None:
        calls.append(len(apps))
        if len(calls) == 1:
            raise RuntimeError("boom")

    state = TenantState("Project_x", send)
    assert not state.sync(state.record("a", ("lb_a", {"class": "Application"}))).ok
    assert state.sync(state.record("a", ("lb_a", {"class": "Application"}))).ok
    assert calls == [1, 1]
