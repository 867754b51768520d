"""mycli's server side: domain, ports, adapters and the API shared by both deployments."""

__version__ = "0.1.0"
