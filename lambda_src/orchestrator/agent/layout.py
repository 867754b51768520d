"""The run agent's contract with the rest of an AWS run: the task's two containers, the
files they share on the workspace volume, the agent's environment and the result it
reports. Shared by the agent, the command container's entry script (command_entry.sh),
the ECS runner, the task-events function, the CDK stack and the twin, so names cannot
drift apart. Standard library only: this runs inside the agent's container.

A run's task has two containers sharing the volume mounted at WORKSPACE:

- `agent` (essential; the agent image) reads the run's manifest through its presigned
  URL, unseals what is sealed with the run's KMS grant and retires it, checks out the git
  source, unpacks the upload, writes the command's inputs (below), makes the two output
  FIFOs and writes GO_FILE. It then reads stdout and stderr as raw bytes, masks secret
  values, stores the output as segments (orchestrator.output_segments) through the
  presigned POST policy in the manifest, and once the command has ended (EXIT_FILE) and
  its output is drained, writes the RESULT object and exits 0. Its exit ends the task.
- `command` (not essential; the user's image, which needs only `sh`) runs
  command_entry.sh: it waits for GO_FILE (or ABORT_FILE: setup failed, the command never
  runs), exports the env files, changes to CWD_FILE's directory and runs
  `/bin/sh COMMAND_FILE` with stdin from STDIN_FILE (else /dev/null), stdout and stderr into
  the FIFOs, then writes its exit code to EXIT_FILE. The entry itself holds both FIFOs
  open (it says so with STARTED_FILE) until it exits: once both streams have ended with no
  EXIT_FILE, the command container is gone without reporting (killed: SIGKILL, out of
  memory), and the agent reports the run without an exit code of its own (EXIT_UNKNOWN).

The command container may run as any user: the workspace is writable by all (sticky, so
no one removes another's files), the command's inputs and work tree readable by all.
"""

from __future__ import annotations

AGENT_CONTAINER = "agent"
COMMAND_CONTAINER = "command"

WORKSPACE = "/mycli"
# Written by the agent before GO_FILE; read by command_entry.sh.
COMMAND_FILE = "command"  # the command text, run as `/bin/sh command`
ENV_DIR = "env"  # one file per variable: its name, its value as the file's bytes
STDIN_FILE = "stdin"  # absent: the command reads /dev/null
CWD_FILE = "cwd"  # the absolute directory the command starts in
STDOUT_FIFO = "stdout"
STDERR_FIFO = "stderr"
GO_FILE = "go"  # appears (by rename) once everything above is in place
# Written by command_entry.sh (by rename) once it holds both FIFOs open for writing.
STARTED_FILE = "started"
ABORT_FILE = "abort"  # appears when setup failed: the command container exits at once
# Written by command_entry.sh: the command's exit code, once it has ended.
EXIT_FILE = "exit"
WORK_DIR = "work"  # the checkout and the unpacked upload; the default CWD
SCRATCH_DIR = "scratch"  # the agent's own (downloads, git's scratch)

# The agent container's environment: the task definition's, then RunTask's overrides.
EXECUTION_ID_VARIABLE = "MYCLI_EXECUTION_ID"  # override
MANIFEST_URL_VARIABLE = "MYCLI_MANIFEST_URL"  # override: presigned GET of the manifest
WORKSPACE_VARIABLE = "MYCLI_WORKSPACE"  # task definition (WORKSPACE)
# A warm task's overrides instead of the two above (docs/warm-runners.md): a presigned GET
# of its mailbox, and when that URL expires (UTC, ISO 8601: 2026-01-01T00:00:00.000Z).
MAILBOX_URL_VARIABLE = "MYCLI_MAILBOX_URL"
MAILBOX_UNTIL_VARIABLE = "MYCLI_MAILBOX_UNTIL"
MAX_UNPACKED_MIB_VARIABLE = "MYCLI_MAX_UNPACKED_MIB"  # task definition
MAX_UPLOAD_ENTRIES_VARIABLE = "MYCLI_MAX_UPLOAD_ENTRIES"  # task definition

# The agent's report, stored through the same POST policy as the output, under the run's
# output prefix: JSON {"v": 1, "exit_code": int|null, "git_commit": str|null,
# "failure": str|null, "truncated_at": int|null, "exit_unknown": str|null}. `failure` is
# why the run failed without its command's own exit (setup refused, the output store
# refused a write...); `exit_unknown` (with exit_code null) why the command's exit code is
# not known: the task's event then tells it (the command container's exitCode and reason).
RESULT_NAME = "result"
RESULT_VERSION = 1

# The agent's exit codes (its container's, in the STOPPED event), when it could not write
# a result: the manifest could not be read, or the agent itself failed.
AGENT_EXIT_NO_MANIFEST = 3
AGENT_EXIT_CRASHED = 4
# The output store refused a write (or could not be reached past the retries): the output
# is incomplete; the result says so when it could still be stored.
AGENT_EXIT_STORE_REFUSED = 5
# A warm task's agent ended with no assignment: its mailbox answered 403 or 404, or held
# something else than `waiting` or an assignment, or its URL expired, or it was stopped.
AGENT_EXIT_NO_ASSIGNMENT = 6
# The result's exit_unknown when the command container ended without writing EXIT_FILE.
COMMAND_CONTAINER_LOST = "the command's container stopped without reporting an exit code"
