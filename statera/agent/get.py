"""The get socket: provider agents read the desired state of an object (octavia.md §4.6).

The answer is the octavia-lib model as ``to_dict(recurse=True, render_unsets=True)``, or ``{}``
when there is nothing to serve. Statera serves the *desired* data plane: a load balancer being
deleted answers ``{}`` (so the agent tears it down and reports DELETED), and children being
deleted are left out of graphs.

The get socket only reads: one snapshot (``Database.snapshot_session``) per request, no row
lock, no write. Agents' resyncs read every load balancer of a host; had they written, each
read would queue behind the API's writes (and on SQLite take the one write turn). So:

* the generation served with a whole load-balancer graph, read in the same snapshot as the
  graph, is kept in the driver agent's memory (``statera.agent.served``), where the status
  socket of the same process finds it and completes exactly the changes the provider could
  have seen;
* placement is written elsewhere (at create, in every host's heartbeat, at failover:
  ``statera.controller.placement``); here it is only read.

Extension: ``{"object": "loadbalancer_ids", "provider": P}`` answers
``{"loadbalancer_ids": [...]}``, every load balancer of P that is not DELETED (those pending
deletion included, so the agent removes them), for start-up and periodic resyncs.

On an agent host (``HostScope``), a load balancer of a provider that runs local data planes is
served only to the host it is placed on: elsewhere, and while it is not placed yet, it answers
``{}`` (tear it down here) without recording a served generation, and the id list names only
this host's load balancers.

Extension for Statera's own agents: a load-balancer get carrying ``"statera_instance": true``
also answers, under that key, this host's instance of it (``role``, ``amphora_id``, and
``peers``: the ``vrrp_ip`` each other instance reported), or null when it is not placed.
octavia-lib never sends the flag, so its replies stay plain models it can build.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from octavia_lib.common import constants as lib_consts
from sqlalchemy import select

from statera.agent import dbgraph
from statera.agent.client import INSTANCE
from statera.agent.served import ServedGenerations
from statera.controller import placement
from statera.controller import provider_models as pm
from statera.controller.provider_models import CertLoader
from statera.db.engine import Database
from statera.db.models import (
    Amphora,
    HealthMonitor,
    L7Policy,
    Listener,
    LoadBalancer,
    Member,
    Pool,
)
from statera.db.statuses import DELETING, ProvisioningStatus

LOG = logging.getLogger(__name__)

LOADBALANCER_IDS = "loadbalancer_ids"

#: States in which a row (or one of its ancestors) has no place in the desired data plane.
GONE = DELETING

Reply = dict[str, Any]


@dataclass(frozen=True)
class HostScope:
    """The agent host a driver agent serves, and the providers placed on hosts that it runs
    (their load balancers are served only to their hosts)."""

    host: str
    providers: frozenset[str]

    def covers(self, provider: str | None) -> bool:
        return provider is not None and provider in self.providers


class GetHandler:
    """Answers one get-socket request; thread-safe (one read session per request)."""

    def __init__(self, database: Database, *, cert_loader: CertLoader | None = None,
                 scope: HostScope | None = None,
                 served: ServedGenerations | None = None) -> None:
        self.database = database
        self.cert_loader = cert_loader
        self.scope = scope
        #: What this handler served; the driver agent shares it with its status socket.
        self.served = served if served is not None else ServedGenerations()

    def __call__(self, request: dict[str, Any]) -> Reply:
        kind = request.get(lib_consts.OBJECT)
        if kind == LOADBALANCER_IDS:
            return self._loadbalancer_ids(request.get("provider"))
        obj_id = request.get(lib_consts.ID)
        if not isinstance(kind, str) or kind not in dbgraph.MODELS or not isinstance(obj_id, str):
            LOG.debug("get for unknown object %r / id %r answered with nothing", kind, obj_id)
            return {}
        try:
            return self._get(kind, obj_id,
                             with_instance=request.get(INSTANCE) is True
                             and kind == lib_consts.LOADBALANCERS)
        except Exception as exc:
            # Not {}: that would tell the provider the object should not exist, and it would
            # tear down a working data plane because of, say, a locked database. This reply
            # makes octavia-lib raise instead, so the agent retries later.
            LOG.exception("get %s %s failed", kind, obj_id)
            return {
                lib_consts.STATUS_CODE: lib_consts.DRVR_STATUS_CODE_FAILED,
                lib_consts.FAULT_STRING: f"could not read {kind} {obj_id}: {exc}",
            }

    def _get(self, kind: str, obj_id: str, with_instance: bool = False) -> Reply:
        whole = kind == lib_consts.LOADBALANCERS
        with self.database.snapshot_session() as session:
            lb_ids = dbgraph.owning_lb_ids(session, kind, [obj_id])
            _graphs = dbgraph.load_graphs(session, lb_ids)  # referenced while the graph is used
            row = dbgraph.get_row(session, kind, obj_id)
            if row is None:
                if whole:
                    self.served.forget(obj_id)
                return {}
            lb = dbgraph.owning_load_balancer(row)
            if not self._placed_here(session, lb):
                self.served.forget(lb.id)
                return {}
            # Only a whole-graph read proves the provider saw every change up to this
            # generation; a get of one child (say, a member mid-converge) proves nothing more.
            # Graph and generation come from one snapshot, so they are the same version.
            if row is lb:
                if lb.provisioning_status == ProvisioningStatus.DELETED:
                    self.served.forget(lb.id)
                else:
                    self.served.record(lb.id, lb.desired_generation)
            if any(r.provisioning_status in GONE for r in (row, *dbgraph.ancestors(row))):
                return {}
            # Built inside the transaction: the graph is lazily loaded from this session.
            model = self._model(row)
            instance = self._instance(session, lb) if with_instance else None
        # Certificates after the read: the store reads them in its own transaction.
        if self.cert_loader is not None:
            pm.fill_certificate_data(model, self.cert_loader)
        result: Reply = model.to_dict(recurse=True, render_unsets=True)
        if with_instance:
            result[INSTANCE] = instance
        return result

    def _instance(self, session: Any, lb: LoadBalancer) -> Reply | None:
        """This host's instance of ``lb`` and its peers' VRRP addresses (None: unplaced)."""
        scope = self.scope
        if scope is None or not scope.covers(lb.provider):
            return None
        amps = list(session.scalars(select(Amphora).where(Amphora.load_balancer_id == lb.id)
                                    .order_by(Amphora.id)))
        mine = next((a for a in amps if a.compute_id == scope.host), None)
        if mine is None:
            return None
        return {"role": mine.role or placement.STANDALONE, "amphora_id": mine.id,
                "peers": [a.vrrp_ip for a in amps if a is not mine and a.vrrp_ip]}

    def _placed_here(self, session: Any, lb: LoadBalancer) -> bool:
        """Whether this host may serve ``lb``: it is not placed, or placed here. A load
        balancer not placed yet is served nowhere until placement (at create or in a
        heartbeat) gives it a host, whose heartbeat then hints it there."""
        scope = self.scope
        if scope is None or not scope.covers(lb.provider):
            return True
        return placement.owns(session, scope.host, lb.id)

    @staticmethod
    def _model(row: dbgraph.GraphRow) -> Any:
        if isinstance(row, LoadBalancer):
            return pm.loadbalancer_model(row, graph=True)
        if isinstance(row, Listener):
            return pm.listener_model(row)
        if isinstance(row, Pool):
            return pm.pool_model(row)
        if isinstance(row, Member):
            return pm.member_model(row)
        if isinstance(row, HealthMonitor):
            return pm.healthmonitor_model(row)
        if isinstance(row, L7Policy):
            return pm.l7policy_model(row)
        return pm.l7rule_model(row)

    def _loadbalancer_ids(self, provider: Any) -> Reply:
        if not isinstance(provider, str) or not provider:
            return {LOADBALANCER_IDS: []}
        query = (select(LoadBalancer.id)
                 .where(LoadBalancer.provider == provider)
                 .where(LoadBalancer.provisioning_status != ProvisioningStatus.DELETED)
                 .order_by(LoadBalancer.id))
        if self.scope is not None and self.scope.covers(provider):
            query = query.where(LoadBalancer.id.in_(select(Amphora.load_balancer_id).where(
                Amphora.compute_id == self.scope.host)))
        with self.database.read_session() as session:
            ids = session.scalars(query).all()
        return {LOADBALANCER_IDS: list(ids)}
