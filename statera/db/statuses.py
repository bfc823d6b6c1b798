"""Octavia's provisioning and operating statuses: one enum each, used by every layer.

Provisioning status says whether the data plane has applied the latest desired state;
operating status is observed health. Values are Octavia's (from octavia-lib), so they are
stored and returned as they are. Providers, which never import the database, use octavia-lib's
constants directly: the same strings.
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
