"""Persistence: the PostgreSQL event store, its mapper, and the repositories on top of it."""
