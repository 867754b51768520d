"""Run a program with SIGINT at its default disposition, unblocked: `python default_signals.py
PROGRAM ARG...`. A process inherits an ignored SIGINT across exec (a shell's background job, a
C `system()` running in another thread of the test's process), and Python then installs no
KeyboardInterrupt handler; the e2e tests that press Ctrl-C start the CLI through this, so
what they test is the CLI, not the signal state their own process happened to be in."""

import os
import signal
import sys

signal.signal(signal.SIGINT, signal.SIG_DFL)
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
os.execv(sys.argv[1], sys.argv[1:])
