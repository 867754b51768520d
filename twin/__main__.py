"""`python -m twin up | down | status`: see twin/cli.py."""

import sys

from twin.cli import main

sys.exit(main())
