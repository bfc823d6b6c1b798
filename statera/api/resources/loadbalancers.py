"""Load balancers: CRUD, the full-graph create, cascade delete, status tree, stats, failover."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from statera.api.deps import Services, caller, caller_token, project_for_create, services
from statera.api.errors import ApiError
from statera.api.policy import Identity, authorize
from statera.api.resources import common
from statera.bus.base import FAILOVER
from statera.certs.base import Caller
from statera.controller import changes, placement, provider_models, quotas, schemas, writes
from statera.controller.providers import call_provider, load_driver
from statera.db import models as m
from statera.db import names
from statera.db.statuses import OperatingStatus, ProvisioningStatus

router = APIRouter()
SINGLE, PLURAL = "loadbalancer", "loadbalancers"


@router.get("/loadbalancers")
def list_loadbalancers(request: Request, svc: Services = Depends(services),
                       ident: Identity = Depends(caller)) -> dict[str, Any]:
    return common.list_visible(
        svc, request, ident, m.LoadBalancer, PLURAL,
        selectinload(m.LoadBalancer.listeners), selectinload(m.LoadBalancer.pools),
        where=(m.LoadBalancer.provisioning_status != ProvisioningStatus.DELETED,))


@router.get("/loadbalancers/{lb_id}")
def show_loadbalancer(lb_id: str, request: Request, svc: Services = Depends(services),
                      ident: Identity = Depends(caller)) -> dict[str, Any]:
    return common.show(svc, request, ident, m.LoadBalancer, lb_id, SINGLE)


@router.post("/loadbalancers", status_code=201)
def create_loadbalancer(request: Request, payload: Any = Body(None),
                        svc: Services = Depends(services),
                        ident: Identity = Depends(caller),
                        token: str | None = Depends(caller_token)) -> dict[str, Any]:
    body = schemas.parse(schemas.LoadBalancerPost, payload, SINGLE)
    project = project_for_create(ident, body.project_id or body.tenant_id)
    authorize(ident, "loadbalancer", "post", project)
    _check_graph_certificates(svc, body, Caller(project, token))
    def create(session: Session) -> tuple[m.LoadBalancer, dict[str, Any]]:
        lb = _create(session, svc, body, project)
        return lb, {SINGLE: _render_full(session, lb)}

    lb, result = svc.db.transact(create)
    writes.hint(svc, lb.provider, lb.id)
    return result


@router.put("/loadbalancers/{lb_id}")
def update_loadbalancer(lb_id: str, request: Request, payload: Any = Body(None),
                        svc: Services = Depends(services),
                        ident: Identity = Depends(caller)) -> dict[str, Any]:
    body = schemas.parse(schemas.LoadBalancerPut, payload, SINGLE)
    _authorize(svc, ident, lb_id, "put")
    with writes.change(svc, lb_id) as change:
        lb = change.lb
        change.load_driver()
        old = provider_models.loadbalancer_model(lb, graph=False)
        given = body.given()
        for api_name, column in (("name", "name"), ("description", "description"),
                                 ("admin_state_up", names.column("admin_state_up")),
                                 ("vip_qos_policy_id", "vip_qos_policy_id")):
            if api_name in given:
                value = given[api_name]
                setattr(lb, column, bool(value) if column == "enabled" else value)
        if "vip_sg_ids" in given:
            lb.vip_sg_ids = given["vip_sg_ids"] or []
        writes.set_tags(change.session, lb.id, given.get("tags"))
        new = provider_models.loadbalancer_model(lb, graph=False)
        change.call("loadbalancer_update", old, new)
        return {SINGLE: common.render(change.session, lb)}


@router.delete("/loadbalancers/{lb_id}", status_code=204)
def delete_loadbalancer(lb_id: str, cascade: str = "false",
                        svc: Services = Depends(services),
                        ident: Identity = Depends(caller)) -> Response:
    _authorize(svc, ident, lb_id, "delete")
    with writes.change(svc, lb_id) as change:
        lb = change.lb
        wants_cascade = cascade.strip().lower() in ("true", "1", "yes", "on", "y", "t")
        if (lb.listeners or lb.pools) and not wants_cascade:
            raise ApiError(f"Cannot delete Load Balancer {lb_id} - it has children")
        change.load_driver()
        model = provider_models.loadbalancer_model(lb, graph=True)
        _mark_tree(lb, ProvisioningStatus.PENDING_DELETE)
        change.call("loadbalancer_delete", model, wants_cascade)
    return Response(status_code=204)


@router.get("/loadbalancers/{lb_id}/status")
@router.get("/loadbalancers/{lb_id}/statuses")
def status_tree(lb_id: str, svc: Services = Depends(services),
                ident: Identity = Depends(caller)) -> dict[str, Any]:
    with svc.db.read_session() as session:
        lb = writes.fetch_authorized(session, m.LoadBalancer, lb_id, ident, "get_status")
        return {"statuses": {"loadbalancer": _status_tree(lb)}}


@router.get("/loadbalancers/{lb_id}/stats")
def lb_stats(lb_id: str, svc: Services = Depends(services),
             ident: Identity = Depends(caller)) -> dict[str, Any]:
    with svc.db.read_session() as session:
        lb = writes.fetch_authorized(session, m.LoadBalancer, lb_id, ident, "get_stats")
        return {"stats": listener_stats(session, [lst.id for lst in lb.listeners])}


@router.put("/loadbalancers/{lb_id}/failover", status_code=202)
def failover(lb_id: str, svc: Services = Depends(services),
             ident: Identity = Depends(caller)) -> Response:
    _authorize(svc, ident, lb_id, "put_failover")
    with writes.change(svc, lb_id, FAILOVER) as change:
        change.call("loadbalancer_failover", change.lb.id)
        # Every instance moves to another live host when there is one (else it is rebuilt
        # where it runs); the hint reaches the new hosts and the old ones alike.
        placement.schedule(change.session, [change.lb.id],
                           move=placement.instance_hosts(change.session, change.lb.id))
    return Response(status_code=202)


def _authorize(svc: Services, ident: Identity, lb_id: str, action: str) -> None:
    """404 unless the load balancer exists (and is not DELETED), 403 unless the caller may."""
    with svc.db.read_session() as session:
        writes.fetch_authorized(session, m.LoadBalancer, lb_id, ident, action)


# Helpers --------------------------------------------------------------------------------

STAT_FIELDS = ("bytes_in", "bytes_out", "active_connections", "total_connections",
               "request_errors")


def listener_stats(session: Session, listener_ids: list[str]) -> dict[str, int]:
    """Octavia's stats object summed over the listeners' rows."""
    if not listener_ids:
        return dict.fromkeys(STAT_FIELDS, 0)
    cols = [func.coalesce(func.sum(getattr(m.ListenerStatistics, f)), 0) for f in STAT_FIELDS]
    row = session.execute(
        select(*cols).where(m.ListenerStatistics.listener_id.in_(listener_ids))
    ).one()
    return {f: int(v) for f, v in zip(STAT_FIELDS, row, strict=True)}


def _mark_tree(lb: m.LoadBalancer, status: ProvisioningStatus) -> None:
    for lst in lb.listeners:
        changes.mark(lst, lb, status)
        for pol in lst.l7policies:
            changes.mark(pol, lb, status)
            for rule in pol.rules:
                changes.mark(rule, lb, status)
    for pool in lb.pools:
        changes.mark(pool, lb, status)
        for mem in pool.members:
            changes.mark(mem, lb, status)
        if pool.health_monitor:
            changes.mark(pool.health_monitor, lb, status)
    lb.provisioning_status = status


def _status_tree(lb: m.LoadBalancer) -> dict[str, Any]:
    listeners = []
    for lst in lb.listeners:
        pools: dict[str, m.Pool] = {}
        if lst.default_pool is not None:
            pools[lst.default_pool.id] = lst.default_pool
        for pol in lst.l7policies:
            if pol.enabled and pol.rules and pol.redirect_pool is not None:
                pools.setdefault(pol.redirect_pool.id, pol.redirect_pool)
        listeners.append({
            "id": lst.id, "name": lst.name or "",
            "operating_status": lst.operating_status,
            "provisioning_status": lst.provisioning_status,
            "pools": [_pool_status(p) for p in pools.values()],
        })
    return {"id": lb.id, "name": lb.name or "", "operating_status": lb.operating_status,
            "provisioning_status": lb.provisioning_status, "listeners": listeners}


def _pool_status(pool: m.Pool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": pool.id, "name": pool.name or "",
        "provisioning_status": pool.provisioning_status,
        "operating_status": pool.operating_status,
        "members": [{"id": mem.id, "name": mem.name or "",
                     "operating_status": mem.operating_status,
                     "provisioning_status": mem.provisioning_status,
                     "address": mem.address, "protocol_port": mem.protocol_port}
                    for mem in pool.members],
    }
    hm = pool.health_monitor
    if hm is not None:
        body["health_monitor"] = {"id": hm.id, "name": hm.name or "", "type": hm.type,
                                  "provisioning_status": hm.provisioning_status,
                                  "operating_status": hm.operating_status}
    return body


def _render_full(session: Session, lb: m.LoadBalancer) -> dict[str, Any]:
    """The create response nests whole objects (octavia.md §1.4). As in Octavia's "full"
    types, a nested object leaves out its references upwards (a listener's and a pool's
    ``loadbalancers``, a health monitor's ``pools``, a pool's ``healthmonitor_id``)."""
    body = common.render(session, lb)
    pools = {p.id: _full_pool(session, p) for p in lb.pools}
    listeners = []
    for lst in lb.listeners:
        lbody = common.render(session, lst)
        del lbody["loadbalancers"]
        policies = []
        for pol in lst.l7policies:
            pbody = common.render(session, pol)
            pbody["rules"] = [common.render(session, r) for r in pol.rules]
            policies.append(pbody)
        lbody["l7policies"] = policies
        listeners.append(lbody)
    body["listeners"] = listeners
    body["pools"] = list(pools.values())
    return body


def _full_pool(session: Session, pool: m.Pool) -> dict[str, Any]:
    body = common.render(session, pool)
    del body["loadbalancers"]
    body.pop("healthmonitor_id", None)
    body["members"] = [common.render(session, mem) for mem in pool.members]
    hm = pool.health_monitor
    if hm is not None:
        body["healthmonitor"] = common.render(session, hm)
        del body["healthmonitor"]["pools"]
    return body


def _provider_for(session: Session, svc: Services, body: schemas.LoadBalancerPost) -> str:
    """The LB's provider: its own field, else its flavor profile's, else the default."""
    flavor_provider = None
    if body.flavor_id:
        flavor = session.get(m.Flavor, body.flavor_id)
        if flavor is None:
            raise ApiError(f"Invalid input for field/attribute flavor_id. Value: "
                           f"'{body.flavor_id}'. Flavor {body.flavor_id} could not be found.")
        if not flavor.enabled:
            raise ApiError(f"The selected flavor is not allowed in this deployment: "
                           f"{body.flavor_id}")
        profile = session.get(m.FlavorProfile, flavor.flavor_profile_id)
        flavor_provider = profile.provider_name if profile else None
    if body.provider and flavor_provider and body.provider != flavor_provider:
        raise ApiError(f"Flavor '{body.flavor_id}' is not compatible with provider "
                       f"'{body.provider}'")
    provider = body.provider or flavor_provider or svc.settings.api.default_provider_driver
    if provider not in svc.settings.api.enabled_provider_drivers:
        raise ApiError(f"Provider '{provider}' is not enabled.")
    return provider


def _check_az(session: Session, name: str | None) -> None:
    if name is None:
        return
    az = session.get(m.AvailabilityZone, name)
    if az is None:
        raise ApiError(f"Invalid input for field/attribute availability_zone. Value: '{name}'. "
                       f"Availability zone {name} could not be found.")
    if not az.enabled:
        raise ApiError(f"The selected availability_zone is not allowed in this deployment: "
                       f"{name}")


def _graph_counts(body: schemas.LoadBalancerPost) -> dict[str, int]:
    counts = {"load_balancer": 1, "listener": 0, "pool": 0, "member": 0, "health_monitor": 0,
              "l7policy": 0, "l7rule": 0}
    pools: list[schemas.PoolPost | schemas.PoolRef] = list(body.pools or [])
    for lst in body.listeners or []:
        counts["listener"] += 1
        if lst.default_pool is not None:
            pools.append(lst.default_pool)
        for pol in lst.l7policies or []:
            counts["l7policy"] += 1
            counts["l7rule"] += len(pol.rules or [])
            if pol.redirect_pool is not None:
                pools.append(pol.redirect_pool)
    for pool in pools:
        if isinstance(pool, schemas.PoolRef):
            continue
        counts["pool"] += 1
        counts["member"] += len(pool.members or [])
        counts["health_monitor"] += 1 if pool.healthmonitor else 0
    return counts


def _check_graph_certificates(svc: Services, body: schemas.LoadBalancerPost,
                              cert_caller: Caller) -> None:
    """The certificate references of a create graph, checked as the listener and pool APIs
    check them (400 unless the manager accepts each for ``cert_caller``), before the write
    transaction: the certificate manager opens its own or calls Barbican."""
    from statera.api.resources import pools
    from statera.controller import listeners, rules

    graph_pools: list[schemas.PoolPost | schemas.PoolRef] = list(body.pools or [])
    for lst in body.listeners or []:
        rules.check_cert_refs(svc.certs, cert_caller, *listeners.cert_refs(lst.model_dump()))
        rules.check_ca_and_crl(svc.certs, lst.client_ca_tls_container_ref,
                               lst.client_crl_container_ref)
        if lst.default_pool is not None:
            graph_pools.append(lst.default_pool)
        graph_pools.extend(pol.redirect_pool for pol in lst.l7policies or []
                           if pol.redirect_pool is not None)
    for pool in graph_pools:
        if isinstance(pool, schemas.PoolPost):
            rules.check_cert_refs(svc.certs, cert_caller, *pools.cert_refs(pool.model_dump()))
            rules.check_ca_and_crl(svc.certs, pool.ca_tls_container_ref,
                                   pool.crl_container_ref, "CA")


def _create(session: Session, svc: Services, body: schemas.LoadBalancerPost,
            project: str) -> m.LoadBalancer:
    if not (body.vip_port_id or body.vip_subnet_id or body.vip_network_id):
        raise ApiError("Invalid input for field/attribute vip_port_id. Value: 'None'. "
                       "VIP must contain one of: vip_port_id, vip_network_id, vip_subnet_id.")
    provider = _provider_for(session, svc, body)
    _check_az(session, body.availability_zone)
    quotas.check(session, svc.settings, project, _graph_counts(body))
    driver = load_driver(svc.settings, provider)
    lb = m.LoadBalancer(
        id=m.new_id(), project_id=project, name=body.name, description=body.description,
        enabled=body.admin_state_up is not False, provider=provider, flavor_id=body.flavor_id,
        availability_zone=body.availability_zone, vip_qos_policy_id=body.vip_qos_policy_id,
        vip_sg_ids=body.vip_sg_ids or [], provisioning_status=ProvisioningStatus.PENDING_CREATE,
        operating_status=OperatingStatus.OFFLINE, desired_generation=1, generation=1,
    )
    _allocate_vip(session, svc, lb, body, project)
    session.add(lb)
    session.flush()
    writes.set_tags(session, lb.id, body.tags)
    _build_graph(session, svc, lb, body, project)
    session.flush()
    session.refresh(lb)
    model = provider_models.loadbalancer_model(lb, graph=True)
    call_provider(provider, driver.loadbalancer_create, model)
    return lb


def _allocate_vip(session: Session, svc: Services, lb: m.LoadBalancer,
                  body: schemas.LoadBalancerPost, project: str) -> None:
    if svc.network is None:
        lb.vip_address = body.vip_address
        lb.vip_subnet_id, lb.vip_network_id = body.vip_subnet_id, body.vip_network_id
        lb.vip_port_id = body.vip_port_id
        return
    from statera.network.base import NetworkError

    try:
        vip = svc.network.allocate_vip(
            session, lb_id=lb.id, project_id=project, network_id=body.vip_network_id,
            subnet_id=body.vip_subnet_id, port_id=body.vip_port_id, ip_address=body.vip_address)
        lb.vip_address, lb.vip_network_id = vip.ip_address, vip.network_id
        lb.vip_subnet_id, lb.vip_port_id = vip.subnet_id, vip.port_id
        lb.vip_octavia_owned = vip.octavia_owned
        lb.additional_vips = _additional_vips(session, svc, lb, body, project)
    except NetworkError as exc:
        raise ApiError(exc.faultstring, exc.status_code) from None


def _additional_vips(session: Session, svc: Services, lb: m.LoadBalancer,
                     body: schemas.LoadBalancerPost, project: str) -> list[dict[str, Any]]:
    """Allocate each additional VIP; as in Octavia, every one must be on the VIP's network and
    no subnet may appear twice (the VIP's own included)."""
    out: list[dict[str, Any]] = []
    seen = {lb.vip_subnet_id}
    for extra in body.additional_vips or []:
        if extra.subnet_id in seen:
            raise ApiError(f"Duplicate VIP subnet(s) specified: {extra.subnet_id}")
        seen.add(extra.subnet_id)
        vip = svc.network.allocate_vip(
            session, lb_id=lb.id, project_id=project, subnet_id=extra.subnet_id,
            port_id=extra.port_id, ip_address=extra.ip_address)
        if vip.network_id != lb.vip_network_id:
            raise ApiError("All VIP subnets must belong to the same network.")
        out.append({"subnet_id": vip.subnet_id, "ip_address": vip.ip_address,
                    "port_id": vip.port_id})
    return out


def _build_graph(session: Session, svc: Services, lb: m.LoadBalancer,
                 body: schemas.LoadBalancerPost, project: str) -> None:
    """Create the nested listeners, pools, members, monitors, policies and rules.

    Pools nested as a listener's default pool or a policy's redirect pool need a name; a
    name-only pool refers to a top-level pool of the same request.
    """
    if not (body.pools or body.listeners):
        return
    from statera.api.resources.pools import build_pool
    from statera.controller.l7policies import build_l7policy
    from statera.controller.listeners import build_listener
    from statera.controller.rules import check_pool_protocol

    by_name: dict[str, m.Pool] = {}
    for pbody in body.pools or []:
        pool = build_pool(session, svc, lb, pbody, project, None)
        _remember(by_name, pbody, pool)
    for lbody in body.listeners or []:
        default_pool = lbody.default_pool
        policies = lbody.l7policies or []
        plain = lbody.model_copy(update={"default_pool": None, "l7policies": None})
        listener = build_listener(session, svc, lb, plain, project)
        if default_pool is not None:
            pool = _graph_pool(session, svc, lb, default_pool, project, by_name)
            check_pool_protocol(listener.protocol, pool.protocol)
            listener.default_pool_id = pool.id
        for polbody in policies:
            if polbody.redirect_pool is not None:
                pool = _graph_pool(session, svc, lb, polbody.redirect_pool, project, by_name)
                polbody = polbody.model_copy(
                    update={"redirect_pool": None, "redirect_pool_id": pool.id})
            build_l7policy(session, svc, lb, listener, polbody, project)
        session.flush()


def _remember(by_name: dict[str, m.Pool], body: schemas.PoolPost, pool: m.Pool) -> None:
    if body.name:
        if body.name in by_name:
            raise ApiError(f"Pool names must be unique in a create graph: '{body.name}'")
        by_name[body.name] = pool


def _graph_pool(session: Session, svc: Services, lb: m.LoadBalancer,
                body: schemas.PoolPost | schemas.PoolRef, project: str,
                by_name: dict[str, m.Pool]) -> m.Pool:
    from statera.api.resources.pools import build_pool

    if not body.name:
        raise ApiError("Pools nested in a load balancer create graph need a name.")
    if isinstance(body, schemas.PoolRef):
        if body.name not in by_name:
            raise ApiError(f"Pool '{body.name}' is referenced by name but not defined in the "
                           "request.")
        return by_name[body.name]
    if body.name in by_name:
        raise ApiError(f"Pool names must be unique in a create graph: '{body.name}'")
    pool = build_pool(session, svc, lb, body, project, None)
    by_name[body.name] = pool
    return pool

