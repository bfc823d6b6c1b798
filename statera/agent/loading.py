"""Finding provider agents: by entry-point name, or ``module:attribute`` for a child process.

Shared by the supervisor (thread mode) and the child side of process mode, which both need to
turn a name into the agent callable and to know whether it takes Statera's ``context``.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

ENTRY_POINT_GROUP = "octavia.driver_agent.provider_agents"

ProviderAgent = Callable[..., Any]
#: Finds the agent callable for a provider name; raises if there is none.
AgentLoader = Callable[[str], ProviderAgent]


def entry_point_loader(name: str) -> ProviderAgent:
    """The provider agent registered as ``name`` in ``octavia.driver_agent.provider_agents``."""
    matches = entry_points(group=ENTRY_POINT_GROUP, name=name)
    for entry_point in matches:
        agent: ProviderAgent = entry_point.load()
        return agent
    raise LookupError(f"no provider agent named {name!r} in entry-point group {ENTRY_POINT_GROUP}")


def load_target(target: str) -> ProviderAgent:
    """The agent callable named by ``target`` (entry-point name or ``module:attribute``)."""
    if ":" in target:
        module, _, attribute = target.partition(":")
        agent: ProviderAgent = getattr(importlib.import_module(module), attribute)
        return agent
    return entry_point_loader(target)


def wants_context(agent: ProviderAgent) -> bool:
    """Whether ``agent`` takes Statera's ``context`` keyword (third-party agents do not)."""
    try:
        return "context" in inspect.signature(agent).parameters
    except (TypeError, ValueError):  # builtins and some C callables have no signature
        return False
