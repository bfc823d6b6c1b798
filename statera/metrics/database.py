"""Gauges read from the database when Prometheus scrapes: what every process shares.

These are facts about the whole deployment (how many load balancers are in each status), not
about one process, so only API processes (``statera serve``) export them. Each source is one
cheap aggregate query (a single GROUP BY) in a read-only session of its own, so a source whose
table is missing or whose query fails costs only its own series: the others are still served,
and ``statera_database_up`` says whether every source answered.

To add a source, write a function ``(session) -> iterable of metric families`` beside
:func:`load_balancer_families` and append it to :data:`SOURCES`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from statera.controller.placement import is_live
from statera.db.engine import Database
from statera.db.models import AgentHost, LoadBalancer
from statera.db.statuses import ProvisioningStatus

LOG = logging.getLogger(__name__)

#: One source of database-derived gauges: runs its query in ``session``, yields families.
Source = Callable[[Session], Iterable[Metric]]

LB_LABELS = ["provider", "provisioning_status", "operating_status"]


def load_balancer_families(session: Session) -> Iterator[Metric]:
    """``statera_loadbalancers``: load balancers by provider and status, as the API lists them
    (DELETED tombstones left out)."""
    family = GaugeMetricFamily(
        "statera_loadbalancers", "Load balancers by provider, provisioning status and "
        "operating status (as the API lists them: DELETED ones are not counted).",
        labels=LB_LABELS)
    query = (
        select(LoadBalancer.provider, LoadBalancer.provisioning_status,
               LoadBalancer.operating_status, func.count())
        .where(LoadBalancer.provisioning_status != ProvisioningStatus.DELETED.value)
        .group_by(LoadBalancer.provider, LoadBalancer.provisioning_status,
                  LoadBalancer.operating_status)
    )
    for provider, provisioning, operating, count in session.execute(query):
        family.add_metric([provider or "", provisioning, operating], count)
    yield family


def host_families(session: Session) -> Iterator[Metric]:
    """``statera_agent_hosts`` (hosts up and down) and, per host, whether it is up and how old
    its lease is: what an operator alerts on before a host's load balancers move. One label
    value per agent host, so the series stay as few as the hosts."""
    now = time.time()
    counts = GaugeMetricFamily(
        "statera_agent_hosts", "Agent hosts by state (down: no lease renewed within its "
        "down_after).", labels=["state"])
    up_family = GaugeMetricFamily(
        "statera_agent_host_up", "1 while the agent host's lease is renewed, else 0.",
        labels=["host"])
    age_family = GaugeMetricFamily(
        "statera_agent_host_lease_age_seconds", "Seconds since the agent host last renewed "
        "its lease.", labels=["host"])
    states = {"up": 0, "down": 0}
    for host in session.scalars(select(AgentHost).order_by(AgentHost.name)):
        live = is_live(host, now)
        states["up" if live else "down"] += 1
        up_family.add_metric([host.name], 1 if live else 0)
        age_family.add_metric([host.name], max(0.0, now - host.renewed_at))
    for state, count in states.items():
        counts.add_metric([state], count)
    yield from (counts, up_family, age_family)


#: The sources every scrape runs, in order.
SOURCES: tuple[Source, ...] = (load_balancer_families, host_families)


class DatabaseCollector(Collector):
    """A custom collector: queries at scrape time, so the values are never stale and no
    process has to keep them up to date."""

    def __init__(self, database: Database, sources: Sequence[Source] = SOURCES) -> None:
        self.database = database
        self.sources = tuple(sources)

    def describe(self) -> Iterable[Metric]:
        # Registering must not query the database: announce nothing (no name checks).
        return ()

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        up = 1
        for source in self.sources:
            try:
                with self.database.read_session() as session:
                    families = list(source(session))
            except Exception as exc:  # one failed query must not fail the whole scrape
                LOG.warning("metrics: %s failed: %s", getattr(source, "__name__", source),
                            str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                up = 0
                continue
            yield from families
        yield GaugeMetricFamily(
            "statera_database_up", "1 when every database query of this scrape answered.",
            value=up)
        yield GaugeMetricFamily(
            "statera_database_scrape_duration_seconds", "Time the database queries of this "
            "scrape took.", value=time.perf_counter() - started)
