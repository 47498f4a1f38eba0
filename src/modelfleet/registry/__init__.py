"""The lineage and registry store (PostgreSQL).

`tables` holds the SQLAlchemy schema (owned by the Alembic migrations in
`migrations/`); `entities` holds the plain objects the store returns; `store`
has one small module of queries per concept.
"""
