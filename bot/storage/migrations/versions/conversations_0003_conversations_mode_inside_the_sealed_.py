"""conversations: mode inside the sealed data, no rowids

Revision ID: conversations_0003
Revises: conversations_0002
Create Date: 2026-12-03 14:44:47.489849

- `conversation.mode` goes: whether a name was shared is read from the sealed messages (an old pseudonymous
  conversation has its name in a sealed message of its own; new ones carry it inside the opening message).
- SQLite: the tables below `conversation` are rebuilt WITHOUT ROWID, their rows copied in the order of their random
  primary keys, so no hidden row number orders messages, key shares or classifications by the time they were
  written. The old tables' pages are zeroed as they are freed (secure_delete, see bot.storage.db).
  `conversation` itself keeps its rowid (rebuilding a table others refer to would, with foreign keys on, cascade
  into its messages): its rows get random row numbers instead, as new ones do from now on. PostgreSQL has no
  rowids.
"""
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = 'conversations_0003'
down_revision: str | Sequence[str] | None = 'conversations_0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# sqlmodel is imported because autogenerate writes sqlmodel.sql.sqltypes.AutoString.
_ = sqlmodel


def _leaf_tables() -> list[tuple[str, list[Any], list[tuple[str, list[str]]], str]]:
    """(name, columns and constraints, indexes, primary key order) of the tables nothing refers to."""
    return [
        (
            'conversation_message',
            [
                sa.Column('id', sa.Uuid(), nullable=False),
                sa.Column('conversation_id', sa.Uuid(), nullable=False),
                sa.Column('sequence', sa.Integer(), nullable=False),
                sa.Column('author', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
                sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
                sa.Column('day', sa.Date(), nullable=False),
                sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], name='fk_conversation_message_conversation_id_conversation', ondelete='CASCADE'),
                sa.PrimaryKeyConstraint('id', name='pk_conversation_message'),
                sa.UniqueConstraint('conversation_id', 'sequence', name='uq_conversation_message_sequence'),
            ],
            [('ix_conversation_message_conversation_id', ['conversation_id'])],
            'id',
        ),
        (
            'conversation_share',
            [
                sa.Column('conversation_id', sa.Uuid(), nullable=False),
                sa.Column('counsellor_id', sa.Uuid(), nullable=False),
                sa.Column('sealed_key', sa.LargeBinary(), nullable=False),
                sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], name='fk_conversation_share_conversation_id_conversation', ondelete='CASCADE'),
                sa.ForeignKeyConstraint(['counsellor_id'], ['counsellor.id'], name='fk_conversation_share_counsellor_id_counsellor', ondelete='CASCADE'),
                sa.PrimaryKeyConstraint('conversation_id', 'counsellor_id', name='pk_conversation_share'),
            ],
            [],
            'conversation_id, counsellor_id',
        ),
        (
            'conversation_classification',
            [
                sa.Column('id', sa.Uuid(), nullable=False),
                sa.Column('organisation_id', sa.Uuid(), nullable=False),
                sa.Column('conversation_id', sa.Uuid(), nullable=True),
                sa.Column('month', sa.Date(), nullable=False),
                sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
                sa.Column('contact_type', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
                sa.Column('follow_up', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
                sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], name='fk_conversation_classification_conversation_id_conversation', ondelete='SET NULL'),
                sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name='fk_conversation_classification_organisation_id_organisation', ondelete='CASCADE'),
                sa.PrimaryKeyConstraint('id', name='pk_conversation_classification'),
                sa.UniqueConstraint('conversation_id', name='uq_conversation_classification_conversation_id'),
            ],
            [
                ('ix_conversation_classification_month', ['month']),
                ('ix_conversation_classification_organisation_id', ['organisation_id']),
            ],
            'id',
        ),
        (
            'inbox_unlock',
            [
                sa.Column('id', sa.Uuid(), nullable=False),
                sa.Column('counsellor_id', sa.Uuid(), nullable=False),
                sa.Column('sealed_private', sa.LargeBinary(), nullable=False),
                sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
                sa.ForeignKeyConstraint(['counsellor_id'], ['counsellor.id'], name='fk_inbox_unlock_counsellor_id_counsellor', ondelete='CASCADE'),
                sa.PrimaryKeyConstraint('id', name='pk_inbox_unlock'),
            ],
            [('ix_inbox_unlock_counsellor_id', ['counsellor_id'])],
            'id',
        ),
    ]


def _rebuild_without_rowid(
    name: str, items: list[Any], indexes: list[tuple[str, list[str]]], order: str, with_rowid: bool
) -> None:
    columns = ', '.join(item.name for item in items if isinstance(item, sa.Column))
    scratch = f'_new_{name}'
    op.create_table(scratch, *items, sqlite_with_rowid=with_rowid)
    op.execute(f'INSERT INTO {scratch} ({columns}) SELECT {columns} FROM {name} ORDER BY {order}')  # noqa: S608
    for index, _columns in indexes:
        op.drop_index(index, table_name=name)
    op.drop_table(name)
    op.rename_table(scratch, name)
    for index, indexed in indexes:
        op.create_index(index, name, indexed, unique=False)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:
        # A plain column drop (SQLite ≥ 3.35): batch mode would rebuild `conversation`, and dropping it with foreign
        # keys on deletes every message and key share through ON DELETE CASCADE.
        op.execute('ALTER TABLE conversation DROP COLUMN mode')
        # Random 62-bit row numbers, as bot.storage.conversations gives new rows (children refer to `id`, not rowid).
        op.execute('UPDATE conversation SET rowid = (abs(random()) % 4611686018427387904) + 1')
        for name, items, indexes, order in _leaf_tables():
            _rebuild_without_rowid(name, items, indexes, order, with_rowid=False)
    else:
        op.drop_column('conversation', 'mode')


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:
        for name, items, indexes, order in _leaf_tables():
            _rebuild_without_rowid(name, items, indexes, order, with_rowid=True)
    # Which conversations were pseudonymous is no longer known outside the sealed data: all come back anonymous.
    op.add_column(
        'conversation',
        sa.Column('mode', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default='anonymous'),
    )
