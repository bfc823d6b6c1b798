"""Shared pieces of every provider's golden files: graph builders with fixed ids, fixed
certificates, and the write-them-all step behind each provider's regenerate command.

A golden case is a load balancer as the get socket serves it (a dict that
``statera.agent.client.model_from_dict`` turns into octavia-lib models). Every id is fixed
(``gid(n)``), every address documentation space, so the rendered text depends on the graph and
the renderer alone. ``tests/<provider>/golden_cases.py`` holds each provider's cases (what that
provider supports) and renders them; ``tests/<provider>/test_golden.py`` compares byte for byte.

The certificates in ``tests/golden_pki/`` are real (NGINX parses them for SNI names and
``nginx -t`` loads them) and fixed: they were made once with ``tests.certs.pki`` and checked
in, because a fresh key or signature would change every golden file. They protect nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

PKI = Path(__file__).with_name("golden_pki")


def gid(n: int) -> str:
    """The fixed UUID number ``n`` of a golden graph."""
    return f"00000000-0000-4000-8000-{n:012d}"


def pki(name: str) -> str:
    """The text of ``tests/golden_pki/<name>.pem``."""
    return (PKI / f"{name}.pem").read_text()


def member(n: int, port: int, **kw: Any) -> dict[str, Any]:
    return {"member_id": gid(n), "address": "192.0.2.10", "protocol_port": port, "weight": 1,
            "admin_state_up": True, "backup": False, **kw}


def pool(n: int, protocol: str, algorithm: str, members: list[dict[str, Any]],
         **kw: Any) -> dict[str, Any]:
    return {"pool_id": gid(n), "protocol": protocol, "lb_algorithm": algorithm,
            "admin_state_up": True, "members": members, **kw}


def monitor(n: int, kind: str, **kw: Any) -> dict[str, Any]:
    return {"healthmonitor_id": gid(n), "type": kind, "delay": 5, "timeout": 3,
            "max_retries": 3, "max_retries_down": 2, "admin_state_up": True, **kw}


def listener(n: int, protocol: str, port: int, default_pool: str | None,
             **kw: Any) -> dict[str, Any]:
    return {"listener_id": gid(n), "protocol": protocol, "protocol_port": port,
            "admin_state_up": True, "default_pool_id": default_pool, "connection_limit": -1,
            **kw}


def lb(listeners: list[dict[str, Any]], pools: list[dict[str, Any]],
       **kw: Any) -> dict[str, Any]:
    return {"loadbalancer_id": gid(1), "vip_address": "203.0.113.5", "admin_state_up": True,
            "listeners": listeners, "pools": pools, **kw}


def rule(n: int, kind: str, compare: str, value: str, key: str | None = None,
         invert: bool = False) -> dict[str, Any]:
    return {"l7rule_id": gid(n), "type": kind, "compare_type": compare, "value": value,
            "key": key, "invert": invert, "admin_state_up": True}


def policy(n: int, position: int, action: str, rules: list[dict[str, Any]],
           **kw: Any) -> dict[str, Any]:
    return {"l7policy_id": gid(n), "position": position, "action": action,
            "admin_state_up": True, "rules": rules, **kw}


def golden_files(directory: Path, suffix: str, cases: Iterable[str]) -> dict[str, Path]:
    """The golden file of each case: ``<directory>/<case><suffix>``."""
    return {case: directory / f"{case}{suffix}" for case in cases}


def regenerate(directory: Path, suffix: str, cases: Iterable[str],
               rendered: Callable[[str], str]) -> None:
    """Write every case's rendering and delete golden files no case produces any more."""
    files = golden_files(directory, suffix, cases)
    directory.mkdir(exist_ok=True)
    for stale in directory.glob(f"*{suffix}"):
        if stale not in files.values():
            stale.unlink()
    for case, path in files.items():
        path.write_text(rendered(case))
        print(f"wrote {path}")


def features(cases: Iterable[dict[str, Any]]) -> dict[str, set[str]]:
    """What the golden ``cases`` exercise, by kind: listener and pool protocols, algorithms,
    persistence and monitor types, L7 actions, rule types and comparisons. A provider's golden
    test checks that this covers everything the provider says it supports."""
    seen: dict[str, set[str]] = {k: set() for k in (
        "listener_protocols", "pool_protocols", "algorithms", "persistence", "monitors",
        "l7_actions", "l7_rules", "l7_compare")}
    for case in cases:
        for p in case["pools"]:
            seen["pool_protocols"].add(p["protocol"])
            seen["algorithms"].add(p["lb_algorithm"])
            if p.get("session_persistence"):
                seen["persistence"].add(p["session_persistence"]["type"])
            if p.get("healthmonitor"):
                seen["monitors"].add(p["healthmonitor"]["type"])
        for x in case["listeners"]:
            seen["listener_protocols"].add(x["protocol"])
            for pol in x.get("l7policies", []):
                seen["l7_actions"].add(pol["action"])
                for r in pol["rules"]:
                    seen["l7_rules"].add(r["type"])
                    seen["l7_compare"].add(r["compare_type"])
    return seen
