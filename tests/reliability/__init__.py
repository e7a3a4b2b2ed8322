"""Fault harness (issue 9): writer processes, server restarts, kills, maintenance alongside."""
