"""The run agent: what prepares, watches and records one run on AWS (`python3 -m
orchestrator.agent`), and the core it shares with the embedded runner (the byte pump, the
setup steps, the checkout program). The shell programs' paths are in
orchestrator.agent.scripts (CHECKOUT_SCRIPT_PATH, COMMAND_ENTRY_SCRIPT_PATH)."""
