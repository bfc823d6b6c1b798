"""Who may do what to which project's objects: Octavia's rules, decided by oslo.policy.

Every decision goes through one :class:`Policy` (an oslo.policy ``Enforcer``) holding
Octavia's rule names (``os_load-balancer_api:<type>:<action>``) with Octavia's default rules.
Both of Octavia's role models hold at once, as in Octavia when the deprecated defaults still
count (``enforce_new_defaults = false``): Keystone's default roles (``admin``, ``member``,
``reader``, each on its own project) and the ``load-balancer_*`` roles (``_observer``,
``_global_observer``, ``_member``, ``_quota_admin``, ``_admin``). The rules are written here
already joined (new ``or`` deprecated), so an operator's policy file overrides one plain
expression per rule. ``[oslo_policy] policy_file`` (YAML) overrides any rule; oslo.policy
re-reads it when its modification time changes, so a change needs no restart.

Identities come from the auth strategy: ``noauth`` makes every caller admin (Octavia's
``is_admin:True``); ``testing`` reads ``X-Project-Id`` and ``X-Roles`` headers so that tests
can act as any role; ``keystone`` takes only what keystonemiddleware validated
(:mod:`statera.api.keystone`), never a header the client sent.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from fastapi import Request
from oslo_config import cfg
from oslo_policy import policy as oslo_policy

from statera.api.errors import ApiError, Forbidden
from statera.config import Settings

LOG = logging.getLogger(__name__)
PREFIX = "os_load-balancer_api"
MEMORY_SIZE = 100_000  # remembered decisions (see Policy.check) before starting afresh

#: Octavia's base rules (octavia/policies/base.py, keystone_default_roles.py and the
#: deprecated advanced-RBAC rules they replace), each new default joined with its deprecated
#: one.
BASE_RULES: tuple[tuple[str, str, str], ...] = (
    ("context_is_admin", "role:admin or role:load-balancer_admin",
     "Who is an administrator of every project (Octavia's is_admin)."),
    ("load-balancer:owner", "project_id:%(project_id)s",
     "The caller's project owns the object."),
    ("project-member", "role:member and project_id:%(project_id)s",
     "Keystone's member role on the object's project."),
    ("project-reader", "role:reader and project_id:%(project_id)s",
     "Keystone's reader role on the object's project."),
    ("load-balancer:admin", "is_admin:True or role:admin or role:load-balancer_admin",
     "Administrator of the load-balancer API."),
    ("load-balancer:global_observer", "role:admin or role:load-balancer_global_observer",
     "Reads every project's objects."),
    ("load-balancer:member_and_owner",
     "rule:project-member or (role:load-balancer_member and rule:load-balancer:owner)",
     "Reads and writes the objects of its own project."),
    ("load-balancer:observer_and_owner",
     "rule:project-reader or (role:load-balancer_observer and rule:load-balancer:owner)",
     "Reads the objects of its own project."),
    ("load-balancer:quota-admin", "role:admin or role:load-balancer_quota_admin",
     "Administrator of quotas."),
    ("load-balancer:read",
     "rule:load-balancer:observer_and_owner or rule:load-balancer:global_observer or "
     "rule:load-balancer:member_and_owner or rule:load-balancer:admin",
     "Read an object."),
    ("load-balancer:read-global", "rule:load-balancer:global_observer or rule:load-balancer:admin",
     "Read every project's objects in one list."),
    ("load-balancer:write", "rule:load-balancer:member_and_owner or rule:load-balancer:admin",
     "Change an object."),
    ("load-balancer:read-quota",
     "rule:load-balancer:observer_and_owner or rule:load-balancer:global_observer or "
     "rule:load-balancer:member_and_owner or rule:load-balancer:quota-admin or "
     "rule:load-balancer:admin",
     "Read a project's quota."),
    ("load-balancer:read-quota-global",
     "rule:load-balancer:global_observer or rule:load-balancer:quota-admin or "
     "rule:load-balancer:admin",
     "Read every project's quota."),
    ("load-balancer:write-quota", "rule:load-balancer:quota-admin or rule:load-balancer:admin",
     "Change a project's quota."),
)

READ, READ_GLOBAL, WRITE, ADMIN = ("rule:load-balancer:read", "rule:load-balancer:read-global",
                                   "rule:load-balancer:write", "rule:load-balancer:admin")
_OWNED = {"get_all": READ, "get_all-global": READ_GLOBAL, "post": WRITE, "get_one": READ,
          "put": WRITE, "delete": WRITE}
_SHARED = {"get_all": READ, "post": ADMIN, "put": ADMIN, "get_one": READ, "delete": ADMIN}
_ADMIN = {action: ADMIN for action in ("get_all", "post", "put", "get_one", "delete")}

#: Octavia's API rules, ``<type>: {<action>: <default check>}`` (octavia/policies/*.py).
API_RULES: dict[str, dict[str, str]] = {
    "loadbalancer": {**_OWNED, "get_stats": READ, "get_status": READ, "put_failover": ADMIN},
    "listener": {**_OWNED, "get_stats": READ},
    "pool": dict(_OWNED),
    "member": {k: v for k, v in _OWNED.items() if k != "get_all-global"},
    "healthmonitor": dict(_OWNED),
    "l7policy": dict(_OWNED),
    "l7rule": {k: v for k, v in _OWNED.items() if k != "get_all-global"},
    "quota": {"get_all": "rule:load-balancer:read-quota",
              "get_all-global": "rule:load-balancer:read-quota-global",
              "get_one": "rule:load-balancer:read-quota",
              "put": "rule:load-balancer:write-quota",
              "delete": "rule:load-balancer:write-quota",
              "get_defaults": "rule:load-balancer:read-quota"},
    "amphora": {action: ADMIN for action in ("get_all", "get_one", "get_stats", "put_config",
                                              "put_failover", "delete")},
    "provider": {"get_all": READ},
    "provider-flavor": {"get_all": ADMIN},
    "provider-availability-zone": {"get_all": ADMIN},
    "flavor": dict(_SHARED),
    "flavor-profile": dict(_ADMIN),
    "availability-zone": dict(_SHARED),
    "availability-zone-profile": dict(_ADMIN),
    # Statera's own: the agent hosts (GET /v2/statera/hosts), admin only as the amphorae.
    "agent-host": {"get_all": ADMIN, "get_one": ADMIN},
}


def rule_name(obj_type: str, action: str) -> str:
    return f"{PREFIX}:{obj_type}:{action}"


def default_rules() -> list[oslo_policy.RuleDefault]:
    """Every rule Statera checks, with Octavia's defaults (what ``policy sample`` writes)."""
    rules = [oslo_policy.RuleDefault(name, check, description)
             for name, check, description in BASE_RULES]
    for obj_type, actions in API_RULES.items():
        rules.extend(oslo_policy.RuleDefault(rule_name(obj_type, action), check)
                     for action, check in actions.items())
    return rules


def sample_policy() -> str:
    """A YAML policy file of every rule at its default, each with what it decides."""
    lines = ["# Statera's policy: Octavia's rule names and default rules (both role models).",
             "# Copy this file to [oslo_policy] policy_file and change any rule; Statera re-reads",
             "# it when it changes.", ""]
    for rule in default_rules():
        if rule.description:
            lines.append(f"# {rule.description}")
        lines.append(f'"{rule.name}": "{rule.check_str}"')
    return "\n".join(lines) + "\n"


class Policy:
    """One oslo.policy enforcer with Octavia's rules and the operator's policy file."""

    def __init__(self, policy_file: str = "") -> None:
        conf = cfg.ConfigOpts()
        conf([], project="statera", default_config_files=[])
        self._enforcer = oslo_policy.Enforcer(conf, policy_file=policy_file or None,
                                              use_conf=bool(policy_file))
        # Only the file named in settings: no policy.d searched in ~/ or /etc.
        conf.set_override("policy_dirs", [], group="oslo_policy")
        defaults = default_rules()
        self._enforcer.register_defaults(defaults)
        if not policy_file:  # oslo.policy adds the defaults only when it reads a file
            self._enforcer.set_rules(oslo_policy.Rules.from_dict(
                {rule.name: rule.check_str for rule in defaults}), use_conf=False)
        self.policy_file = policy_file
        self._memory: dict[tuple[Any, ...], bool] = {}
        self._memory_rules: Any = None
        self._lock = threading.Lock()
        if policy_file and not os.path.isfile(policy_file):
            LOG.warning("policy file %s does not exist: Octavia's default rules apply until "
                        "it does", policy_file)
        self.check(  # read the file now: its errors are logged at start-up
            "context_is_admin", {}, {"roles": [], "project_id": None, "user_id": None,
                                     "is_admin": False})

    def registered(self, name: str) -> bool:
        return name in self._enforcer.registered_rules

    def check(self, name: str, target: dict[str, Any], creds: dict[str, Any]) -> bool:
        """Whether ``creds`` may ``name`` on ``target``.

        oslo.policy re-reads the policy file here when its modification time changed. A
        changed file that does not parse is logged and left out: the rules read before stay in
        force (oslo.policy keeps them and does not parse the same file again). A file that
        cannot be read at all denies.

        Decisions are remembered per rule set: oslo.policy inspects the signature of every
        check it evaluates (about 0.1 ms each, several per rule), and a request makes a few
        decisions, so without this the policy alone cost a millisecond or more per request.
        A decision depends only on the target and the credentials passed (both part of the
        key), and a reloaded file is a new rule set, which starts a new memory. One lock
        makes a reload and the decisions made against it one step: no decision is made, or
        remembered, against a rule set oslo.policy is still filling in.
        """
        with self._lock:
            return self._check(name, target, creds)

    def _check(self, name: str, target: dict[str, Any], creds: dict[str, Any]) -> bool:
        try:
            self._enforcer.load_rules()
        except ValueError as exc:
            LOG.error("policy file %s does not parse (%s); the rules read before stay "
                      "in force", self.policy_file, exc)
        except OSError as exc:
            LOG.error("policy file %s cannot be read (%s): denying %s",
                      self.policy_file, exc, name)
            return False
        rules = self._enforcer.rules
        if rules is not self._memory_rules or len(self._memory) > MEMORY_SIZE:
            self._memory_rules, self._memory = rules, {}
        key = (name, tuple(sorted(target.items())), creds.get("project_id"),
               creds.get("user_id"), creds.get("is_admin"), tuple(creds.get("roles", ())))
        decided = self._memory.get(key)
        if decided is None:
            try:
                decided = bool(self._enforcer.enforce(name, target, creds))
            except (OSError, ValueError) as exc:  # the file changed again in between
                LOG.error("policy file %s cannot be used (%s): denying %s",
                          self.policy_file, exc, name)
                return False
            self._memory[key] = decided
        return decided


@dataclass(frozen=True)
class Identity:
    """Who is calling: their project, user and roles, and the policy that judges them."""

    project_id: str | None
    roles: frozenset[str]
    header_project: bool = False
    user_id: str | None = None
    policy: Policy | None = field(default=None, compare=False, repr=False)
    noauth: bool = False  # Octavia's auth_strategy = noauth: is_admin whatever the roles
    #: keystonemiddleware's user auth plugin (the caller's token) for calls made on their
    #: behalf, e.g. to Barbican; never logged
    token_auth: Any = field(default=None, compare=False, repr=False)

    @cached_property
    def creds(self) -> dict[str, Any]:
        """oslo.policy's credentials (what Octavia's RequestContext.to_policy_values gives)."""
        creds: dict[str, Any] = {"roles": sorted(self.roles), "project_id": self.project_id,
                                 "user_id": self.user_id, "system_scope": None,
                                 "domain_id": None, "is_admin_project": True}
        creds["is_admin"] = self.noauth or self._check("context_is_admin", {}, creds)
        return creds

    def _check(self, name: str, target: dict[str, Any],
               creds: dict[str, Any] | None = None) -> bool:
        if self.policy is None:
            return self.noauth
        return self.policy.check(name, target, self.creds if creds is None else creds)

    def allows(self, name: str, project_id: str | None = None) -> bool:
        """Rule ``name`` on an object of ``project_id`` (None: the caller's own project, as
        Octavia passes ``context.project_id`` for objects without a project)."""
        target_project = project_id if project_id is not None else self.project_id
        return self._check(name, {"project_id": target_project})

    @property
    def is_admin(self) -> bool:
        return bool(self.creds["is_admin"])

    def authorize(self, obj_type: str, action: str, project_id: str | None = None) -> None:
        """:func:`authorize` as a method, so the controller can check policy through its
        ``Requester`` protocol."""
        authorize(self, obj_type, action, project_id)

    @property
    def authenticated(self) -> bool:
        """False for a caller without an identity (no valid token; under ``testing``: no
        ``X-Project-Id`` and no ``X-Roles``)."""
        return self.project_id is not None or bool(self.roles)

    def may_read(self) -> bool:
        """``load-balancer:read`` on the caller's own project."""
        return self.allows("load-balancer:read")

    def may_write(self) -> bool:
        """``load-balancer:write`` on the caller's own project."""
        return self.allows("load-balancer:write")

    def sees_project(self, project_id: str | None) -> bool:
        """May read the objects of ``project_id`` (``load-balancer:read`` on it)."""
        if project_id is None:
            return self.allows("load-balancer:read-global")
        return self.allows("load-balancer:read", project_id)


PROJECT_ID_MAX = 36  # the width of every project_id column


def _header_project(request: Request) -> str | None:
    """``X-Project-Id`` when it can be a project id: at most 36 printable characters (the
    column's width; a longer one used to reach the database and fail there as a 500)."""
    value = request.headers.get("X-Project-Id")
    if value is None:
        return None
    if not value or len(value) > PROJECT_ID_MAX or not value.isprintable():
        raise ApiError(f"Invalid X-Project-Id header: a project id is 1 to {PROJECT_ID_MAX} "
                       "printable characters.")
    return value


def _roles(value: str) -> frozenset[str]:
    return frozenset(r.strip() for r in value.split(",") if r.strip())


#: Where :mod:`statera.api.keystone` leaves what keystonemiddleware validated.
AUTH_SCOPE_KEY = "statera.keystone"
_IDENTITY_SCOPE_KEY = "statera.identity"


def identity(request: Request, settings: Settings) -> Identity:
    """The caller of ``request`` under the configured strategy (built once per request)."""
    cached: Identity | None = request.scope.get(_IDENTITY_SCOPE_KEY)
    if cached is not None:
        return cached
    ident = _identity(request, settings, getattr(request.app.state, "policy", None))
    request.scope[_IDENTITY_SCOPE_KEY] = ident
    return ident


def _identity(request: Request, settings: Settings, policy: Policy | None) -> Identity:
    strategy = settings.api.auth_strategy
    if strategy == "keystone":
        validated: dict[str, Any] | None = request.scope.get(AUTH_SCOPE_KEY)
        if not validated or validated.get("status") != "Confirmed":
            return Identity(None, frozenset(), policy=policy)
        return Identity(validated.get("project_id") or None, _roles(validated.get("roles", "")),
                        user_id=validated.get("user_id") or None, policy=policy,
                        token_auth=validated.get("token_auth"))
    header_project = _header_project(request)
    if strategy == "testing":
        return Identity(header_project, _roles(request.headers.get("X-Roles", "")),
                        header_project is not None, policy=policy)
    return Identity(header_project or settings.api.default_project_id, frozenset({"admin"}),
                    header_project is not None, policy=policy, noauth=True)


def authorize(ident: Identity, obj_type: str, action: str, project_id: str | None = None) -> None:
    """Raise Forbidden (Octavia's 403) unless Octavia's rule ``<obj_type>:<action>`` allows
    ``ident`` on an object of ``project_id`` (None: the caller's own project)."""
    if not ident.allows(rule_name(obj_type, action), project_id):
        raise Forbidden()


def unregistered(names: Iterable[str], policy: Policy) -> list[str]:
    """The rule names in ``names`` that the policy does not define (a start-up check)."""
    return sorted(name for name in names if not policy.registered(name))
