"""library: English copies of Dutch become missing translations

Until now the console filled an empty English field with a copy of the Dutch on save, so after the Dutch was
edited English readers kept the old Dutch. An English field equal to its Dutch field is such a copy or, at most,
a text the counsellor typed identically in both languages; in both cases an English reader gets exactly the same
text after it is emptied (an empty English text falls back to the Dutch when sent), so emptying it changes no
message and lets later Dutch edits reach English readers. Fields are compared one by one, as they were copied.

Revision ID: library_0001
Revises: 0001_tenancy
Create Date: 2026-12-03 17:26:15.247743

"""

from collections.abc import Sequence

import sqlmodel
from alembic import op

revision: str = "library_0001"
down_revision: str | Sequence[str] | None = "0001_tenancy"
branch_labels: str | Sequence[str] | None = ("library",)
depends_on: str | Sequence[str] | None = ("console_0001",)

# sqlmodel is imported because autogenerate writes sqlmodel.sql.sqltypes.AutoString.
_ = sqlmodel

FIELDS = ("title", "summary", "body")


def upgrade() -> None:
    for field in FIELDS:
        op.execute(f"UPDATE console_item SET {field}_en = '' WHERE {field}_en = {field}_nl")  # noqa: S608


def downgrade() -> None:
    # The copies were what the old code would have sent: put them back so it behaves as before.
    for field in FIELDS:
        op.execute(f"UPDATE console_item SET {field}_en = {field}_nl WHERE {field}_en = ''")  # noqa: S608
