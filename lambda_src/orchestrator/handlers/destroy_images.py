"""The custom resource Custom::ImageDefinitions. Images' task definitions are registered at
run time, so CloudFormation does not know them: when the stack is deleted, this deregisters
every one of them (EcsImagePlatform.deregister_all). Create and update do nothing.

CloudFormation waits for the answer at the event's ResponseURL (up to an hour), so every path
answers SUCCESS: a definition that could not be deregistered is logged, never a failed
delete that would leave the stack stuck half-destroyed."""

from __future__ import annotations

import json
import urllib.request
from typing import Any, cast

from aws_lambda_powertools.utilities.typing import LambdaContext

from orchestrator.adapters.aws.images import EcsImagePlatform
from orchestrator.handlers.runtime import logger, ports

# Stable across updates: a new id would make CloudFormation delete the "old" resource, which
# would deregister every image's definition in the middle of an upgrade.
PHYSICAL_ID = "image-definitions"
RESPONSE_TIMEOUT_SECONDS = 30


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deregistered: list[str] = []
    if event.get("RequestType") == "Delete":
        try:
            platform = cast(EcsImagePlatform, ports().image_platform)
            role = str(event["ResourceProperties"]["ExecutionRoleArn"])
            deregistered = platform.deregister_all(role)
        except Exception:  # answered all the same: see the module's docstring
            logger.exception("could not deregister every image task definition")
        logger.info("image task definitions deregistered", extra={"arns": deregistered})
    answer = {
        "Status": "SUCCESS",
        "Reason": f"see the logs of {context.function_name}",
        "PhysicalResourceId": event.get("PhysicalResourceId") or PHYSICAL_ID,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": {"Deregistered": len(deregistered)},
    }
    respond(str(event["ResponseURL"]), answer)
    return answer


def respond(url: str, answer: dict[str, Any]) -> None:
    """PUT the answer to CloudFormation's presigned S3 URL (signed for no content type)."""
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"not an HTTP(S) response URL: {url[:40]}")
    request = urllib.request.Request(
        url, data=json.dumps(answer).encode(), method="PUT", headers={"Content-Type": ""}
    )
    with urllib.request.urlopen(request, timeout=RESPONSE_TIMEOUT_SECONDS) as response:
        response.read()
