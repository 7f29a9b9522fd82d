"""conversations: portal sessions that signing out can end

Revision ID: conversations_0002
Revises: conversations_0001
Create Date: 2026-12-03 14:34:38.525477

"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = 'conversations_0002'
down_revision: str | Sequence[str] | None = 'conversations_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# sqlmodel is imported because autogenerate writes sqlmodel.sql.sqltypes.AutoString.
_ = sqlmodel


def upgrade() -> None:
    op.create_table('portal_session',
    sa.Column('token_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('reveal_code', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_portal_session_organisation_id_organisation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_portal_session'))
    )
    with op.batch_alter_table('portal_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_session_organisation_id'), ['organisation_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('portal_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_session_organisation_id'))
    op.drop_table('portal_session')
