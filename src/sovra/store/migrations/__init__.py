"""Alembic migrations.

Each room owns one branch rooted at ``root``; ``upgrade`` applies all heads.
"""
