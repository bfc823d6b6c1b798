"""Octavia's provisioning and operating statuses: one enum each, used by every layer.

Provisioning status says whether the data plane has applied the latest desired state;
operating status is observed health. Provisioning status is not stored: :func:`derive` computes
it from what the API asked for and what the provider reported, each stamped with a generation
(``statera.db.models`` holds the columns and the same rule as SQL). Values are Octavia's (from
octavia-lib), so they are stored and returned as they are. Providers, which never import the
database, use octavia-lib's constants directly: the same strings.
"""

from __future__ import annotations

from enum import StrEnum

from octavia_lib.common import constants as lib_consts


class ProvisioningStatus(StrEnum):
    """Octavia's provisioning statuses (the amphora-only ones included, as Octavia's DB does)."""

    ACTIVE = lib_consts.ACTIVE
    ERROR = lib_consts.ERROR
    DELETED = lib_consts.DELETED
    PENDING_CREATE = lib_consts.PENDING_CREATE
    PENDING_UPDATE = lib_consts.PENDING_UPDATE
    PENDING_DELETE = lib_consts.PENDING_DELETE
    ALLOCATED = lib_consts.AMPHORA_ALLOCATED
    BOOTING = lib_consts.AMPHORA_BOOTING
    READY = lib_consts.AMPHORA_READY
    FAILOVER_STOPPED = lib_consts.AMPHORA_FAILOVER_STOPPED


class OperatingStatus(StrEnum):
    ONLINE = lib_consts.ONLINE
    OFFLINE = lib_consts.OFFLINE
    DEGRADED = lib_consts.DEGRADED
    ERROR = lib_consts.ERROR
    DRAINING = lib_consts.DRAINING
    NO_MONITOR = lib_consts.NO_MONITOR


#: Statuses in which a change waits for the data plane.
PENDING = frozenset(
    {
        ProvisioningStatus.PENDING_CREATE,
        ProvisioningStatus.PENDING_UPDATE,
        ProvisioningStatus.PENDING_DELETE,
    }
)

#: Statuses of an object that is going away: it takes no more changes.
DELETING = frozenset({ProvisioningStatus.PENDING_DELETE, ProvisioningStatus.DELETED})


#: Pending statuses that a load balancer's ACTIVE report completes (PENDING_DELETE rows are
#: removed by it instead).
COMPLETED_BY_ACTIVE = frozenset(
    {ProvisioningStatus.PENDING_CREATE, ProvisioningStatus.PENDING_UPDATE})


def derive(
    *,
    pending: str,
    generation: int,
    reported: str | None,
    reported_generation: int,
    applied: int,
    served: int | None,
) -> str:
    """An object's provisioning status, from its two writers' columns and its load balancer's
    generations.

    ``pending``/``generation`` are the API's: the change last requested and the desired
    generation that requested it. ``reported``/``reported_generation`` are the status socket's:
    the provider's last word about the object and the object's generation it spoke for.
    ``applied``/``served`` are the load balancer's. The provider's word stands until the API
    asks for something newer; a load balancer's ACTIVE report completes every pending create or
    update of a generation it applied without writing them (when it was ever served a
    generation: otherwise Octavia's plain semantics, where only named objects change).
    """
    covered = reported is not None and reported_generation >= generation
    if covered and reported not in PENDING:
        return str(reported)
    effective = str(reported) if covered else pending
    if served is not None and generation <= applied and effective in COMPLETED_BY_ACTIVE:
        return str(ProvisioningStatus.ACTIVE.value)
    return effective
