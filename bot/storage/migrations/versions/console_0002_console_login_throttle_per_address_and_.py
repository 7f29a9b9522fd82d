"""console: login throttle per address and client; organisations that require a second factor

Revision ID: console_0002
Revises: console_0001
Create Date: 2026-12-03 14:34:38.525477

"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = 'console_0002'
down_revision: str | Sequence[str] | None = 'console_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# sqlmodel is imported because autogenerate writes sqlmodel.sql.sqltypes.AutoString.
_ = sqlmodel


def upgrade() -> None:
    op.create_table('console_login_throttle',
    sa.Column('key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('blocked_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('last_failure', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_console_login_throttle'))
    )
    op.create_table('console_organisation_policy',
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('require_totp', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_console_organisation_policy_organisation_id_organisation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('organisation_id', name=op.f('pk_console_organisation_policy'))
    )


def downgrade() -> None:
    op.drop_table('console_organisation_policy')
    op.drop_table('console_login_throttle')
