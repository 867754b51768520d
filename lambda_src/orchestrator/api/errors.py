"""The one place where errors become HTTP responses: {"error": {code, message, details}}.

AWS throttling that outlasted botocore's own retries is answered 429 `throttled` with
`Retry-After`, not 500: recognised by the error's code, so botocore is not imported here."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from orchestrator.domain import errors
from orchestrator.domain.images import ROLE_ARN_PATTERN
from orchestrator.domain.models import (
    EMAIL_PATTERN,
    ENV_NAME_PATTERN,
    IMAGE_NAME_PATTERN,
    LOCK_NAME_PATTERN,
    SECRET_NAME_PATTERN,
)

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[errors.MycliError], HTTPStatus] = {
    errors.ValidationFailed: HTTPStatus.BAD_REQUEST,
    errors.Unauthorized: HTTPStatus.UNAUTHORIZED,
    errors.Forbidden: HTTPStatus.FORBIDDEN,
    errors.NotFound: HTTPStatus.NOT_FOUND,
    errors.Conflict: HTTPStatus.CONFLICT,
    errors.TooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    errors.IdempotencyKeyReused: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.Throttled: HTTPStatus.TOO_MANY_REQUESTS,
}


# The error codes botocore itself treats as throttling (botocore 1.44's
# retries/standard.py ThrottledRetryableChecker, also in data/_retry.json), from every
# service the functions call: DynamoDB, SSM, KMS, ECS, S3, CloudWatch Logs.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
# botocore has already backed off (adaptive retries, adapters/aws/clients.py): one second
# more lets AWS's per-second rate limits refill before the client tries again.
RETRY_AFTER_SECONDS = 1


class AwsThrottled(errors.Throttled):
    """An AWS call was still throttled after botocore's retries: 429, retry later."""

    def __init__(self, aws_code: str) -> None:
        super().__init__(
            f"the platform is busy (AWS throttled a request: {aws_code}); "
            f"retry in {RETRY_AFTER_SECONDS} s",
            {"retry_after_seconds": RETRY_AFTER_SECONDS},
        )


def as_throttled(error: BaseException) -> AwsThrottled | None:
    """`error` as AwsThrottled when it is an AWS error that means throttling (a code botocore
    retries as throttling, HTTP 429 with any code, or a DynamoDB transaction cancelled
    because one of its items was throttled); None otherwise."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return None
    code = str((response.get("Error") or {}).get("Code", ""))
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    if code in THROTTLING_CODES or status == HTTPStatus.TOO_MANY_REQUESTS:
        return AwsThrottled(code or "HTTP 429")
    reasons = response.get("CancellationReasons") or []
    if code == "TransactionCanceledException" and any(
        isinstance(reason, dict) and reason.get("Code") == "ThrottlingError" for reason in reasons
    ):
        return AwsThrottled("TransactionCanceledException: ThrottlingError")
    return None


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> str:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return json.dumps(body, separators=(",", ":"))


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=error_body(code, message, details),
        headers=headers,
    )


def proxy_error(error: errors.MycliError) -> dict[str, Any]:
    """`error` as an API Gateway proxy result, for errors raised before the resolver runs."""
    return {
        "statusCode": int(http_status_of(error)),
        "headers": {"Content-Type": "application/json", **headers_of(error)},
        "body": error_body(error.code, error.message, error.details),
        "isBase64Encoded": False,
    }


def headers_of(error: errors.MycliError) -> dict[str, str]:
    """The headers an error's answer carries besides the body's: Retry-After when waiting
    helps (AWS throttling; never a quota refusal, which lasts until a run ends)."""
    if isinstance(error, AwsThrottled):
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return {}


def http_status_of(error: errors.MycliError) -> HTTPStatus:
    for error_type in type(error).__mro__:
        if error_type in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[error_type]
    return HTTPStatus.INTERNAL_SERVER_ERROR


def answer_to(error: errors.MycliError) -> Response[str]:
    """The response for a domain error: its status, body and headers."""
    return error_response(
        http_status_of(error),
        error.code,
        error.message,
        error.details,
        headers=headers_of(error) or None,
    )


def register_error_handlers(app: ApiGatewayResolver) -> None:
    @app.exception_handler(errors.MycliError)
    def domain_error(error: errors.MycliError) -> Response[str]:
        return answer_to(error)

    @app.exception_handler(RequestValidationError)
    def invalid_request(error: RequestValidationError) -> Response[str]:
        problems = [_describe(problem) for problem in error.errors()]
        message = "invalid request: " + "; ".join(problems) if problems else "invalid request"
        return error_response(
            HTTPStatus.BAD_REQUEST, "validation_error", message, {"errors": problems}
        )

    @app.exception_handler(RequestUnsupportedContentType)
    def not_json(error: RequestUnsupportedContentType) -> Response[str]:
        return error_response(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON (Content-Type: application/json)",
        )

    @app.not_found
    def unknown_route(error: NotFoundError) -> Response[str]:
        event = app.current_event
        allowed = allowed_methods(app, event.path)
        if allowed:
            return error_response(
                HTTPStatus.METHOD_NOT_ALLOWED,
                "method_not_allowed",
                f"{event.http_method} is not allowed on {event.path}; use " + " or ".join(allowed),
                {"allowed": allowed},
                headers={"Allow": ", ".join(allowed)},
            )
        return error_response(
            HTTPStatus.NOT_FOUND,
            "not_found",
            f"no route for {event.http_method} {event.path}",
        )

    @app.exception_handler(Exception)
    def fault(error: Exception) -> Response[str]:
        throttled = as_throttled(error)
        if throttled is not None:
            logger.warning("AWS throttled a request after retries: %s", throttled.message)
            return answer_to(throttled)
        logger.exception("unhandled error")
        return error_response(
            HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "internal error; see server logs"
        )


def allowed_methods(app: ApiGatewayResolver, path: str) -> list[str]:
    """The methods of the routes whose path matches `path` (none: the path is unknown)."""
    routes = app._static_routes + app._dynamic_routes
    return sorted({route.method for route in routes if route.rule.match(path)})


# Patterns described for people: a message never shows a regex.
RULE_BY_PATTERN = {
    LOCK_NAME_PATTERN: "lock names are 1-128 characters of letters, digits and . _ / -",
    ENV_NAME_PATTERN: "names are letters, digits and _, not starting with a digit",
    EMAIL_PATTERN: "must be an email address",
    r"^[A-Za-z0-9_-]{1,64}$": "ids are 1-64 characters of letters, digits, _ and -",
    r"^[A-Za-z0-9._:-]{1,128}$": "1-128 characters of letters, digits and . _ : -",
    IMAGE_NAME_PATTERN: "image names are 1-63 lowercase letters, digits, _ and -",
    ROLE_ARN_PATTERN: "must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
    SECRET_NAME_PATTERN: "names are 1-128 characters of letters, digits and . _ -, "
    "not starting with . or -",
}


def _describe(problem: Any) -> str:
    location = ".".join(
        str(part) for part in problem.get("loc", ()) if part != "body" and not isinstance(part, int)
    )
    kind = problem.get("type", "")
    text = {
        "extra_forbidden": "unknown field",
        "missing": "required",
        "json_invalid": "body is not valid JSON",
        "json_too_deep": "body nests too deeply",
        "body_not_utf8": "body is not valid UTF-8",
    }.get(kind, problem.get("msg", kind))
    if kind == "value_error":  # raised by a validator: its message is the rule, in words
        text = str((problem.get("ctx") or {}).get("error", text))
    if kind == "string_pattern_mismatch":
        pattern = (problem.get("ctx") or {}).get("pattern", "")
        text = RULE_BY_PATTERN.get(pattern, "has characters that are not allowed")
    return f"{location}: {text}" if location else text
