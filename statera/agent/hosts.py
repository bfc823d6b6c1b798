"""This agent host: its record and lease, its placement passes, and fencing.

Every driver agent that runs provider agents registers a host record (``statera.db.models
.AgentHost``) and renews its lease every ``[agent] heartbeat_interval`` seconds from a thread
of its own. Each heartbeat also:

* runs a placement pass (``statera.controller.placement.schedule``): load balancers with no
  instance are placed (a create places its own; this places what was created while no host
  could run it, and the get socket places nothing: it only reads), and instances on hosts
  whose lease ran out move to live hosts; any live host may do it, the host rows' locks make
  one pass at a time;
* compares the load balancers placed on this host with the last heartbeat's, and hints this
  host's provider agents about every one that came or went, so a rescheduled load balancer
  converges on its new host within a heartbeat (whatever the bus), and one that left is
  torn down here (the get socket answers nothing for a load balancer placed elsewhere).

Fencing: a host whose last renewal is older than ``down_after`` (the process was paused, the
database unreachable) has lost its lease, and others may have taken its load balancers. Before
it renews, it hints every load balancer it ran and no longer owns, so those data planes stop;
a restarted agent does the same in its first resync (``ReconcileLoop`` removes strays before
converging the rest).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import select

from statera.config import Settings
from statera.controller import placement
from statera.db.engine import Database
from statera.db.models import AgentHost, utcnow

LOG = logging.getLogger(__name__)

#: ``hint(provider, lb_id)``: ask this host's provider agent to converge a load balancer.
Hint = Callable[[str, str], None]
#: A full placement pass every this many heartbeats, whatever the quick check says.
FULL_PASS_EVERY = 30


class HostLease:
    """Registers this host, renews its lease, schedules and fences (see the module)."""

    def __init__(self, settings: Settings, database: Database, providers: list[str],
                 hint: Hint) -> None:
        self.name = settings.agent_host
        self.settings = settings.agent
        self.database = database
        self.providers = sorted(providers)
        self.hint = hint
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._owned: set[tuple[str, str]] | None = None
        self._last_renewal = 0.0  # monotonic time of the last successful renewal
        self._beats = 0
        self._hosts: tuple[object, ...] | None = None  # the hosts as the last beat saw them
        #: Times this host found its lease lost and fenced (for tests and operators).
        self.fences = 0

    # Life cycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Renew from a thread of its own (``register`` comes first, before the agents)."""
        self._thread = threading.Thread(target=self._run, name="agent-host-lease", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing. The record stays: a restart within ``down_after`` keeps every
        placement (the data planes may well still be serving)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def register(self) -> None:
        """Create or refresh this host's record and take the lease."""
        with self.database.session() as session:
            row = session.scalars(select(AgentHost).where(AgentHost.name == self.name)
                                  .with_for_update()).first()
            if row is None:
                row = AgentHost(name=self.name, incarnation=0, created_at=utcnow())
                session.add(row)
            row.providers = self.providers
            row.availability_zone = self.settings.availability_zone or None
            row.capacity = self.settings.capacity
            row.down_after = self.settings.down_after
            row.incarnation = (row.incarnation or 0) + 1
            row.renewed_at = time.time()
            row.updated_at = utcnow()
            session.flush()
            # What the provider agents' first resync will be given: the first heartbeat hints
            # whatever a placement pass moved away in between.
            self._owned = placement.owned(session, self.name)
        self._last_renewal = time.monotonic()
        LOG.info("agent host %s registered (providers: %s, zone: %s)", self.name,
                 ", ".join(self.providers) or "none", self.settings.availability_zone or "-")

    # Heartbeats ---------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.wait(self.settings.heartbeat_interval):
            try:
                self.heartbeat()
            except Exception:  # the database may be away: try again next beat
                LOG.exception("agent host %s: heartbeat failed", self.name)

    def heartbeat(self) -> None:
        """Fence if the lease was lost, renew it, run a placement pass, hint what changed."""
        if time.monotonic() - self._last_renewal > self.settings.down_after:
            self.fence()
        self.renew()
        self.place()
        self.follow_placement()

    def renew(self) -> None:
        with self.database.session() as session:
            row = session.get(AgentHost, self.name)
            if row is None:  # removed by an operator: register again
                session.rollback()
                self.register()
                return
            row.renewed_at = time.time()
        self._last_renewal = time.monotonic()

    def place(self) -> None:
        """One placement pass; every load balancer that moved is hinted to its provider."""
        lb_ids = self._to_place()
        if lb_ids is not None and not lb_ids:
            return
        with self.database.session() as session:
            result = placement.schedule(session, lb_ids)
        for provider, lb_id in result.changed:
            self.hint(provider, lb_id)

    def _to_place(self) -> list[str] | None:
        """The load balancers this beat's pass is for (None: all of them), from a cheap
        unlocked check: a quiet system takes no host lock per beat, and a busy one locks and
        reads only the few load balancers created or stranded since the last beat, not every
        one (a pass over 1,000 held SQLite's writer lock, and the API's writes behind it, for
        tens of milliseconds every beat while load balancers were being created). A full pass
        comes every ``FULL_PASS_EVERY`` beats, and whenever the hosts changed, for what the
        check does not see, such as an ACTIVE_STANDBY pair still missing its second host."""
        self._beats += 1
        with self.database.read_session() as session:
            found = placement.pending(session)
        hosts_changed, self._hosts = found.hosts != self._hosts, found.hosts
        if self._beats % FULL_PASS_EVERY == 0 or hosts_changed:
            return None
        return found.lb_ids

    def follow_placement(self) -> None:
        """Hint every load balancer placed on or taken from this host since the last beat."""
        with self.database.read_session() as session:
            now_owned = placement.owned(session, self.name)
        before, self._owned = self._owned or set(), now_owned
        for provider, lb_id in sorted(now_owned ^ before):
            self.hint(provider, lb_id)

    def fence(self) -> None:
        """The lease ran out: stop serving what this host no longer owns, first."""
        self.fences += 1
        with self.database.read_session() as session:
            now_owned = placement.owned(session, self.name)
        lost = (self._owned or set()) - now_owned
        LOG.warning("agent host %s lost its lease (no renewal for more than %.1f s); fencing "
                    "%d load balancer(s) placed elsewhere meanwhile", self.name,
                    self.settings.down_after, len(lost))
        for provider, lb_id in sorted(lost):
            self.hint(provider, lb_id)
        self._owned = now_owned
