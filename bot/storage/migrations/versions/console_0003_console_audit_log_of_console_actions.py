"""console: audit log of console actions

Revision ID: console_0003
Revises: console_0002
Create Date: 2026-12-03 17:24:58.891881

"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = 'console_0003'
down_revision: str | Sequence[str] | None = 'console_0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# sqlmodel is imported because autogenerate writes sqlmodel.sql.sqltypes.AutoString.
_ = sqlmodel


def upgrade() -> None:
    op.create_table('console_audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('actor_account_id', sa.Uuid(), nullable=True),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=True),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.ForeignKeyConstraint(['actor_account_id'], ['console_account.id'], name=op.f('fk_console_audit_actor_account_id_console_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_console_audit_organisation_id_organisation'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_console_audit'))
    )
    with op.batch_alter_table('console_audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_audit_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_console_audit_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_console_audit_organisation_id'), ['organisation_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('console_audit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_audit_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_console_audit_at'))
        batch_op.drop_index(batch_op.f('ix_console_audit_action'))

    op.drop_table('console_audit')
