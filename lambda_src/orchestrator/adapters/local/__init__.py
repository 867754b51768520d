"""Adapters for the embedded deployment: SQLite stores, a process runner, log files."""
