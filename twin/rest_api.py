"""The template's REST API (AWS::ApiGateway::RestApi) as API Gateway would serve it: its
resources and methods (each a Lambda proxy integration), the stage, request validation
(required parameters, JSON bodies against the method's model, JSON Schema draft 4), the
gateway responses for errors the gateway itself answers, and the proxy event (REST, v1)."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from twin.resolver import Resolver
from twin.template import Template, TemplateError

_PARAMETER = re.compile(r"^\{([^}+]+)(\+?)\}$")
_SUPPORTED_AUTHORIZATION = ("NONE", None)


@dataclass(frozen=True)
class Route:
    method: str  # GET ... or ANY
    resource: str  # /executions/{execution_id}
    function: str  # the integration's AWS::Lambda::Function logical id
    required: frozenset[str] = frozenset()  # method.request.path.x / querystring.x / header.x
    model: Mapping[str, Any] | None = None  # the application/json body schema, if validated
    validate_parameters: bool = False

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when this route serves `method path` (path as sent)."""
        if self.method not in (method, "ANY"):
            return None
        wanted = [part for part in self.resource.split("/") if part]
        given = [part for part in path.split("/") if part]
        values: dict[str, str] = {}
        for index, part in enumerate(wanted):
            parameter = _PARAMETER.match(part)
            if parameter and parameter.group(2):  # {proxy+}: the rest of the path
                if index >= len(given):
                    return None
                values[parameter.group(1)] = "/".join(given[index:])
                return values
            if index >= len(given):
                return None
            if parameter:
                values[parameter.group(1)] = given[index]
            elif part != given[index]:
                return None
        return values if len(given) == len(wanted) else None


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    headers: Mapping[str, str]
    template: str

    def render(self, message: str) -> bytes:
        return self.template.replace("$context.error.messageString", json.dumps(message)).encode()


@dataclass
class RestApi:
    stage: str
    routes: list[Route] = field(default_factory=list)
    responses: dict[str, GatewayResponse] = field(default_factory=dict)
    binary_media_types: tuple[str, ...] = ()

    def sends_binary(self, accept: str | None) -> bool:
        """Whether a base64-flagged Lambda body goes out as bytes: API Gateway decodes it
        only when the request's Accept (its first media type) is one of the API's
        BinaryMediaTypes; otherwise the client gets the base64 text."""
        first = (accept or "").split(",")[0].split(";")[0].strip().lower()
        for listed in self.binary_media_types:
            kind = listed.lower()
            wildcard = kind.endswith("/*") and first.startswith(kind[:-1])
            if first and (kind in (first, "*/*") or wildcard):
                return True
        return False

    def route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        # A literal path part wins over a parameter, as API Gateway matches.
        candidates = []
        for route in self.routes:
            values = route.match(method, path)
            if values is not None:
                candidates.append((len(values), route.method == "ANY", route, values))
        if not candidates:
            return None
        candidates.sort(key=lambda item: (item[0], item[1]))
        return candidates[0][2], candidates[0][3]

    def error(self, kind: str, status: int, message: str) -> tuple[int, dict[str, str], bytes]:
        """A gateway response: the template's for `kind` (else DEFAULT_4XX/5XX), or API
        Gateway's own {"message": ...}."""
        default = "DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"
        response = self.responses.get(kind) or self.responses.get(default)
        if response is None:
            return (
                status,
                {"content-type": "application/json"},
                json.dumps({"message": message}).encode(),
            )
        headers = {"content-type": "application/json", **response.headers}
        return response.status or status, headers, response.render(message)


def load_rest_api(template: Template, resolver: Resolver) -> RestApi:
    """The API's routes and responses, from the template."""
    if any(template.of_type("AWS::ApiGatewayV2::Api")):
        raise TemplateError("the twin serves REST APIs (AWS::ApiGateway::RestApi) only")
    api_id, rest_api = template.one("AWS::ApiGateway::RestApi")
    _, stage = template.one("AWS::ApiGateway::Stage")
    paths = _resource_paths(template)
    models = {
        logical_id: props.get("Schema")
        for logical_id, props in template.of_type("AWS::ApiGateway::Model")
    }
    validators = dict(template.of_type("AWS::ApiGateway::RequestValidator"))
    api = RestApi(
        stage=resolver.text(stage["StageName"]),
        binary_media_types=tuple(rest_api.get("BinaryMediaTypes") or ()),
    )
    for logical_id, method in template.of_type("AWS::ApiGateway::Method"):
        if (
            method.get("HttpMethod") == "OPTIONS"
            and (method.get("Integration") or {}).get("Type") == "MOCK"
        ):
            continue
        if method.get("AuthorizationType") not in _SUPPORTED_AUTHORIZATION:
            raise TemplateError(
                f"{logical_id}: the twin does not implement AuthorizationType "
                f"{method.get('AuthorizationType')}"
            )
        resource_id = method["ResourceId"]
        resource = "/" if "Fn::GetAtt" in resource_id else paths[resource_id["Ref"]]
        validator = validators.get((method.get("RequestValidatorId") or {}).get("Ref", ""), {})
        model_ref = (method.get("RequestModels") or {}).get("application/json")
        model = models.get(model_ref["Ref"]) if isinstance(model_ref, dict) else None
        parameters = method.get("RequestParameters") or {}
        api.routes.append(
            Route(
                method=method["HttpMethod"],
                resource=resource,
                function=_integration_function(logical_id, method),
                required=frozenset(name for name, needed in parameters.items() if needed),
                model=model if validator.get("ValidateRequestBody") else None,
                validate_parameters=bool(validator.get("ValidateRequestParameters")),
            )
        )
    for _, response in template.of_type("AWS::ApiGateway::GatewayResponse"):
        if (response.get("RestApiId") or {}).get("Ref") != api_id:
            continue
        headers = {
            name.removeprefix("gatewayresponse.header.").lower(): value.strip("'")
            for name, value in (response.get("ResponseParameters") or {}).items()
        }
        api.responses[response["ResponseType"]] = GatewayResponse(
            status=int(response.get("StatusCode") or 0),
            headers=headers,
            template=(response.get("ResponseTemplates") or {}).get("application/json", ""),
        )
    return api


def invalid_request(route: Route, event: Mapping[str, Any]) -> tuple[str, str] | None:
    """(gateway response type, message) when API Gateway's validator refuses the request."""
    if route.validate_parameters:
        places = {
            "path": event.get("pathParameters") or {},
            "querystring": event.get("queryStringParameters") or {},
            "header": {k.lower(): v for k, v in (event.get("headers") or {}).items()},
        }
        for name in sorted(route.required):
            _, _, place, key = name.split(".", 3)
            found = places.get(place, {})
            if (key.lower() if place == "header" else key) not in found:
                return "BAD_REQUEST_PARAMETERS", f"Missing required request parameters: [{key}]"
    if route.model is not None:
        import jsonschema

        body = event.get("body") or ""
        if event.get("isBase64Encoded"):
            body = base64.b64decode(body).decode("utf-8", "replace")
        try:
            jsonschema.Draft4Validator(route.model).validate(json.loads(body or "null"))
        except (ValueError, jsonschema.ValidationError):
            return "BAD_REQUEST_BODY", "Invalid request body"
    return None


def proxy_event(
    api: RestApi,
    route: Route,
    values: Mapping[str, str],
    *,
    method: str,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
) -> dict[str, Any]:
    """API Gateway's REST proxy event (payload 1.0) for this request."""
    multi_query = parse_qs(query, keep_blank_values=True) if query else {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    try:
        text: str | None = body.decode("utf-8") if body else None
        encoded = False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    now = datetime.now(UTC)
    return {
        "resource": route.resource,
        "path": path,
        "httpMethod": method,
        "headers": {name: values_[-1] for name, values_ in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(values) or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": route.resource,
            "resourcePath": route.resource,
            "httpMethod": method,
            "requestId": str(uuid.uuid4()),
            "extendedRequestId": str(uuid.uuid4()),
            "path": f"/{api.stage}{path}",
            "stage": api.stage,
            "protocol": "HTTP/1.1",
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "accountId": "123456789012",
            "apiId": "twinapi",
            "domainName": "127.0.0.1",
            "identity": {"sourceIp": source_ip, "userAgent": _last(multi_headers, "user-agent")},
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def _last(headers: Mapping[str, list[str]], name: str) -> str | None:
    for key, values in headers.items():
        if key.lower() == name:
            return values[-1]
    return None


def _resource_paths(template: Template) -> dict[str, str]:
    resources = dict(template.of_type("AWS::ApiGateway::Resource"))
    paths: dict[str, str] = {}

    def path_of(logical_id: str) -> str:
        if logical_id not in paths:
            properties = resources[logical_id]
            parent = properties["ParentId"]
            prefix = "" if "Fn::GetAtt" in parent else path_of(parent["Ref"])
            paths[logical_id] = f"{prefix}/{properties['PathPart']}"
        return paths[logical_id]

    for logical_id in resources:
        path_of(logical_id)
    return paths


def _integration_function(logical_id: str, method: Mapping[str, Any]) -> str:
    integration = method.get("Integration") or {}
    if integration.get("Type") != "AWS_PROXY":
        raise TemplateError(f"{logical_id}: the twin serves Lambda proxy integrations only")
    found = _function_in(integration.get("Uri"))
    if found is None:
        raise TemplateError(f"{logical_id}: no Lambda function in its integration URI")
    return found


def _function_in(value: Any) -> str | None:
    if isinstance(value, Mapping):
        attribute = value.get("Fn::GetAtt")
        if isinstance(attribute, list) and attribute[1] == "Arn":
            return str(attribute[0])
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            found = _function_in(item)
            if found:
                return found
    return None
