"""Provisioning status is derived (``statera.db.models``): the SQL expression that lists filter
and sort on must agree with the Python rule views render, in every state a report leaves."""

from __future__ import annotations

from octavia_lib.api.drivers import driver_lib
from sqlalchemy import select

from statera.db import models as m
from statera.db.engine import Database
from tests.agent.conftest import Graph, bump

MODELS = (m.LoadBalancer, m.Listener, m.Pool, m.Member, m.HealthMonitor, m.L7Policy, m.L7Rule)


def _both(database: Database) -> tuple[dict[str, str], dict[str, str]]:
    """Every object's status as SQL computes it and as Python computes it."""
    with database.session() as s:
        in_sql = {obj_id: status for model in MODELS for obj_id, status in
                  s.execute(select(model.id, model.provisioning_status))}
        in_python = {row.id: row.provisioning_status for model in MODELS
                     for row in s.scalars(select(model))}
    return in_sql, in_python


def test_sql_and_python_agree_through_a_converge(
    lib: driver_lib.DriverLibrary, database: Database, graph: Graph
) -> None:
    states = []
    bump(database, graph.lb, (m.Member, graph.member, "PENDING_CREATE"),
         (m.L7Rule, graph.l7rule, "PENDING_UPDATE"))
    states.append(_both(database))
    assert lib.get_loadbalancer(graph.lb) is not None  # served
    bump(database, graph.lb, (m.Pool, graph.pool2, "PENDING_UPDATE"),
         (m.HealthMonitor, graph.hm, "PENDING_DELETE"))
    lib.update_loadbalancer_status({"members": [
        {"id": graph.member2, "provisioning_status": "ERROR"}]})
    states.append(_both(database))
    lib.update_loadbalancer_status({"loadbalancers": [
        {"id": graph.lb, "provisioning_status": "ACTIVE"}]})
    states.append(_both(database))
    lib.update_loadbalancer_status({"loadbalancers": [
        {"id": graph.lb, "provisioning_status": "ERROR"}]})
    states.append(_both(database))
    assert lib.get_loadbalancer(graph.lb) is not None
    lib.update_loadbalancer_status({"loadbalancers": [
        {"id": graph.lb, "provisioning_status": "ACTIVE"}]})
    states.append(_both(database))
    for in_sql, in_python in states:
        assert in_sql == in_python
    final_sql, _ = states[-1]
    assert final_sql[graph.lb] == "ACTIVE"
    assert final_sql[graph.member] == "ACTIVE"
    assert final_sql[graph.member2] == "ERROR"  # a provider's ERROR stands until a new change
    assert graph.hm not in final_sql  # its delete was applied: the row is gone
    # The statuses every list filters on come from the same expression.
    with database.session() as s:
        assert set(s.scalars(select(m.Member.id).where(
            m.Member.provisioning_status == "ERROR"))) == {graph.member2}
