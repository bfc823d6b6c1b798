"""Health monitors: the rules for creating, changing and deleting one.

As for every Statera write, a monitor change under a ``PENDING_*`` load balancer or pool is
accepted and coalesced; only a pool (or load balancer) being deleted refuses it (Conflict),
where Octavia requires the pool to be ACTIVE. Each change flags the pool and the listeners
using it ``PENDING_UPDATE``; a delete marks the monitor ``PENDING_DELETE`` (a pool still has
"a" monitor until the row goes, so a second one is a Conflict until then).
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from statera.controller import changes, provider_models, quotas, rules, schemas, writes
from statera.controller.access import Requester
from statera.controller.errors import Conflict, InvalidInput
from statera.controller.parents import touch_pool
from statera.controller.services import Services
from statera.controller.views import Render, T
from statera.db import models as m
from statera.db import names
from statera.db.statuses import OperatingStatus, ProvisioningStatus

#: API name -> column, for the fields a PUT may change.
COLUMNS = names.renamed(
    "name", "admin_state_up", "delay", "timeout", "max_retries", "max_retries_down",
    "http_method", "url_path", "expected_codes", "http_version", "domain_name",
)


def build_healthmonitor(session: Session, svc: Services, lb: m.LoadBalancer, pool: m.Pool,
                        body: schemas.HealthMonitorPost,
                        project_id: str) -> m.HealthMonitor:
    """Validate and attach a monitor to ``pool`` (PENDING_CREATE/OFFLINE). Conflict if the
    pool has one; Invalid for a type the pool's protocol cannot use or HTTP options on a
    non-HTTP type. The caller locks the load balancer, checks quotas, flags the parents and
    calls the driver."""
    if pool.health_monitor is not None:
        raise Conflict("This pool already has a health monitor")
    values = {api: getattr(body, api) for api in COLUMNS}
    values = rules.apply_nulls(values, rules.HM_NULL_DEFAULTS)
    values = rules.validate_hm(values, body.model_fields_set, body.type, pool.protocol,
                               svc.settings)
    row = m.HealthMonitor(
        id=m.new_id(), pool_id=pool.id, project_id=project_id, type=body.type,
        provisioning_status=ProvisioningStatus.PENDING_CREATE,
        operating_status=OperatingStatus.OFFLINE,
        generation=lb.desired_generation,
        **{COLUMNS[api]: value for api, value in values.items()},
    )
    pool.health_monitor = row
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("This pool already has a health monitor") from None
    writes.set_tags(session, row.id, body.tags or [])
    return row


def create(svc: Services, who: Requester, body: schemas.HealthMonitorPost,
           render: Render[T]) -> T:
    """Add a monitor to the pool ``body.pool_id`` names."""
    if body.pool_id is None:
        raise InvalidInput("pool_id", None, "Mandatory field missing.")
    with svc.db.read_session() as session:
        pool = writes.fetch(session, m.Pool, body.pool_id)
        who.authorize("healthmonitor", "post", pool.project_id)
        lb_id, project = pool.load_balancer_id, str(pool.project_id)
    with writes.change(svc, lb_id) as change:
        pool = writes.fetch(change.session, m.Pool, body.pool_id)
        changes.ensure_mutable(pool, "Pool")
        change.load_driver()
        quotas.check(change.session, svc.settings, project, {"health_monitor": 1})
        row = build_healthmonitor(change.session, svc, change.lb, pool, body, project)
        touch_pool(pool, change.lb)
        change.call("health_monitor_create", provider_models.healthmonitor_model(row))
        return render(change.session, row)


def update(svc: Services, who: Requester, hm_id: str, body: schemas.HealthMonitorPut,
           render: Render[T]) -> T:
    """Change the fields ``body`` sets (a null resets a field to its default)."""
    raw = body.given()
    for name in rules.HM_REQUIRED_ON_PUT:
        if name in raw and raw[name] is None:
            raise rules.invalid_option("None", name)
    given = rules.apply_nulls(raw, rules.HM_NULL_DEFAULTS)
    lb_id = _authorized(svc, who, hm_id, "put")
    with writes.change(svc, lb_id) as change:
        row = writes.fetch(change.session, m.HealthMonitor, hm_id)
        rules.refuse_deleting(row, "healthmonitor")
        changes.ensure_mutable(row.pool, "Pool")
        change.load_driver()
        old = provider_models.healthmonitor_model(row)
        values = {api: getattr(row, col) for api, col in COLUMNS.items()}
        values.update({k: v for k, v in given.items() if k != "tags"})
        values = rules.validate_hm(values, given, row.type, row.pool.protocol, svc.settings)
        for api, value in values.items():
            setattr(row, COLUMNS[api], value)
        if "tags" in given:
            writes.set_tags(change.session, row.id, given["tags"] or [])
        changes.mark(row, change.lb, ProvisioningStatus.PENDING_UPDATE)
        touch_pool(row.pool, change.lb)
        change.session.flush()
        new = rules.partial_model(provider_models.healthmonitor_model(row), "healthmonitor_id",
                                  given)
        change.call("health_monitor_update", old, new)
        return render(change.session, row)


def delete(svc: Services, who: Requester, hm_id: str) -> None:
    """Mark the monitor PENDING_DELETE; the driver agent removes the row once the provider
    has applied it."""
    lb_id = _authorized(svc, who, hm_id, "delete")
    with writes.change(svc, lb_id) as change:
        row = writes.fetch(change.session, m.HealthMonitor, hm_id)
        rules.refuse_deleting(row, "healthmonitor")
        change.load_driver()
        model = provider_models.healthmonitor_model(row)
        changes.mark(row, change.lb, ProvisioningStatus.PENDING_DELETE)
        touch_pool(row.pool, change.lb)
        change.call("health_monitor_delete", model)


def _authorized(svc: Services, who: Requester, hm_id: str, action: str) -> str:
    """Check the caller may ``action`` the monitor: the id of its load balancer."""
    with svc.db.read_session() as session:
        row = writes.fetch_authorized(session, m.HealthMonitor, hm_id, who, action)
        return str(row.pool.load_balancer_id)
