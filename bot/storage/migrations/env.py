"""Alembic environment. vipbot runs migrations in-process and hands a connection over in `config.attributes`."""

from __future__ import annotations

from alembic import context

from bot.storage.metadata import target_metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `vipbot db upgrade`, which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=target_metadata(),
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
