"""Setting a row's provisioning status in a test, as the API or a provider report leaves it.

Provisioning status is derived (``statera.db.models``): a PENDING_* status is the API's
request (``pending_status``), any other the provider's word for the row's current generation
(``reported_status``). Tests that stage a state call this instead of writing either column.
"""

from __future__ import annotations

from typing import Any

from statera.db import models as m
from statera.db.statuses import PENDING, ProvisioningStatus


def force_status(row: Any, status: str) -> None:
    """Make ``row`` read ``status`` now (stamp its generation first: a later one supersedes)."""
    if status in PENDING:
        row.pending_status = status
        row.reported_status = None
        return
    row.pending_status = ProvisioningStatus.PENDING_UPDATE.value
    row.reported_status = status
    generation = row.desired_generation if isinstance(row, m.LoadBalancer) else row.generation
    row.reported_generation = generation or 0
