"""Member changes through HAProxy's runtime API instead of a reload.

Given the applied view (as saved in ``view.json``) and the new one, :func:`runtime_plan` returns
the runtime commands that turn the running process into the new configuration, or None when
something other than servers changed or HAProxy 2.6 cannot do it at run time. What 2.6 allows:

- weight, admin state (ready/maint) and address/port of an existing server, in any backend;
- ``add server`` / ``del server`` only in backends with a dynamic algorithm (roundrobin,
  leastconn, consistent hashing: the view uses consistent hashing for SOURCE_IP[_PORT]) and
  without ``cookie`` (HTTP_COOKIE persistence); ``del server`` also needs the server in
  maintenance and without connections, otherwise the command fails and the caller reloads.

A server whose other options changed (backup, checks, TLS) is deleted and added again.
New servers start in maintenance; checks are enabled and the server made ready afterwards.
:func:`sync_plan` is the subset for servers that stay: it is applied before a reload so the
``servers-state`` file handed to the new process agrees with the new configuration.
"""

from __future__ import annotations

import json
from typing import Any

from statera.providers.haproxy import render, view

Command = tuple[str, tuple[str, ...]]  # (command, reply markers meaning success)
RUNTIME_FIELDS = ("weight", "enabled", "address", "port")


def as_json(lb_view: view.LBView) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(render.view_to_json(lb_view)))
    return data


def _without_servers(data: dict[str, Any]) -> str:
    stripped = dict(data)
    stripped["backends"] = [{k: v for k, v in b.items() if k != "servers"}
                            for b in data.get("backends", [])]
    return json.dumps(stripped, sort_keys=True)


def _update_commands(backend: str, old: dict[str, Any], new: view.ServerView) -> list[Command]:
    target = f"{backend}/{new.name}"
    commands: list[Command] = []
    if (old["address"], old["port"]) != (new.address, new.port):
        commands.append((f"set server {target} addr {new.address.strip('[]')} port {new.port}",
                         ("changed", "no need")))
    if old["weight"] != new.weight:
        commands.append((f"set server {target} weight {new.weight}", ()))
    if old["enabled"] != new.enabled:
        state = "ready" if new.enabled else "maint"
        commands.append((f"set server {target} state {state}", ()))
    return commands


def _add_commands(backend: str, server: view.ServerView) -> list[Command]:
    target = f"{backend}/{server.name}"
    commands: list[Command] = [(
        f"add server {target} {server.address}:{server.port} {render.server_args(server)}",
        ("New server registered",))]
    if server.check:
        commands.append((f"enable health {target}", ()))
    if server.enabled:
        commands.append((f"set server {target} state ready", ()))
    return commands


def _del_commands(backend: str, name: str) -> list[Command]:
    target = f"{backend}/{name}"
    return [(f"set server {target} state maint", ()), (f"del server {target}", ("deleted",))]


def _same_except_runtime(old: dict[str, Any], new: dict[str, Any]) -> bool:
    return all(old.get(k) == new.get(k) for k in new if k not in RUNTIME_FIELDS)


def runtime_plan(old: dict[str, Any] | None, new: view.LBView) -> list[Command] | None:
    """Commands that apply ``new`` to a process running ``old``, or None (reload needed)."""
    if old is None:
        return None
    new_data = as_json(new)
    if _without_servers(old) != _without_servers(new_data):
        return None
    old_backends = {b["name"]: b for b in old.get("backends", [])}
    commands: list[Command] = []
    for backend, new_b in zip(new.backends, new_data["backends"], strict=True):
        old_servers = {s["name"]: s for s in old_backends[backend.name]["servers"]}
        new_servers = {s["name"]: s for s in new_b["servers"]}
        for server in backend.servers:
            before = old_servers.get(server.name)
            after = new_servers[server.name]
            if before is not None and _same_except_runtime(before, after):
                commands.extend(_update_commands(backend.name, before, server))
                continue
            if not backend.dynamic:
                return None
            if before is not None:
                commands.extend(_del_commands(backend.name, server.name))
            commands.extend(_add_commands(backend.name, server))
        for name in sorted(set(old_servers) - set(new_servers)):
            if not backend.dynamic:
                return None
            commands.extend(_del_commands(backend.name, name))
    return commands


def sync_plan(old: dict[str, Any] | None, new: view.LBView) -> list[Command]:
    """Weight/state/address commands for servers present in both ``old`` and ``new``."""
    if old is None:
        return []
    old_backends = {b["name"]: b for b in old.get("backends", [])}
    commands: list[Command] = []
    new_data = as_json(new)
    for backend, new_b in zip(new.backends, new_data["backends"], strict=True):
        old_b = old_backends.get(backend.name)
        if old_b is None:
            continue
        old_servers = {s["name"]: s for s in old_b["servers"]}
        for server, after in zip(backend.servers, new_b["servers"], strict=True):
            before = old_servers.get(server.name)
            if before is not None and _same_except_runtime(before, after):
                commands.extend(_update_commands(backend.name, before, server))
    return commands
