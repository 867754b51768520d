"""Execution logs from CloudWatch Logs (the awslogs driver's stream of each task)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from orchestrator.adapters.aws.clients import error_code
from orchestrator.domain.errors import ValidationFailed
from orchestrator.domain.models import Execution, LogEvent, LogPage, utc_iso

# get_log_events can answer an empty page with a new token while events remain further on.
MAX_EMPTY_HOPS = 10


class CloudWatchLogReader:
    def __init__(self, logs: Any, log_group: str) -> None:
        self._logs = logs
        self._log_group = log_group

    def read(self, execution: Execution, cursor: str | None, limit: int) -> LogPage:
        """The cursor is CloudWatch's forward token. At the end of the stream CloudWatch
        hands back the token it was given: the page is empty and the cursor stays put, so
        a follower polls the same place until new lines arrive."""
        token = cursor or None
        request: dict[str, Any] = {
            "logGroupName": self._log_group,
            "logStreamName": execution.log_stream_name,
            "startFromHead": True,
            "limit": limit,
        }
        for _ in range(MAX_EMPTY_HOPS):
            if token:
                request["nextToken"] = token
            try:
                response = self._logs.get_log_events(**request)
            except ClientError as error:
                if error_code(error) == "ResourceNotFoundException":
                    return LogPage(events=[], next_cursor=cursor or "")
                if error_code(error) == "InvalidParameterException" and cursor:
                    raise ValidationFailed("invalid log cursor", {"cursor": cursor}) from error
                raise
            events = [
                LogEvent(
                    timestamp=utc_iso(datetime.fromtimestamp(e["timestamp"] / 1000, UTC)),
                    message=e["message"].rstrip("\n"),
                )
                for e in response.get("events", [])
            ]
            next_token: str = response["nextForwardToken"]
            if events or next_token == token:
                return LogPage(events=events, next_cursor=next_token)
            token = next_token
        return LogPage(events=[], next_cursor=token or "")
