"""Storage: SQLModel tables, the async engine, repositories and Alembic migrations.

SQLModel and SQLAlchemy stay inside this package; the rest of vipbot sees domain values.
"""
