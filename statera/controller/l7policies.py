"""L7 policies: the rules for creating, changing and deleting one, and ``build_l7policy`` for
the load-balancer create graph.

Octavia's rules, field for field (octavia.md §1.4 "L7 policies"): redirect fields are sanitised
into a consistent set, redirect URLs and prefixes must be http(s) URLs with a host and nothing
that could break a data-plane config line, a redirect pool must live on the same load balancer
and fit the listener's protocol, PROMETHEUS listeners take no policies, and positions are
renumbered 1..N after every insert, move or delete.

Statera's deliberate difference from Octavia: a write is **not** refused with 409 while the load
balancer is ``PENDING_*``. Each write locks the load-balancer row, opens a new desired generation
(``changes.lock_loadbalancer``) and stamps the policy and its listener with it, so writes made
while a provider is still converging are coalesced into its next pass. Only a load balancer or
parent that is being deleted answers 409.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlsplit

from octavia_lib.api.drivers import data_models
from sqlalchemy.orm import Session

from statera.controller import changes, provider_models, quotas, rules, schemas, writes
from statera.controller.access import Requester
from statera.controller.errors import Invalid, InvalidInput, NotFound
from statera.controller.l7rules import build_l7rule
from statera.controller.services import Services
from statera.controller.views import Render, T
from statera.db import models as m
from statera.db.statuses import OperatingStatus, ProvisioningStatus

#: Octavia's policy object type of a policy.
POLICY_TYPE = "l7policy"

REJECT, TO_URL, TO_POOL, PREFIX = (
    "REJECT", "REDIRECT_TO_URL", "REDIRECT_TO_POOL", "REDIRECT_PREFIX")
REDIRECT_FIELDS = ("redirect_pool_id", "redirect_url", "redirect_prefix", "redirect_http_code")
DEFAULT_REDIRECT_CODE = 302

# RFC 3986 characters only: no spaces, quotes, backslashes, control or non-ASCII characters,
# so a redirect target can never split or extend a rendered `redirect location` line.
_URL_CHARS = re.compile(r"\A[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+\Z")


# Validation ------------------------------------------------------------------------------


def check_url(value: str) -> None:
    """400 unless ``value`` is an http(s) URL with a host and only RFC 3986 characters."""
    bad = Invalid(f"Not a valid URL: {value}")
    if not _URL_CHARS.match(value):
        raise bad
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise bad from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad


def _args_error(msg: str) -> Invalid:
    return Invalid(f"Invalid L7 Policy arguments: {msg}")


def sanitize(fields: dict[str, Any], create: bool) -> dict[str, Any]:
    """Octavia's ``sanitize_l7policy_api_args`` on the fields a request set.

    A redirect pool forces REDIRECT_TO_POOL and clears URL, prefix and code; a URL or prefix
    forces its action (code 302 unless given); a pool with a URL or prefix is a 400; an action
    without its target is a 400; REJECT clears every redirect field.
    """
    out = dict(fields)
    action = out.get("action")
    if "action" in out:
        if action == REJECT:
            out.update(dict.fromkeys(REDIRECT_FIELDS))
        elif action == TO_URL:
            if not out.get("redirect_url"):
                raise _args_error("redirect_url must not be None")
            out["redirect_pool_id"] = None
        elif action == TO_POOL:
            if not out.get("redirect_pool_id"):
                raise _args_error("redirect_pool_id or redirect_pool must not be None")
            out["redirect_url"] = None
        elif action == PREFIX:
            if not out.get("redirect_prefix"):
                raise _args_error("redirect_prefix must not be None")
        else:
            raise Invalid(f"Invalid L7 Policy action specified: {action}")
    if out.get("redirect_pool_id") and (out.get("redirect_url") or out.get("redirect_prefix")):
        raise _args_error("Cannot specify redirect_pool_id and redirect_url or redirect_prefix "
                          "at the same time")
    if out.get("redirect_pool_id"):
        out.update(action=TO_POOL, redirect_url=None, redirect_prefix=None,
                   redirect_http_code=None)
    for field, forced in (("redirect_url", TO_URL), ("redirect_prefix", PREFIX)):
        if out.get(field):
            check_url(out[field])
            other = "redirect_prefix" if field == "redirect_url" else "redirect_url"
            out.update({"action": forced, "redirect_pool_id": None, other: None})
            if not out.get("redirect_http_code"):
                out["redirect_http_code"] = DEFAULT_REDIRECT_CODE
    if create and not out.get("action"):
        raise Invalid("Invalid L7 Policy action specified: None")
    if not out:
        raise _args_error("Invalid update options")
    return out


def settle(state: dict[str, Any]) -> dict[str, Any]:
    """Make a merged (stored + requested) policy consistent: only its action's target is set."""
    action = state["action"]
    out = dict(state)
    target = {TO_POOL: "redirect_pool_id", TO_URL: "redirect_url", PREFIX: "redirect_prefix"}
    keep = target.get(action)
    for field in ("redirect_pool_id", "redirect_url", "redirect_prefix"):
        if field != keep:
            out[field] = None
    if keep is not None and not out.get(keep):
        raise _args_error(f"{keep} must not be None")
    if action in (TO_URL, PREFIX):
        out["redirect_http_code"] = out.get("redirect_http_code") or DEFAULT_REDIRECT_CODE
    else:
        out["redirect_http_code"] = None
    return out


def check_listener(listener: m.Listener) -> None:
    if listener.protocol == "PROMETHEUS":
        raise Invalid("Protocol PROMETHEUS listeners cannot have child objects.")


def check_redirect_pool(session: Session, lb: m.LoadBalancer, listener: m.Listener,
                        pool_id: str) -> m.Pool:
    """The pool must be on the listener's load balancer (404) and fit its protocol (400)."""
    pool = session.get(m.Pool, pool_id)
    if pool is None or pool.load_balancer_id != lb.id:
        raise NotFound("Pool", pool_id)
    changes.ensure_mutable(pool, "Pool")
    rules.check_pool_protocol(listener.protocol, pool.protocol)
    return pool


def place(listener: m.Listener, policy: m.L7Policy, position: int | None) -> None:
    """Put ``policy`` at ``position`` (None: keep its place, or append if new) and renumber.

    Live policies get 1..N in order; policies being deleted follow them so that no two
    policies of a listener ever share a position.
    """
    if policy not in listener.l7policies:
        listener.l7policies.append(policy)
    ordered = sorted(listener.l7policies,
                     key=lambda p: (p.position or 0, p.created_at or dt.datetime.min))
    live = [p for p in ordered if p.provisioning_status not in changes.DELETING]
    dying = [p for p in ordered if p.provisioning_status in changes.DELETING]
    if policy in live:
        index = live.index(policy)
        live.remove(policy)
        if position is not None:
            index = min(position - 1, len(live))
        elif policy.position is None or index >= len(live):
            index = len(live)
        live.insert(index, policy)
    for number, pol in enumerate(live + dying, start=1):
        pol.position = number


# Builder (also used by the load-balancer create graph) ------------------------------------


def build_l7policy(session: Session, svc: Services, lb: m.LoadBalancer, listener: m.Listener,
                   body: schemas.L7PolicyPost, project_id: str) -> m.L7Policy:
    """Validate and add a policy (and its ``body.rules``) in PENDING_CREATE at the LB's
    current desired generation. No locking, quota or driver call: callers do those."""
    check_listener(listener)
    requested = {k: getattr(body, k) for k in ("action", *REDIRECT_FIELDS)
                 if getattr(body, k) is not None}
    fields = settle(sanitize(requested, create=True))
    if fields.get("redirect_pool_id"):
        check_redirect_pool(session, lb, listener, fields["redirect_pool_id"])
    policy = m.L7Policy(
        id=m.new_id(), project_id=project_id, name=body.name, description=body.description,
        enabled=body.admin_state_up is not False, action=fields["action"],
        redirect_pool_id=fields.get("redirect_pool_id"), redirect_url=fields.get("redirect_url"),
        redirect_prefix=fields.get("redirect_prefix"),
        redirect_http_code=fields.get("redirect_http_code"),
        provisioning_status=ProvisioningStatus.PENDING_CREATE,
        operating_status=OperatingStatus.OFFLINE,
        generation=lb.desired_generation, created_at=m.utcnow(), position=None,
    )
    place(listener, policy, body.position)
    session.add(policy)
    session.flush()
    writes.set_tags(session, policy.id, body.tags)
    for rule_body in body.rules or []:
        build_l7rule(session, svc, lb, policy, rule_body, project_id)
    session.flush()
    return policy


# Operations ------------------------------------------------------------------------------


def create(svc: Services, who: Requester, body: schemas.L7PolicyPost, render: Render[T]) -> T:
    """Add a policy (and its ``body.rules``) to the listener ``body.listener_id`` names."""
    if body.listener_id is None:
        raise InvalidInput("listener_id", None, "Mandatory field missing.")
    if body.redirect_pool is not None:
        raise InvalidInput("redirect_pool", "...", "Unknown attribute.")
    counts = {"l7policy": 1, "l7rule": len(body.rules or [])}
    with svc.db.read_session() as session:
        listener = writes.fetch(session, m.Listener, body.listener_id)
        who.authorize(POLICY_TYPE, "post", listener.project_id)
        project = listener.project_id or listener.load_balancer.project_id or ""
        # Also before the lock: an exceeded quota answers before a parent being deleted does.
        quotas.check(session, svc.settings, project, counts)
        lb_id = listener.load_balancer_id
    with writes.change(svc, lb_id) as change:
        listener = writes.fetch(change.session, m.Listener, body.listener_id)
        changes.ensure_mutable(listener, "Listener")
        change.load_driver()
        quotas.check(change.session, svc.settings, project, counts)
        policy = build_l7policy(change.session, svc, change.lb, listener, body, project)
        changes.mark(listener, change.lb, ProvisioningStatus.PENDING_UPDATE)
        change.call("l7policy_create", provider_models.l7policy_model(policy))
        return render(change.session, policy)


def update(svc: Services, who: Requester, l7policy_id: str, body: schemas.L7PolicyPut,
           render: Render[T]) -> T:
    """Change the fields ``body`` sets; a new position renumbers the listener's policies."""
    given = body.given()
    lb_id = _authorized(svc, who, l7policy_id, "put")
    with writes.change(svc, lb_id) as change:
        policy = writes.fetch(change.session, m.L7Policy, l7policy_id)
        listener = policy.listener
        changes.ensure_mutable(listener, "Listener")
        changes.ensure_mutable(policy, "L7Policy")
        change.load_driver()
        old = provider_models.l7policy_model(policy)
        changed = _update(change, policy, given)
        changes.mark(policy, change.lb, ProvisioningStatus.PENDING_UPDATE)
        changes.mark(listener, change.lb, ProvisioningStatus.PENDING_UPDATE)
        change.call("l7policy_update", old, _partial_model(policy.id, changed))
        return render(change.session, policy)


def _update(change: writes.Change, policy: m.L7Policy, given: dict[str, Any]) -> dict[str, Any]:
    """Apply a PUT to ``policy``; the fields that changed, under their API names."""
    listener = policy.listener
    redirect = {k: v for k, v in given.items() if k in ("action", *REDIRECT_FIELDS)}
    changed: dict[str, Any] = {}
    if redirect or not given:
        redirect = sanitize(redirect, create=False)
        stored = {k: getattr(policy, k) for k in ("action", *REDIRECT_FIELDS)}
        changed = settle(stored | redirect)
        if changed.get("redirect_pool_id") and "redirect_pool_id" in redirect:
            check_redirect_pool(change.session, change.lb, listener,
                                changed["redirect_pool_id"])
        for key, value in changed.items():
            setattr(policy, key, value)
    for key in ("name", "description"):
        if key in given:
            setattr(policy, key, given[key])
            changed[key] = given[key]
    if "admin_state_up" in given:
        policy.enabled = bool(given["admin_state_up"])
        changed["admin_state_up"] = policy.enabled
    if given.get("position") is not None:
        place(listener, policy, given["position"])
        changed["position"] = policy.position
    writes.set_tags(change.session, policy.id, given.get("tags"))
    return changed


def delete(svc: Services, who: Requester, l7policy_id: str) -> None:
    """Mark the policy PENDING_DELETE, flag its listener and renumber the live policies; the
    driver agent removes the rows once the provider has applied it."""
    lb_id = _authorized(svc, who, l7policy_id, "delete")
    with writes.change(svc, lb_id) as change:
        policy = writes.fetch(change.session, m.L7Policy, l7policy_id)
        listener = policy.listener
        changes.ensure_mutable(policy, "L7Policy")
        change.load_driver()
        model = provider_models.l7policy_model(policy, include_pending_delete=True)
        changes.mark(policy, change.lb, ProvisioningStatus.PENDING_DELETE)
        changes.touch(listener, change.lb)
        place(listener, policy, None)
        change.call("l7policy_delete", model)


def _authorized(svc: Services, who: Requester, l7policy_id: str, action: str) -> str:
    """Check the caller may ``action`` the policy: the id of its load balancer."""
    with svc.db.read_session() as session:
        policy = writes.fetch_authorized(session, m.L7Policy, l7policy_id, who, action)
        return str(policy.listener.load_balancer_id)


def _partial_model(policy_id: str, changed: dict[str, Any]) -> Any:
    """octavia-lib's "new" object for ``l7policy_update``: the id plus the changed fields."""
    return data_models.L7Policy(l7policy_id=policy_id, **changed)
