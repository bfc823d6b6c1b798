"""The one table of names where the outside world forces two for one concept.

Octavia's API and octavia-lib say ``admin_state_up``, ``max_retries``, ``max_retries_down``,
``tenant_id`` and ``loadbalancer_id``; the database columns (as Octavia's own database does)
say ``enabled``, ``rise_threshold``, ``fall_threshold``, ``project_id`` and
``load_balancer_id``. Every translation (request bodies, filters and sorting, responses,
provider models) asks this table; no other module spells a pair.
"""

from __future__ import annotations

#: API / octavia-lib field name -> database column, where they differ.
API_TO_COLUMN: dict[str, str] = {
    "admin_state_up": "enabled",
    "max_retries": "rise_threshold",
    "max_retries_down": "fall_threshold",
    "tenant_id": "project_id",
    "loadbalancer_id": "load_balancer_id",
}


def column(api_name: str) -> str:
    """The column that holds API field ``api_name``."""
    return API_TO_COLUMN.get(api_name, api_name)


def renamed(*api_names: str) -> dict[str, str]:
    """``{api name: column}`` for the given fields (for tables that map a few of them)."""
    return {name: column(name) for name in api_names}
