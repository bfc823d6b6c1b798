"""Load balancers: creating one (its VIP, provider, flavor and availability zone, and the
nested graph of listeners, pools and the rest), changing, deleting (with its children on
``cascade``), failing it over, and reading its status tree and statistics.

A create is one transaction: the VIP is allocated, the rows are written and the provider's
driver accepts the whole graph, or nothing is kept. It runs through ``Database.transact``
(not :func:`statera.controller.writes.change`: there is no row to lock yet), which retries it
from scratch when MariaDB picks it as a deadlock victim between concurrent VIP claims.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from statera.bus.base import FAILOVER
from statera.certs.base import Caller
from statera.controller import changes, graph, placement, provider_models, quotas, schemas, writes
from statera.controller import stats as statistics
from statera.controller.access import Requester, project_for_create
from statera.controller.errors import Invalid, network_error
from statera.controller.providers import call_provider, load_driver
from statera.controller.services import Services
from statera.controller.views import Render, T
from statera.db import models as m
from statera.db import names
from statera.db.statuses import OperatingStatus, ProvisioningStatus
from statera.network.base import NetworkError

#: API name -> column, for the plain fields a PUT may change.
COLUMNS = {"name": "name", "description": "description",
           "admin_state_up": names.column("admin_state_up"),
           "vip_qos_policy_id": "vip_qos_policy_id"}


def create(svc: Services, who: Requester, body: schemas.LoadBalancerPost, token: str | None,
           render: Render[T]) -> T:
    """Create the load balancer ``body`` describes, with its nested graph, in the project the
    body names (an admin's choice) or the caller's; ``token`` is the caller's, for the
    certificate manager to check the graph's certificate references with."""
    project = project_for_create(who, body.project_id or body.tenant_id)
    who.authorize("loadbalancer", "post", project)
    graph.check_certificates(svc, body, Caller(project, token))

    def write(session: Session) -> tuple[m.LoadBalancer, T]:
        lb = _create(session, svc, body, project)
        placement.place_new(session, lb)  # its host's agent finds it placed on its first read
        return lb, render(session, lb)

    lb, result = svc.db.transact(write)
    writes.hint(svc, lb.provider, lb.id)
    return result


def update(svc: Services, who: Requester, lb_id: str, body: schemas.LoadBalancerPut,
           render: Render[T]) -> T:
    """Change the fields ``body`` sets."""
    _authorized(svc, who, lb_id, "put")
    with writes.change(svc, lb_id) as change:
        lb = change.lb
        change.load_driver()
        old = provider_models.loadbalancer_model(lb, graph=False)
        given = body.given()
        for api_name, column in COLUMNS.items():
            if api_name in given:
                value = given[api_name]
                setattr(lb, column, bool(value) if column == "enabled" else value)
        if "vip_sg_ids" in given:
            lb.vip_sg_ids = given["vip_sg_ids"] or []
        writes.set_tags(change.session, lb.id, given.get("tags"))
        new = provider_models.loadbalancer_model(lb, graph=False)
        change.call("loadbalancer_update", old, new)
        return render(change.session, lb)


def delete(svc: Services, who: Requester, lb_id: str, cascade: bool) -> None:
    """Mark the load balancer and everything under it PENDING_DELETE (Invalid if it has
    listeners or pools and ``cascade`` is false); the driver agent removes the rows once the
    provider has torn the data plane down."""
    _authorized(svc, who, lb_id, "delete")
    with writes.change(svc, lb_id) as change:
        lb = change.lb
        if (lb.listeners or lb.pools) and not cascade:
            raise Invalid(f"Cannot delete Load Balancer {lb_id} - it has children")
        change.load_driver()
        model = provider_models.loadbalancer_model(lb, graph=True)
        _mark_tree(lb, ProvisioningStatus.PENDING_DELETE)
        change.call("loadbalancer_delete", model, cascade)


def failover(svc: Services, who: Requester, lb_id: str) -> None:
    """Fail the load balancer over: every instance moves to another live host when there is
    one (else it is rebuilt where it runs); the hint reaches the new hosts and the old ones
    alike."""
    _authorized(svc, who, lb_id, "put_failover")
    with writes.change(svc, lb_id, FAILOVER) as change:
        change.call("loadbalancer_failover", change.lb.id)
        placement.schedule(change.session, [change.lb.id],
                           move=placement.instance_hosts(change.session, change.lb.id))


def status_tree(svc: Services, who: Requester, lb_id: str) -> dict[str, Any]:
    """Octavia's status tree: the load balancer, its listeners, the pools each listener sends
    traffic to (default pool, then enabled L7 redirects), their members and monitors."""
    with svc.db.read_session() as session:
        lb = writes.fetch_authorized(session, m.LoadBalancer, lb_id, who, "get_status")
        return _status_tree(lb)


def stats(svc: Services, who: Requester, lb_id: str) -> dict[str, int]:
    """Octavia's stats object for the load balancer: its listeners' counters summed."""
    with svc.db.read_session() as session:
        lb = writes.fetch_authorized(session, m.LoadBalancer, lb_id, who, "get_stats")
        return statistics.listener_stats(session, [lst.id for lst in lb.listeners])


def _authorized(svc: Services, who: Requester, lb_id: str, action: str) -> None:
    """NotFound unless the load balancer exists (and is not DELETED), Forbidden unless the
    caller may ``action`` it."""
    with svc.db.read_session() as session:
        writes.fetch_authorized(session, m.LoadBalancer, lb_id, who, action)


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


def _provider_for(session: Session, svc: Services, body: schemas.LoadBalancerPost) -> str:
    """The load balancer's provider: its own field, else its flavor profile's, else the
    default; Invalid for a missing or disabled flavor, a flavor of another provider, or a
    provider that is not enabled."""
    flavor_provider = None
    if body.flavor_id:
        flavor = session.get(m.Flavor, body.flavor_id)
        if flavor is None:
            raise Invalid(f"Invalid input for field/attribute flavor_id. Value: "
                          f"'{body.flavor_id}'. Flavor {body.flavor_id} could not be found.")
        if not flavor.enabled:
            raise Invalid(f"The selected flavor is not allowed in this deployment: "
                          f"{body.flavor_id}")
        profile = session.get(m.FlavorProfile, flavor.flavor_profile_id)
        flavor_provider = profile.provider_name if profile else None
    if body.provider and flavor_provider and body.provider != flavor_provider:
        raise Invalid(f"Flavor '{body.flavor_id}' is not compatible with provider "
                      f"'{body.provider}'")
    provider = body.provider or flavor_provider or svc.settings.api.default_provider_driver
    if provider not in svc.settings.api.enabled_provider_drivers:
        raise Invalid(f"Provider '{provider}' is not enabled.")
    return str(provider)


def _check_az(session: Session, name: str | None) -> None:
    """Invalid unless the availability zone ``name`` (if any) exists and is enabled."""
    if name is None:
        return
    az = session.get(m.AvailabilityZone, name)
    if az is None:
        raise Invalid(f"Invalid input for field/attribute availability_zone. Value: '{name}'. "
                      f"Availability zone {name} could not be found.")
    if not az.enabled:
        raise Invalid(f"The selected availability_zone is not allowed in this deployment: "
                      f"{name}")


def _create(session: Session, svc: Services, body: schemas.LoadBalancerPost,
            project: str) -> m.LoadBalancer:
    if not (body.vip_port_id or body.vip_subnet_id or body.vip_network_id):
        raise Invalid("Invalid input for field/attribute vip_port_id. Value: 'None'. "
                      "VIP must contain one of: vip_port_id, vip_network_id, vip_subnet_id.")
    provider = _provider_for(session, svc, body)
    _check_az(session, body.availability_zone)
    quotas.check(session, svc.settings, project, graph.counts(body))
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
    graph.build(session, svc, lb, body, project)
    session.flush()
    session.refresh(lb)
    model = provider_models.loadbalancer_model(lb, graph=True)
    call_provider(provider, driver.loadbalancer_create, model)
    return lb


def _allocate_vip(session: Session, svc: Services, lb: m.LoadBalancer,
                  body: schemas.LoadBalancerPost, project: str) -> None:
    """The VIP (and any additional VIPs) from the network driver; without one, the body's
    addresses as given."""
    if svc.network is None:
        lb.vip_address = body.vip_address
        lb.vip_subnet_id, lb.vip_network_id = body.vip_subnet_id, body.vip_network_id
        lb.vip_port_id = body.vip_port_id
        return
    try:
        vip = svc.network.allocate_vip(
            session, lb_id=lb.id, project_id=project, network_id=body.vip_network_id,
            subnet_id=body.vip_subnet_id, port_id=body.vip_port_id, ip_address=body.vip_address)
        lb.vip_address, lb.vip_network_id = vip.ip_address, vip.network_id
        lb.vip_subnet_id, lb.vip_port_id = vip.subnet_id, vip.port_id
        lb.vip_octavia_owned = vip.octavia_owned
        lb.additional_vips = _additional_vips(session, svc, lb, body, project)
    except NetworkError as exc:
        raise network_error(exc) from None


def _additional_vips(session: Session, svc: Services, lb: m.LoadBalancer,
                     body: schemas.LoadBalancerPost, project: str) -> list[dict[str, Any]]:
    """Allocate each additional VIP; as in Octavia, every one must be on the VIP's network and
    no subnet may appear twice (the VIP's own included)."""
    out: list[dict[str, Any]] = []
    seen = {lb.vip_subnet_id}
    for extra in body.additional_vips or []:
        if extra.subnet_id in seen:
            raise Invalid(f"Duplicate VIP subnet(s) specified: {extra.subnet_id}")
        seen.add(extra.subnet_id)
        vip = svc.network.allocate_vip(
            session, lb_id=lb.id, project_id=project, subnet_id=extra.subnet_id,
            port_id=extra.port_id, ip_address=extra.ip_address)
        if vip.network_id != lb.vip_network_id:
            raise Invalid("All VIP subnets must belong to the same network.")
        out.append({"subnet_id": vip.subnet_id, "ip_address": vip.ip_address,
                    "port_id": vip.port_id})
    return out
