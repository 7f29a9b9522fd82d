"""conversations: the counsellors' sealed label

A nullable column added in place (ALTER TABLE … ADD COLUMN, no batch rebuild): rebuilding `conversation` would,
with foreign keys on, cascade into its messages on SQLite, and would renumber its random rowids.

Revision ID: conversations_0005
Revises: conversations_0004
Create Date: 2026-12-03 17:33:02.304723

"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = 'conversations_0005'
down_revision: str | Sequence[str] | None = 'conversations_0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# sqlmodel is imported because autogenerate writes sqlmodel.sql.sqltypes.AutoString.
_ = sqlmodel


def upgrade() -> None:
    op.add_column('conversation', sa.Column('sealed_label', sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    # Plain SQL on both databases (SQLite 3.35+ drops a column in place; no rebuild, see above).
    op.execute('ALTER TABLE conversation DROP COLUMN sealed_label')
