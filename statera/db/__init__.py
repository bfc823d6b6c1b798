"""Persistence: SQLAlchemy models, the engine/session factory and Alembic migrations.

Nothing here knows about HTTP or providers; the API and the driver agent both use it.
"""
