"""Kept for `bench/server.py`, which finds the test server here; tests use tests.support.pg."""

from tests.support.pg import ROOT, server_dsn

__all__ = ["ROOT", "server_dsn"]
