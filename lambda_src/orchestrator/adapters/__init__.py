"""Implementations of the ports: `local` (SQLite, processes, files) and `aws`."""
