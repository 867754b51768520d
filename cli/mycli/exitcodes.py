"""Exit codes of mycli itself (`mycli exec` otherwise mirrors the remote command's code)."""

OK = 0
FAILURE = 1  # the request failed: server error, network, unexpected answer
USAGE = 2  # bad option, argument or configuration (click uses 2 as well)
AUTH = 3  # missing, invalid or revoked key (401), or not allowed (403)
NOT_FOUND = 4
CONFLICT = 5  # a lock is held, or the thing already exists
EXEC_TIMED_OUT = 124
EXEC_COULD_NOT_RUN = 125  # `mycli exec` could not run the command (lock held, auth, network...)
EXEC_CANCELLED = 130

BY_HTTP_STATUS = {400: USAGE, 401: AUTH, 403: AUTH, 404: NOT_FOUND, 409: CONFLICT, 413: USAGE}


def for_http_status(status: int) -> int:
    return BY_HTTP_STATUS.get(status, FAILURE)
