"""Get socket through octavia-lib's DriverLibrary: full graphs of the desired data plane, the
served generation recorded (in the driver agent's memory: the get socket only reads), and the
loadbalancer_ids extension."""

from __future__ import annotations

import inspect
import json
import time
from typing import Any

import pytest
from octavia_lib.api.drivers import data_models as dm
from octavia_lib.api.drivers import driver_lib
from octavia_lib.api.drivers import exceptions as lib_exc
from sqlalchemy import event, select

from statera.agent.client import StateraDriverLibrary
from statera.agent.driver_agent import DriverAgent
from statera.agent.get import GetHandler, HostScope
from statera.agent.hosts import HostLease
from statera.agent.status import StatusHandler
from statera.bus.inprocess import InProcessBus
from statera.config import Settings
from statera.db import models as m
from statera.db.engine import Database
from tests.agent.conftest import (
    CertStore,
    Graph,
    build_graph,
    bump,
    frame,
    library,
    raw_request,
    row,
    update,
)

UNKNOWN = "00000000-0000-0000-0000-000000000000"


def fields(model: type[Any]) -> set[str]:
    return set(inspect.signature(model.__init__).parameters) - {"self"}


def test_load_balancer_full_graph(
    slib: driver_lib.DriverLibrary, lib: driver_lib.DriverLibrary, settings: Settings,
    database: Database,
) -> None:
    with database.session() as s:
        profile = m.FlavorProfile(name="fp", provider_name="noop",
                                  flavor_data=json.dumps({"noop_option": "x"}))
        s.add(profile)
        s.flush()
        flavor = m.Flavor(name="small", flavor_profile_id=profile.id)
        az_profile = m.AvailabilityZoneProfile(
            name="azp", provider_name="noop", availability_zone_data='{"noop_zone": "z1"}')
        s.add_all([flavor, az_profile])
        s.flush()
        s.add(m.AvailabilityZone(name="az1", availability_zone_profile_id=az_profile.id))
        flavor_id = flavor.id
    g = build_graph(database, flavor_id=flavor_id, availability_zone="az1")

    lb = slib.get_loadbalancer(g.lb)

    assert isinstance(lb, dm.LoadBalancer)
    assert (lb.loadbalancer_id, lb.name, lb.admin_state_up, lb.project_id) == (
        g.lb, "lb1", True, "p1")
    assert (lb.vip_address, lb.vip_subnet_id, lb.vip_port_id, lb.vip_sg_ids) == (
        "127.0.100.5", "sub-1", "port-1", ["sg-1"])
    assert lb.flavor == {"noop_option": "x"}
    assert lb.availability_zone == {"noop_zone": "z1"}
    assert [p.pool_id for p in lb.pools] == [g.pool, g.pool2]
    (listener,) = lb.listeners
    assert isinstance(listener, dm.Listener)
    assert (listener.listener_id, listener.loadbalancer_id, listener.protocol,
            listener.protocol_port) == (g.listener, g.lb, "HTTP", 80)
    assert listener.insert_headers == {"X-Forwarded-For": "true"}
    assert listener.allowed_cidrs == ["10.0.0.0/8"]
    assert listener.default_pool_id == g.pool
    pool = listener.default_pool
    assert isinstance(pool, dm.Pool)
    assert (pool.pool_id, pool.listener_id, pool.lb_algorithm) == (
        g.pool, g.listener, "ROUND_ROBIN")
    assert pool.session_persistence == {"type": "HTTP_COOKIE"}
    assert [(x.member_id, x.address, x.weight, x.backup) for x in pool.members] == [
        (g.member, "127.0.0.11", 3, False), (g.member2, "127.0.0.12", 1, True)]
    hm = pool.healthmonitor
    assert isinstance(hm, dm.HealthMonitor)
    assert (hm.healthmonitor_id, hm.max_retries, hm.max_retries_down, hm.url_path,
            hm.pool_id) == (g.hm, 2, 4, "/health", g.pool)
    (policy,) = listener.l7policies
    assert (policy.l7policy_id, policy.action, policy.redirect_pool_id) == (
        g.l7policy, "REDIRECT_TO_POOL", g.pool2)
    (rule,) = policy.rules
    assert (rule.l7rule_id, rule.type, rule.compare_type, rule.value) == (
        g.l7rule, "PATH", "STARTS_WITH", "/api")

    # On the wire every field of every model is present (unset ones as null), nothing more.
    wire = raw_request(settings.socket_path("get"), frame({"object": "loadbalancers", "id": g.lb}))
    assert set(wire) == fields(dm.LoadBalancer)
    assert set(wire["listeners"][0]) == fields(dm.Listener)
    assert set(wire["pools"][0]) == fields(dm.Pool)
    assert set(wire["pools"][0]["members"][0]) == fields(dm.Member)
    assert set(wire["pools"][0]["healthmonitor"]) == fields(dm.HealthMonitor)
    assert set(wire["listeners"][0]["l7policies"][0]) == fields(dm.L7Policy)
    assert set(wire["listeners"][0]["l7policies"][0]["rules"][0]) == fields(dm.L7Rule)
    assert wire["listeners"][0]["default_tls_container_data"] is None
    # The rebuilt graph renders back to exactly what was sent, and octavia-lib's own
    # (shallow) get sees the same data.
    assert lb.to_dict(recurse=True, render_unsets=True) == wire
    plain = lib.get_loadbalancer(g.lb)
    assert isinstance(plain, dm.LoadBalancer)
    assert {k: getattr(plain, k) for k in wire} == wire


def test_get_every_object_type(lib: driver_lib.DriverLibrary, graph: Graph) -> None:
    listener = lib.get_listener(graph.listener)
    assert isinstance(listener, dm.Listener)
    assert listener.listener_id == graph.listener
    assert listener.default_pool["pool_id"] == graph.pool
    pool = lib.get_pool(graph.pool2)
    assert isinstance(pool, dm.Pool)
    assert (pool.pool_id, pool.listener_id, pool.healthmonitor) == (graph.pool2, None, None)
    assert [x["member_id"] for x in pool.members] == [graph.member3]
    member = lib.get_member(graph.member)
    assert isinstance(member, dm.Member)
    assert (member.member_id, member.pool_id, member.protocol_port) == (
        graph.member, graph.pool, 8080)
    hm = lib.get_healthmonitor(graph.hm)
    assert isinstance(hm, dm.HealthMonitor)
    assert (hm.healthmonitor_id, hm.type, hm.delay, hm.timeout) == (graph.hm, "HTTP", 5, 3)
    policy = lib.get_l7policy(graph.l7policy)
    assert isinstance(policy, dm.L7Policy)
    assert (policy.l7policy_id, policy.listener_id) == (graph.l7policy, graph.listener)
    assert [x["l7rule_id"] for x in policy.rules] == [graph.l7rule]
    rule = lib.get_l7rule(graph.l7rule)
    assert isinstance(rule, dm.L7Rule)
    assert (rule.l7rule_id, rule.l7policy_id, rule.invert) == (graph.l7rule, graph.l7policy, False)


def test_unknown_ids_and_types_answer_nothing(
    lib: driver_lib.DriverLibrary, settings: Settings, graph: Graph
) -> None:
    for getter in (lib.get_loadbalancer, lib.get_listener, lib.get_pool, lib.get_member,
                   lib.get_healthmonitor, lib.get_l7policy, lib.get_l7rule):
        assert getter(UNKNOWN) is None
    path = settings.socket_path("get")
    assert raw_request(path, frame({"object": "amphorae", "id": graph.lb})) == {}
    assert raw_request(path, frame({"object": "loadbalancers"})) == {}


def test_whole_graph_gets_record_the_served_generation(
    lib: driver_lib.DriverLibrary, database: Database, graph: Graph, agent: DriverAgent
) -> None:
    assert agent.served.get(graph.lb) is None
    assert lib.get_loadbalancer(graph.lb) is not None
    assert agent.served.get(graph.lb) == 1
    bump(database, graph.lb, (m.L7Rule, graph.l7rule, "PENDING_UPDATE"))
    # A child's get does not prove the provider saw the whole new generation.
    assert lib.get_l7rule(graph.l7rule) is not None
    assert agent.served.get(graph.lb) == 1
    assert lib.get_loadbalancer(graph.lb) is not None
    assert agent.served.get(graph.lb) == 2


def test_objects_being_deleted_are_left_out(
    slib: StateraDriverLibrary, database: Database, graph: Graph
) -> None:
    bump(database, graph.lb,
         (m.Member, graph.member2, "PENDING_DELETE"),
         (m.Pool, graph.pool2, "PENDING_DELETE"),
         (m.L7Rule, graph.l7rule, "PENDING_DELETE"))
    lb = slib.get_loadbalancer(graph.lb)
    assert [p.pool_id for p in lb.pools] == [graph.pool]
    assert [x.member_id for x in lb.pools[0].members] == [graph.member]
    assert lb.listeners[0].l7policies[0].rules == []
    assert slib.get_member(graph.member2) is None
    assert slib.get_member(graph.member3) is None  # its pool is going away
    assert slib.get_pool(graph.pool2) is None
    assert slib.get_l7rule(graph.l7rule) is None

    bump(database, graph.lb, (m.Pool, graph.pool, "PENDING_DELETE"))
    listener = slib.get_listener(graph.listener)
    assert (listener.default_pool, listener.default_pool_id) == (None, None)

    bump(database, graph.lb, (m.Listener, graph.listener, "PENDING_DELETE"))
    assert slib.get_loadbalancer(graph.lb).listeners == []
    assert slib.get_l7policy(graph.l7policy) is None


@pytest.mark.parametrize("status", ["PENDING_DELETE", "DELETED"])
def test_load_balancer_going_away_answers_nothing(
    lib: driver_lib.DriverLibrary, database: Database, graph: Graph, status: str
) -> None:
    update(database, m.LoadBalancer, graph.lb, provisioning_status=status)
    assert lib.get_loadbalancer(graph.lb) is None
    assert lib.get_listener(graph.listener) is None
    assert lib.get_member(graph.member) is None


def test_certificate_data_comes_from_the_cert_loader(
    lib: driver_lib.DriverLibrary, database: Database, graph: Graph, cert_store: CertStore
) -> None:
    server = {"certificate": "CERT", "private_key": "KEY", "intermediates": ["INT"],
              "primary_cn": "www.example.com", "passphrase": None, "id": "ref-server"}
    cert_store.update({
        "ref-server": server,
        "ref-sni": {**server, "primary_cn": "api.example.com", "id": "ref-sni"},
        "ref-ca": "CA-PEM",
        "ref-crl": "CRL-PEM",
        "ref-backend": {**server, "id": "ref-backend"},
    })
    update(database, m.Listener, graph.listener, protocol="TERMINATED_HTTPS",
           default_tls_container_ref="ref-server",
           sni_container_refs=["ref-sni", "ref-unknown"],
           client_ca_tls_container_ref="ref-ca", client_crl_container_ref="ref-crl")
    update(database, m.Pool, graph.pool, tls_enabled=True, tls_container_ref="ref-backend",
           ca_tls_container_ref="ref-ca")
    listener = lib.get_listener(graph.listener)
    assert listener.default_tls_container_data == server
    assert [x["primary_cn"] for x in listener.sni_container_data] == ["api.example.com"]
    assert listener.sni_container_refs == ["ref-sni", "ref-unknown"]
    assert (listener.client_ca_tls_container_data, listener.client_crl_container_data) == (
        "CA-PEM", "CRL-PEM")
    pool = listener.default_pool
    assert pool["tls_container_data"]["id"] == "ref-backend"
    assert (pool["ca_tls_container_data"], pool["crl_container_data"]) == ("CA-PEM", None)
    # Each reference is asked for as what its field needs (a CA and a CRL are both PEM, but a
    # manager that generates material, like noop, must know which to make).
    assert cert_store.kinds == {"ref-server": "bundle", "ref-sni": "bundle",
                                "ref-unknown": "bundle", "ref-ca": "ca", "ref-crl": "crl",
                                "ref-backend": "bundle"}


def test_a_failing_read_is_not_mistaken_for_absence(
    lib: driver_lib.DriverLibrary, slib: StateraDriverLibrary, settings: Settings,
    database: Database, graph: Graph, cert_store: CertStore,
) -> None:
    # If the certificate store fails, answering {} would tell the provider the listener should
    # not exist and it would tear it down. The agent answers a failure; the library raises.
    cert_store["ref-x"] = RuntimeError("certificate store unavailable")
    update(database, m.Listener, graph.listener, default_tls_container_ref="ref-x")
    reply = raw_request(settings.socket_path("get"),
                        frame({"object": "listeners", "id": graph.listener}))
    assert reply["status_code"] == 500
    assert "certificate store unavailable" in reply["fault_string"]
    with pytest.raises(Exception):  # noqa: B017 - octavia-lib fails building the model
        lib.get_listener(graph.listener)
    with pytest.raises(lib_exc.DriverError, match="certificate store unavailable"):
        slib.get_listener(graph.listener)
    assert lib.get_member(graph.member) is not None  # and the agent keeps serving


def test_loadbalancer_ids_extension(slib: StateraDriverLibrary, database: Database) -> None:
    active = build_graph(database).lb
    deleting = build_graph(database, status="PENDING_DELETE").lb
    deleted = build_graph(database, status="DELETED").lb
    other = build_graph(database, provider="haproxy").lb
    assert sorted(slib.list_loadbalancer_ids("noop")) == sorted([active, deleting])
    assert slib.list_loadbalancer_ids("haproxy") == [other]
    assert slib.list_loadbalancer_ids("nobody") == []
    assert deleted not in slib.list_loadbalancer_ids("noop")


def test_a_cert_loader_with_its_own_transaction_does_not_deadlock_on_sqlite(
    settings: Settings, database: Database, graph: Graph
) -> None:
    # The local certificate store reads in its own transaction. Called inside the get's
    # transaction it would wait 30 s for SQLite's write lock and fail.
    with database.session() as s:
        s.add(m.Certificate(id="cert-1", certificate="CERT-PEM", private_key="KEY-PEM"))

    def load_from_db(ref: str, kind: str) -> dict[str, Any] | None:
        with database.session() as s:
            cert = s.get(m.Certificate, ref)
            return None if cert is None else {
                "id": cert.id, "certificate": cert.certificate, "private_key": cert.private_key,
                "intermediates": [], "primary_cn": None, "passphrase": None}

    update(database, m.Listener, graph.listener, default_tls_container_ref="cert-1")
    agent = DriverAgent(settings, database, InProcessBus(), cert_loader=load_from_db)
    agent.start()
    try:
        started = time.monotonic()
        lb = library(settings, StateraDriverLibrary).get_loadbalancer(graph.lb)
        assert time.monotonic() - started < 5
    finally:
        agent.stop()
    assert lb.listeners[0].default_tls_container_data["private_key"] == "KEY-PEM"


def test_statera_agents_learn_their_instance_and_peers(database: Database) -> None:
    """The ``statera_instance`` extension: this host's role and amphora, the VRRP addresses
    its peers reported; a plain octavia-lib get of the same load balancer is unchanged."""
    from statera.agent.get import GetHandler, HostScope

    g = build_graph(database)
    with database.session() as s:
        s.add_all([m.Amphora(id="amp-h1", load_balancer_id=g.lb, compute_id="h1",
                             role="MASTER"),
                   m.Amphora(id="amp-h2", load_balancer_id=g.lb, compute_id="h2",
                             role="BACKUP", vrrp_ip="10.77.0.12")])
    scope = frozenset({"noop"})
    ask = {"object": "loadbalancers", "id": g.lb, "statera_instance": True}

    h1 = GetHandler(database, scope=HostScope("h1", scope))(ask)
    h2 = GetHandler(database, scope=HostScope("h2", scope))(ask)
    elsewhere = GetHandler(database, scope=HostScope("h3", scope))(ask)
    plain = GetHandler(database, scope=HostScope("h1", scope))(
        {"object": "loadbalancers", "id": g.lb})

    assert h1["statera_instance"] == {"role": "MASTER", "amphora_id": "amp-h1",
                                      "peers": ["10.77.0.12"]}
    # h1 has not reported its vrrp_ip yet: h2 runs without a peer until it does.
    assert h2["statera_instance"] == {"role": "BACKUP", "amphora_id": "amp-h2", "peers": []}
    assert elsewhere == {}
    assert "statera_instance" not in plain
    assert dm.LoadBalancer.from_dict(plain).loadbalancer_id == g.lb


def test_a_placed_load_balancer_ends_only_by_a_requested_delete(database: Database) -> None:
    """A host's agent that read nothing to serve (the get socket did not count it the owner at
    that moment) reports DELETED; for a placed load balancer the API still wants, that report
    must not end it: only one in PENDING_DELETE is tombstoned."""
    from statera.agent.get import HostScope
    from statera.agent.status import StatusHandler

    wanted = build_graph(database).lb
    deleting = build_graph(database, status="PENDING_DELETE").lb
    with database.session() as s:
        s.add_all([m.Amphora(id="amp-w", load_balancer_id=wanted, compute_id="h1",
                             role="STANDALONE"),
                   m.Amphora(id="amp-d", load_balancer_id=deleting, compute_id="h1",
                             role="STANDALONE")])
    handler = StatusHandler(database, scope=HostScope("h1", frozenset({"noop"})))

    for lb_id in (wanted, deleting):
        handler({"loadbalancers": [{"id": lb_id, "provisioning_status": "DELETED"}]})

    with database.session() as s:
        assert s.get(m.LoadBalancer, wanted).provisioning_status == "ACTIVE"
        assert s.get(m.LoadBalancer, deleting).provisioning_status == "DELETED"


# Read-only -----------------------------------------------------------------------------------

ON_H1 = HostScope("h1", frozenset({"noop"}))


def _writes(database: Database) -> list[str]:
    """Every data-changing statement ``database`` runs from now on (appended as they run)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            seen.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    return seen


def _amphorae(database: Database, lb_id: str) -> list[str]:
    with database.read_session() as s:
        return list(s.scalars(select(m.Amphora.compute_id)
                              .where(m.Amphora.load_balancer_id == lb_id)))


def test_the_get_socket_writes_nothing(database: Database) -> None:
    """Not the served generation (memory), not a placement: an unplaced load balancer of a
    placed provider is served nowhere until placement gives it a host."""
    placed, unplaced = build_graph(database).lb, build_graph(database).lb
    with database.session() as s:
        s.add(m.AgentHost(name="h1", renewed_at=time.time(), down_after=60.0,
                          providers=["noop"]))
        s.add(m.Amphora(id="amp-1", load_balancer_id=placed, compute_id="h1",
                        role="STANDALONE"))
    get = GetHandler(database, scope=ON_H1)
    writes = _writes(database)

    assert get({"object": "loadbalancers", "id": placed})["loadbalancer_id"] == placed
    assert get({"object": "loadbalancers", "id": unplaced}) == {}
    assert get({"object": "loadbalancer_ids", "provider": "noop"}) == {
        "loadbalancer_ids": [placed]}

    assert writes == []
    assert (get.served.get(placed), get.served.get(unplaced)) == (1, None)
    assert row(database, m.LoadBalancer, placed).served_generation is None
    assert _amphorae(database, unplaced) == []


def test_a_report_not_tied_to_a_read_completes_nothing(database: Database) -> None:
    """After a driver-agent restart its book is empty: a report about a load balancer served
    before completes nothing new and asks the provider to read again; once it has read, the
    same report completes what it read."""
    g = build_graph(database, status="PENDING_CREATE")
    hints: list[str] = []

    def agent() -> tuple[GetHandler, StatusHandler]:
        get = GetHandler(database)
        return get, StatusHandler(database, served=get.served, rehint_interval=0,
                                  rehint=lambda _provider, lb_id: hints.append(lb_id))

    active = {"loadbalancers": [{"id": g.lb, "provisioning_status": "ACTIVE"}]}
    get, status = agent()
    assert get({"object": "loadbalancers", "id": g.lb})
    status(active)
    assert row(database, m.LoadBalancer, g.lb).served_generation == 1  # recorded by the report
    bump(database, g.lb, (m.Member, g.member, "PENDING_UPDATE"))
    assert get({"object": "loadbalancers", "id": g.lb})  # generation 2, then a restart

    get, status = agent()
    status(active)
    lb = row(database, m.LoadBalancer, g.lb)
    assert (lb.provisioning_status, lb.applied_generation) == ("PENDING_UPDATE", 1)
    assert row(database, m.Member, g.member).provisioning_status == "PENDING_UPDATE"
    assert hints == [g.lb]

    assert get({"object": "loadbalancers", "id": g.lb})
    status(active)
    lb = row(database, m.LoadBalancer, g.lb)
    assert (lb.provisioning_status, lb.applied_generation) == ("ACTIVE", 2)
    assert row(database, m.Member, g.member).provisioning_status == "ACTIVE"


def test_a_placed_providers_report_without_a_read_completes_nothing(database: Database) -> None:
    """A placed provider's agent always reads first: a report with nothing served on record
    (the driver agent restarted before the provider's first report) waits for a read."""
    g = build_graph(database, status="PENDING_CREATE")
    with database.session() as s:
        s.add(m.Amphora(id="amp-1", load_balancer_id=g.lb, compute_id="h1",
                        role="STANDALONE"))
    status = StatusHandler(database, scope=ON_H1)
    status({"loadbalancers": [{"id": g.lb, "provisioning_status": "ACTIVE"}],
            "members": [{"id": g.member, "provisioning_status": "ACTIVE"}]})
    assert row(database, m.LoadBalancer, g.lb).provisioning_status == "PENDING_CREATE"
    assert row(database, m.Member, g.member).provisioning_status == "PENDING_CREATE"


def test_a_heartbeat_places_what_was_created_while_no_host_could(
    database: Database, tmp_path: Any
) -> None:
    """Created with no live host (nothing placed it at create); the first host to come up
    places it in its heartbeat and hints its agent, whose get socket then serves it."""
    lb_id = build_graph(database).lb
    settings = Settings(data_dir=str(tmp_path), agent={"host": "h1"})
    hints: list[tuple[str, str]] = []
    lease = HostLease(settings, database, ["noop"], hint=lambda p, i: hints.append((p, i)))
    lease.register()
    assert _amphorae(database, lb_id) == []
    lease.heartbeat()
    assert _amphorae(database, lb_id) == ["h1"]
    assert ("noop", lb_id) in hints
    assert GetHandler(database, scope=ON_H1)(
        {"object": "loadbalancers", "id": lb_id})["loadbalancer_id"] == lb_id
