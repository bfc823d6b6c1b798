"""index tags by tag, for the tag filters of every list

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 02:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_tag_tag_resource_id', 'tag', ['tag', 'resource_id'])


def downgrade() -> None:
    op.drop_index('ix_tag_tag_resource_id', table_name='tag')
