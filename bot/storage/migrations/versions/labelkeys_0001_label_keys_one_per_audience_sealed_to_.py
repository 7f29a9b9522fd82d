"""label keys, one per audience, sealed to each counsellor

The inbox list opens every conversation label with one label key instead of two public-key operations per row
(`bot.security.label_keys`). No data moves here: labels of the first format (sealed to the conversation's key)
keep opening, and a counsellor re-seals them under the label key when their inbox is unlocked.

Revision ID: labelkeys_0001
Revises: 0001_tenancy
Create Date: 2026-12-04 02:13:13.798515

"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = 'labelkeys_0001'
down_revision: str | Sequence[str] | None = '0001_tenancy'
branch_labels: str | Sequence[str] | None = ('labelkeys',)
depends_on: str | Sequence[str] | None = None

# sqlmodel is imported because autogenerate writes sqlmodel.sql.sqltypes.AutoString.
_ = sqlmodel


def upgrade() -> None:
    op.create_table('label_key',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('counsellor_id', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_label_key_organisation_id_organisation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_label_key')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('label_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_label_key_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('label_key_share',
    sa.Column('label_key_id', sa.Uuid(), nullable=False),
    sa.Column('counsellor_id', sa.Uuid(), nullable=False),
    sa.Column('sealed_key', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['counsellor_id'], ['counsellor.id'], name=op.f('fk_label_key_share_counsellor_id_counsellor'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['label_key_id'], ['label_key.id'], name=op.f('fk_label_key_share_label_key_id_label_key'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('label_key_id', 'counsellor_id', name=op.f('pk_label_key_share')),
    sqlite_with_rowid=False
    )


def downgrade() -> None:
    op.drop_table('label_key_share')
    with op.batch_alter_table('label_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_label_key_organisation_id'))

    op.drop_table('label_key')
