"""L7 rules: the rules for creating, changing and deleting one, and ``build_l7rule`` for the
L7 policy and load-balancer create graphs.

The data plane renders a rule's key and value into an HAProxy ``acl`` line, so the semantic
table of octavia.md ("Semantic checks") is applied strictly, and on PUT to the stored rule
merged with the request: keys required or forbidden per type, compare types per type, regular
expressions must compile, header and cookie values limited to their RFC character sets, and no
control characters (CR, LF, TAB, ...) anywhere. At most 50 rules per policy (409).

Statera's deliberate difference from Octavia: writes are **not** refused with 409 while the
load balancer is ``PENDING_*`` or the parent policy is not ACTIVE; they open a new desired
generation of the load balancer (``changes.lock_loadbalancer``) and flag the rule, its policy
and its listener. Only parents that are being deleted answer 409.
"""

from __future__ import annotations

import re
from typing import Any

from octavia_lib.api.drivers import data_models
from sqlalchemy.orm import Session

from statera.controller import changes, provider_models, quotas, schemas, writes
from statera.controller.access import Requester
from statera.controller.errors import Conflict, Invalid, InvalidInput, NotFound
from statera.controller.services import Services
from statera.controller.views import Render, T
from statera.db import models as m
from statera.db.statuses import OperatingStatus, ProvisioningStatus

#: Octavia's policy object type of a rule.
POLICY_TYPE = "l7rule"
MAX_RULES_PER_POLICY = 50

STRING_COMPARES = frozenset({"STARTS_WITH", "ENDS_WITH", "CONTAINS", "EQUAL_TO"})
KEY_REQUIRED = frozenset({"HEADER", "COOKIE", "SSL_DN_FIELD"})
KEY_FORBIDDEN = frozenset({"SSL_CONN_HAS_CERT", "SSL_VERIFY_RESULT"})
RULE_FIELDS = ("type", "compare_type", "key", "value", "invert")

# Octavia's character classes (common/constants.py), anchored on the whole string.
HEADER_NAME = re.compile(r"\A[a-zA-Z0-9!#$%&'*+\-.^_`|~]+\Z")
HEADER_VALUE = re.compile(r"\A[a-zA-Z0-9!\"#$%&'()*+,\-./:;<=>?@\[\]^_`{|}~\\]+\Z")
# Octavia also allows TAB inside quotes; Statera allows only spaces (no control characters).
QUOTED_HEADER_VALUE = re.compile(r"\A\"[a-zA-Z0-9 !\"#$%&'()*+,\-./:;<=>?@\[\]^_`{|}~\\]*\"\Z")
COOKIE_VALUE = re.compile(r"\A[a-zA-Z0-9!#$%&'()*+\-./:<=>?@\[\]^_`{|}~]+\Z")
DN_FIELD = re.compile(r"\A[a-zA-Z][A-Za-z0-9-]*\Z")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _invalid(msg: str) -> Invalid:
    return Invalid(f"Error parsing L7Rule: {msg}")


def _regex(value: str) -> None:
    try:
        re.compile(value)
    except re.error as exc:
        raise _invalid(f"Unable to parse regular expression: {exc}") from None


def validate_rule(rule_type: str, compare_type: str, key: str | None, value: str) -> None:
    """Octavia's ``l7rule_data`` semantic table, made strict about control characters."""
    if not value:
        raise _invalid("L7 rule type requires a value")
    for what, text in (("value", value), ("key", key or "")):
        if CONTROL.search(text):
            raise _invalid(f"the {what} must not contain control characters")
    if rule_type in KEY_REQUIRED and not key:
        raise _invalid(f"L7 rule type {rule_type} requires a key")
    if rule_type in KEY_FORBIDDEN and key:
        raise _invalid(f'L7rule type {rule_type} does not use the "key" field.')
    if rule_type in KEY_FORBIDDEN | {"FILE_TYPE"}:
        allowed = {"EQUAL_TO"} if rule_type in KEY_FORBIDDEN else {"REGEX", "EQUAL_TO"}
        if compare_type not in allowed:
            raise _invalid(f"L7rule type {rule_type} only supports the "
                           f"{' or '.join(sorted(allowed))} compare type.")
    if rule_type in ("HEADER", "COOKIE") and not HEADER_NAME.match(key or ""):
        raise _invalid("Invalid characters in key")
    if rule_type == "SSL_DN_FIELD" and not DN_FIELD.match(key or ""):
        raise _invalid("Invalid L7rule distinguished name field.")
    if compare_type == "REGEX":
        _regex(value)
        return
    if rule_type == "SSL_CONN_HAS_CERT":
        if value.lower() != "true":
            raise _invalid(f"L7rule value {value} is not a boolean True string.")
    elif rule_type == "SSL_VERIFY_RESULT":
        if not (value.isascii() and value.isdigit()):
            raise _invalid(f"L7rule type {rule_type} needs a int value, which is >= 0")
    elif rule_type == "COOKIE":
        if not COOKIE_VALUE.match(value):
            raise _invalid("Invalid characters in cookie value")
    elif rule_type in ("HEADER", "HOST_NAME", "PATH", "FILE_TYPE"):
        if not (HEADER_VALUE.match(value) or QUOTED_HEADER_VALUE.match(value)):
            what = "header value" if rule_type == "HEADER" else "comparison value"
            raise _invalid(f"Invalid characters in {what}")


def build_l7rule(session: Session, svc: Services, lb: m.LoadBalancer, policy: m.L7Policy,
                 body: schemas.L7RulePost, project_id: str) -> m.L7Rule:
    """Validate and add a rule in PENDING_CREATE at the LB's current desired generation.
    No locking, quota or driver call: callers do those."""
    validate_rule(body.type, body.compare_type, body.key, body.value)
    live = [r for r in policy.rules if r.provisioning_status not in changes.DELETING]
    if len(live) >= MAX_RULES_PER_POLICY:
        raise Conflict(f"Too many rules on L7 policy {policy.id}")
    rule = m.L7Rule(
        id=m.new_id(), project_id=project_id, type=body.type, compare_type=body.compare_type,
        key=body.key, value=body.value, invert=bool(body.invert),
        enabled=body.admin_state_up is not False,
        provisioning_status=ProvisioningStatus.PENDING_CREATE,
        operating_status=OperatingStatus.OFFLINE,
        generation=lb.desired_generation, created_at=m.utcnow(),
    )
    policy.rules.append(rule)
    session.add(rule)
    session.flush()
    writes.set_tags(session, rule.id, body.tags)
    return rule


# Lookups ---------------------------------------------------------------------------------


def fetch_policy(session: Session, l7policy_id: str) -> m.L7Policy:
    """The policy in the URL, or NotFound."""
    policy: m.L7Policy = writes.fetch(session, m.L7Policy, l7policy_id)
    return policy


def policy_and_rule(session: Session, l7policy_id: str,
                    l7rule_id: str) -> tuple[m.L7Policy, m.L7Rule]:
    """The policy in the URL and its rule: 404 for either, or for a rule of another policy."""
    policy = fetch_policy(session, l7policy_id)
    rule = session.get(m.L7Rule, l7rule_id)
    if rule is None or rule.l7policy_id != policy.id:
        raise NotFound("L7 Rule", l7rule_id)
    return policy, rule


# Operations ------------------------------------------------------------------------------


def create(svc: Services, who: Requester, l7policy_id: str, body: schemas.L7RulePost,
           render: Render[T]) -> T:
    """Add a rule to the policy ``l7policy_id``; flag the policy and its listener."""
    with svc.db.read_session() as session:
        policy = fetch_policy(session, l7policy_id)
        who.authorize(POLICY_TYPE, "post", policy.project_id)
        project = policy.project_id or ""
        # Also before the lock: an exceeded quota answers before a parent being deleted does.
        quotas.check(session, svc.settings, project, {"l7rule": 1})
        lb_id = policy.listener.load_balancer_id
    with writes.change(svc, lb_id) as change:
        policy = fetch_policy(change.session, l7policy_id)
        listener = policy.listener
        changes.ensure_mutable(listener, "Listener")
        changes.ensure_mutable(policy, "L7Policy")
        change.load_driver()
        quotas.check(change.session, svc.settings, project, {"l7rule": 1})
        rule = build_l7rule(change.session, svc, change.lb, policy, body, project)
        changes.mark(policy, change.lb, ProvisioningStatus.PENDING_UPDATE)
        changes.mark(listener, change.lb, ProvisioningStatus.PENDING_UPDATE)
        change.call("l7rule_create", provider_models.l7rule_model(rule))
        return render(change.session, rule)


def update(svc: Services, who: Requester, l7policy_id: str, l7rule_id: str,
           body: schemas.L7RulePut, render: Render[T]) -> T:
    """Change the fields ``body`` sets, checking the merged rule as a whole."""
    given = body.given()
    for required in ("type", "compare_type", "value"):
        if required in given and given[required] is None:
            raise InvalidInput(required, None, "Mandatory field missing.")
    lb_id = _authorized(svc, who, l7policy_id, l7rule_id, "put")
    with writes.change(svc, lb_id) as change:
        policy, rule = policy_and_rule(change.session, l7policy_id, l7rule_id)
        listener = policy.listener
        changes.ensure_mutable(listener, "Listener")
        changes.ensure_mutable(policy, "L7Policy")
        changes.ensure_mutable(rule, "L7Rule")
        change.load_driver()
        old = provider_models.l7rule_model(rule)
        changed = _update(rule, given)
        writes.set_tags(change.session, rule.id, given.get("tags"))
        changes.mark(rule, change.lb, ProvisioningStatus.PENDING_UPDATE)
        changes.mark(policy, change.lb, ProvisioningStatus.PENDING_UPDATE)
        changes.mark(listener, change.lb, ProvisioningStatus.PENDING_UPDATE)
        change.call("l7rule_update", old, _partial_model(rule.id, changed))
        return render(change.session, rule)


def _update(rule: m.L7Rule, given: dict[str, Any]) -> dict[str, Any]:
    """Apply a PUT to ``rule``, checked as a whole; the fields that changed (API names)."""
    state = {f: getattr(rule, f) for f in RULE_FIELDS}
    state.update({f: given[f] for f in RULE_FIELDS if f in given})
    state["invert"] = bool(state["invert"])
    if "type" in given and "key" not in given and state["type"] not in KEY_REQUIRED:
        state["key"] = None  # a key left over from the old type means nothing now
    validate_rule(state["type"], state["compare_type"], state["key"], state["value"])
    changed = {f: v for f, v in state.items() if v != getattr(rule, f) or f in given}
    for field, value in state.items():
        setattr(rule, field, value)
    if "admin_state_up" in given:
        rule.enabled = bool(given["admin_state_up"])
        changed["admin_state_up"] = rule.enabled
    return changed


def delete(svc: Services, who: Requester, l7policy_id: str, l7rule_id: str) -> None:
    """Mark the rule PENDING_DELETE and flag its policy and listener; the driver agent removes
    the row once the provider has applied it."""
    lb_id = _authorized(svc, who, l7policy_id, l7rule_id, "delete")
    with writes.change(svc, lb_id) as change:
        policy, rule = policy_and_rule(change.session, l7policy_id, l7rule_id)
        listener = policy.listener
        changes.ensure_mutable(policy, "L7Policy")
        changes.ensure_mutable(rule, "L7Rule")
        change.load_driver()
        model = provider_models.l7rule_model(rule)
        changes.mark(rule, change.lb, ProvisioningStatus.PENDING_DELETE)
        changes.mark(policy, change.lb, ProvisioningStatus.PENDING_UPDATE)
        changes.touch(listener, change.lb)
        change.call("l7rule_delete", model)


def _authorized(svc: Services, who: Requester, l7policy_id: str, l7rule_id: str,
                action: str) -> str:
    """Check the caller may ``action`` the rule: the id of its load balancer."""
    with svc.db.read_session() as session:
        policy, rule = policy_and_rule(session, l7policy_id, l7rule_id)
        who.authorize(POLICY_TYPE, action, rule.project_id)
        return str(policy.listener.load_balancer_id)


def _partial_model(rule_id: str, changed: dict[str, Any]) -> Any:
    """octavia-lib's "new" object for ``l7rule_update``: the id plus the changed fields."""
    return data_models.L7Rule(l7rule_id=rule_id, **changed)
