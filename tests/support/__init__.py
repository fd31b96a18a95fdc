"""Helpers shared by every room's tests (one place, not a copy per conftest)."""
