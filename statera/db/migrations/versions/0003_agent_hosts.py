"""agent hosts and their leases; amphorae looked up by host (placement)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'agent_host',
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('providers', sa.JSON(), nullable=False),
        sa.Column('availability_zone', sa.String(length=255), nullable=True),
        sa.Column('capacity', sa.Integer(), nullable=False),
        sa.Column('renewed_at', sa.Double(), nullable=False),
        sa.Column('down_after', sa.Double(), nullable=False),
        sa.Column('incarnation', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('name'),
    )
    op.create_index('ix_amphora_compute_id', 'amphora', ['compute_id'])


def downgrade() -> None:
    op.drop_index('ix_amphora_compute_id', table_name='amphora')
    op.drop_table('agent_host')
