"""The git checkout step: one POSIX sh script, orchestrator/agent/checkout.sh, run by the
embedded runner on the host and by the run agent on AWS, so both check out the same way.

The script fetches only what the run needs: `git init`, then `git fetch --depth 1` of the
ref (a branch or tag name, the remote's default branch without one, or a full commit id;
a server that refuses an unadvertised commit is fetched in full instead), then a detached
checkout. It prints the resolved commit as `mycli-git-commit: SHA` on stdout, and on
failure a one-line reason starting with `mycli: ` on stderr (no credential is ever in it).

Git runs with no user or system configuration (an empty HOME, GIT_CONFIG_NOSYSTEM,
GIT_CONFIG_GLOBAL=/dev/null), no prompt (GIT_TERMINAL_PROMPT=0, ssh BatchMode), and only
the https, http, ssh and file transports. A credential arrives in the environment
(MYCLI_GIT_CREDENTIAL); it never reaches a command line or the URL: an HTTPS token becomes
an `Authorization: Basic` header through GIT_CONFIG_COUNT/KEY/VALUE, a private key
(`-----BEGIN ...`) a 0600 file for ssh, deleted when the script ends. A credential
`USER:TOKEN` authenticates as USER; a bare TOKEN as `x-access-token` (GitHub's convention;
GitLab and others accept any user name). git sends that header with every request wherever
it goes, so with it no redirect is followed (`http.followRedirects=false`, on every
request): a redirect fails the checkout with where it led (`URL redirected to LOCATION:
...`, never with the credential in it), and the credential reaches only the scheme, host
and port named. Without a credential, redirects are followed as git does by default.

Inputs (environment): MYCLI_GIT_URL, MYCLI_GIT_REF, MYCLI_GIT_SUBDIR, MYCLI_GIT_TARGET (an
empty directory), MYCLI_GIT_SCRATCH (a private directory for HOME and the key), and
MYCLI_GIT_CREDENTIAL. Both hosts build the step with orchestrator.agent.setup.checkout_step."""

from __future__ import annotations

import re

COMMIT_LINE_PREFIX = "mycli-git-commit: "
REASON_PREFIX = "mycli: "
_COMMIT_LINE = re.compile(rf"^{COMMIT_LINE_PREFIX}([0-9a-f]{{40}}|[0-9a-f]{{64}})$", re.MULTILINE)


def commit_of(stdout: str) -> str | None:
    """The commit a checkout printed (`mycli-git-commit: SHA`), None when it printed none."""
    found = _COMMIT_LINE.search(stdout)
    return found.group(1) if found else None


def reason_of(stderr: str, exit_code: int) -> str:
    """Why a checkout failed: its last `mycli: ` line, else its exit code."""
    reasons = [
        line[len(REASON_PREFIX) :].strip()
        for line in stderr.splitlines()
        if line.startswith(REASON_PREFIX)
    ]
    if reasons and reasons[-1]:
        return f"git checkout failed: {reasons[-1]}"
    return f"git checkout failed: the checkout step exited with code {exit_code}"
