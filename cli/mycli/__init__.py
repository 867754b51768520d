"""mycli: run commands on a shared execution platform, with every run recorded and named locks."""

__version__ = "0.1.0"
