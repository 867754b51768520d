"""Exit codes of mycli itself (`mycli exec` otherwise mirrors the remote command's code).

The README's table; errors.py is the one place that picks a code for an error."""

OK = 0
FAILURE = 1  # other commands: the request failed (server error, network, unexpected answer)
USAGE = 2  # bad option, argument, input or configuration (click uses 2 as well; server 400)
AUTH = 3  # missing, invalid or revoked key (401), or not allowed (403)
NOT_FOUND = 4
CONFLICT = 5  # a lock is held, the thing already exists, or too many executions running
EXEC_TIMED_OUT = 124
EXEC_COULD_NOT_RUN = 125  # lock held, failed to start, server restarted, connection lost
EXEC_CANCELLED = 130  # also Ctrl-C anywhere (128 + SIGINT)
SIGNAL_BASE = 128  # SIGTERM -> 143, SIGHUP -> 129

BY_HTTP_STATUS = {
    400: USAGE,
    401: AUTH,
    403: AUTH,
    404: NOT_FOUND,
    409: CONFLICT,
    413: USAGE,
    422: USAGE,  # idempotency_key_reused: the key already stands for another request
}


# Error codes whose exit code is not their HTTP status's.
BY_ERROR_CODE = {"too_many_executions": CONFLICT, "idempotency_key_reused": USAGE}


def for_http_status(status: int, code: str | None = None) -> int:
    if code in BY_ERROR_CODE:
        return BY_ERROR_CODE[code]
    return BY_HTTP_STATUS.get(status, FAILURE)


def for_signal(signum: int) -> int:
    return SIGNAL_BASE + signum
