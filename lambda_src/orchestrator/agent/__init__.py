"""The run agent: what prepares, watches and records one run on AWS."""
