"""Small builders of octavia-lib load-balancer graphs for the f5 tests (no database)."""

from __future__ import annotations

import uuid
from typing import Any

from octavia_lib.api.drivers import data_models as dm

PROJECT = "3f2b0c8e-5d4a-4c1e-9b7a-0a1b2c3d4e5f"


def uid() -> str:
    return str(uuid.uuid4())


def member(address: str = "192.0.2.11", port: int = 8080, **kw: Any) -> dm.Member:
    fields: dict[str, Any] = {"admin_state_up": True, "weight": 1, "backup": False}
    fields.update(kw)
    return dm.Member(member_id=uid(), address=address, protocol_port=port, **fields)


def monitor(kind: str = "HTTP", **kw: Any) -> dm.HealthMonitor:
    fields: dict[str, Any] = {"delay": 5, "timeout": 3, "max_retries": 3, "max_retries_down": 3,
                              "admin_state_up": True}
    if kind in ("HTTP", "HTTPS"):
        fields.update(http_method="GET", url_path="/healthz", expected_codes="200")
    fields.update(kw)
    return dm.HealthMonitor(healthmonitor_id=uid(), type=kind, **fields)


def pool(protocol: str = "HTTP", members: list[dm.Member] | None = None,
         **kw: Any) -> dm.Pool:
    fields: dict[str, Any] = {"lb_algorithm": "ROUND_ROBIN", "admin_state_up": True,
                              "tls_enabled": False}
    fields.update(kw)
    return dm.Pool(pool_id=uid(), protocol=protocol,
                   members=members if members is not None else [member()], **fields)


def listener(protocol: str = "HTTP", port: int = 80, default_pool: dm.Pool | None = None,
             **kw: Any) -> dm.Listener:
    fields: dict[str, Any] = {"admin_state_up": True, "connection_limit": -1,
                              "l7policies": [], "allowed_cidrs": None, "insert_headers": {}}
    fields.update(kw)
    return dm.Listener(listener_id=uid(), protocol=protocol, protocol_port=port,
                       default_pool_id=default_pool.pool_id if default_pool else None,
                       **fields)


def rule(kind: str = "PATH", compare: str = "STARTS_WITH", value: str = "/api",
         **kw: Any) -> dm.L7Rule:
    fields: dict[str, Any] = {"invert": False, "admin_state_up": True}
    fields.update(kw)
    return dm.L7Rule(l7rule_id=uid(), type=kind, compare_type=compare, value=value, **fields)


def policy(action: str = "REJECT", rules: list[dm.L7Rule] | None = None, position: int = 1,
           **kw: Any) -> dm.L7Policy:
    return dm.L7Policy(l7policy_id=uid(), action=action, position=position,
                       rules=rules if rules is not None else [rule()], admin_state_up=True,
                       **kw)


def loadbalancer(listeners: list[dm.Listener] | None = None, pools: list[dm.Pool] | None = None,
                 vip: str = "198.51.100.10", project: str = PROJECT,
                 lb_id: str | None = None) -> dm.LoadBalancer:
    return dm.LoadBalancer(loadbalancer_id=lb_id or uid(), project_id=project,
                           vip_address=vip, admin_state_up=True,
                           listeners=listeners or [], pools=pools or [])


def simple_lb(**kw: Any) -> dm.LoadBalancer:
    """HTTP listener on port 80 → a pool of two members with an HTTP monitor."""
    p = pool(members=[member("192.0.2.11"), member("192.0.2.12")], healthmonitor=monitor())
    return loadbalancer([listener(default_pool=p)], [p], **kw)
