"""teams: conversation references for proactive messages

Revision ID: teams_0001
Revises: 0001_tenancy
Create Date: 2026-11-21 14:30:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = 'teams_0001'
down_revision: str | Sequence[str] | None = '0001_tenancy'
branch_labels: str | Sequence[str] | None = ('teams',)
depends_on: str | Sequence[str] | None = None

# sqlmodel is imported because autogenerate writes sqlmodel.sql.sqltypes.AutoString.
_ = sqlmodel


def upgrade() -> None:
    op.create_table('teams_conversation',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('team_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_teams_conversation_organisation_id_organisation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teams_conversation')),
    sa.UniqueConstraint('address', name=op.f('uq_teams_conversation_address'))
    )
    with op.batch_alter_table('teams_conversation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_teams_conversation_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_teams_conversation_team_key'), ['team_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('teams_conversation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_teams_conversation_team_key'))
        batch_op.drop_index(batch_op.f('ix_teams_conversation_organisation_id'))

    op.drop_table('teams_conversation')
