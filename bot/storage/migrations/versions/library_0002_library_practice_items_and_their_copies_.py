"""library: practice items and their copies, codes of conduct

Revision ID: library_0002
Revises: library_0001
Create Date: 2026-12-03 17:35:04.452076

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = "library_0002"
down_revision: str | Sequence[str] | None = "library_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# sqlmodel is imported because autogenerate writes sqlmodel.sql.sqltypes.AutoString.
_ = sqlmodel


def upgrade() -> None:
    op.create_table(
        "organisation_conduct",
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=True),
        sa.Column("document_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_organisation_conduct_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organisation_id", name=op.f("pk_organisation_conduct")),
        sa.UniqueConstraint("token", name=op.f("uq_organisation_conduct_token")),
    )
    op.create_table(
        "practice_item",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("theme", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("reading_minutes", sa.Integer(), nullable=False),
        sa.Column("title_nl", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("title_en", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("summary_nl", sa.Text(), nullable=False),
        sa.Column("summary_en", sa.Text(), nullable=False),
        sa.Column("body_nl", sa.Text(), nullable=False),
        sa.Column("body_en", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["console_account.id"],
            name=op.f("fk_practice_item_updated_by_console_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practice_item")),
        sa.UniqueConstraint("kind", "slug", name="uq_practice_item_slug"),
    )
    op.create_table(
        "practice_copy",
        sa.Column("practice_item_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("console_item_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["console_item_id"],
            ["console_item.id"],
            name=op.f("fk_practice_copy_console_item_id_console_item"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_practice_copy_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["practice_item_id"],
            ["practice_item.id"],
            name=op.f("fk_practice_copy_practice_item_id_practice_item"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("practice_item_id", "organisation_id", name=op.f("pk_practice_copy")),
    )
    with op.batch_alter_table("practice_copy", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_practice_copy_console_item_id"), ["console_item_id"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("practice_copy", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_practice_copy_console_item_id"))

    op.drop_table("practice_copy")
    op.drop_table("practice_item")
    op.drop_table("organisation_conduct")
