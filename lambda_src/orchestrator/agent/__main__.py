"""`python3 -m orchestrator.agent`: the run agent (see orchestrator/agent/run.py)."""

import sys

from orchestrator.agent.run import main

sys.exit(main())
