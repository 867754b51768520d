"""Plain-Python domain: models, lifecycle rules, errors and services (no I/O of its own)."""
