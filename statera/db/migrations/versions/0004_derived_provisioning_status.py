"""provisioning status derived: pending_status (the API's) and reported_status (the provider's)

Every object's stored ``provisioning_status`` had two writers (the API and the status socket).
It becomes ``pending_status``, the change the API last requested, beside ``reported_status``
and ``reported_generation``, what the provider last reported and for which of the object's
generations; the provisioning status is derived from them and the load balancer's generations
(``statera.db.statuses.derive``). Existing rows convert exactly: a non-pending status becomes
the provider's word for the row's current generation, a pending one stays the API's request.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = "('PENDING_CREATE', 'PENDING_UPDATE', 'PENDING_DELETE')"

#: Each table, the column its generation is compared with, and how its load balancer's
#: generations are reached (``{col}``: the load balancer's column).
TABLES: dict[str, tuple[str, str]] = {
    'load_balancer': ('desired_generation', 'load_balancer.{col}'),
    'listener': ('generation', '(SELECT lb.{col} FROM load_balancer lb '
                               'WHERE lb.id = listener.load_balancer_id)'),
    'pool': ('generation', '(SELECT lb.{col} FROM load_balancer lb '
                           'WHERE lb.id = pool.load_balancer_id)'),
    'member': ('generation', '(SELECT lb.{col} FROM load_balancer lb JOIN pool p '
                             'ON p.load_balancer_id = lb.id WHERE p.id = member.pool_id)'),
    'health_monitor': ('generation', '(SELECT lb.{col} FROM load_balancer lb JOIN pool p '
                                     'ON p.load_balancer_id = lb.id '
                                     'WHERE p.id = health_monitor.pool_id)'),
    'l7policy': ('generation', '(SELECT lb.{col} FROM load_balancer lb JOIN listener li '
                               'ON li.load_balancer_id = lb.id '
                               'WHERE li.id = l7policy.listener_id)'),
    'l7rule': ('generation', '(SELECT lb.{col} FROM load_balancer lb JOIN listener li '
                             'ON li.load_balancer_id = lb.id JOIN l7policy po '
                             'ON po.listener_id = li.id WHERE po.id = l7rule.l7policy_id)'),
}


def upgrade() -> None:
    for table, (generation, _owner) in TABLES.items():
        op.alter_column(table, 'provisioning_status', new_column_name='pending_status',
                        existing_type=sa.String(length=16), existing_nullable=False)
        op.add_column(table, sa.Column('reported_status', sa.String(length=16), nullable=True))
        op.add_column(table, sa.Column('reported_generation', sa.Integer(), nullable=False,
                                       server_default='0'))
        op.execute(
            f"UPDATE {table} SET reported_status = pending_status, "
            f"reported_generation = {generation}, pending_status = 'PENDING_UPDATE' "
            f"WHERE pending_status NOT IN {PENDING}")


def downgrade() -> None:
    # Children first: their derived status reads the load balancer's columns, which stay.
    for table, (generation, owner) in reversed(TABLES.items()):
        applied, served = owner.format(col='applied_generation'), owner.format(
            col='served_generation')
        covered = f"(reported_status IS NOT NULL AND reported_generation >= {generation})"
        effective = f"(CASE WHEN {covered} THEN reported_status ELSE pending_status END)"
        op.execute(
            f"UPDATE {table} SET pending_status = CASE "
            f"WHEN {covered} AND reported_status NOT IN {PENDING} THEN reported_status "
            f"WHEN {served} IS NOT NULL AND {generation} <= {applied} "
            f"AND {effective} IN ('PENDING_CREATE', 'PENDING_UPDATE') THEN 'ACTIVE' "
            f"ELSE {effective} END")
        op.drop_column(table, 'reported_generation')
        op.drop_column(table, 'reported_status')
        op.alter_column(table, 'pending_status', new_column_name='provisioning_status',
                        existing_type=sa.String(length=16), existing_nullable=False)
