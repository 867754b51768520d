"""Lambda entry points: one module per API route, plus task events and the reaper.

Each is a few lines: it serves the shared router of its resource through `runtime`."""
