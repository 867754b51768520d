"""The console's Lambda function against moto: its files and page without a key, with the
security headers, under the stage prefix; it builds no AWS client and reads no table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3

from events import rest_event
from lambda_harness import Lambdas
from moto_aws import REGION
from orchestrator.console import CONTENT_SECURITY_POLICY, SECURITY_HEADERS, STATIC_DIR

LAMBDA_SRC = Path(__file__).parents[2] / "lambda_src"


def headers(response: dict[str, Any]) -> dict[str, str]:
    """The response's headers, however the resolver put them (multiValueHeaders here)."""
    merged = dict(response.get("headers") or {})
    for name, values in (response.get("multiValueHeaders") or {}).items():
        merged.setdefault(name, ", ".join(values))
    return merged


def test_the_console_function_serves_its_page_and_files_without_a_key(lambdas: Lambdas) -> None:
    keys = boto3.client("dynamodb", region_name=REGION)
    before = keys.scan(TableName=lambdas.settings.api_keys_table)["Items"]

    page = lambdas.invoke("console", rest_event("GET", "/ui/executions/abc", key=None))
    script = lambdas.invoke("console", rest_event("GET", "/ui/app.js"))
    redirect = lambdas.invoke("console", rest_event("GET", "/ui"))
    missing = lambdas.invoke("console", rest_event("GET", "/ui/missing.js"))

    assert page["statusCode"] == 200
    assert headers(page)["Content-Type"] == "text/html; charset=utf-8"
    assert headers(page)["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert headers(page)["X-Content-Type-Options"] == "nosniff"
    assert headers(page)["Referrer-Policy"] == "no-referrer"
    assert 'src="../app.js"' in page["body"]
    assert script["statusCode"] == 200
    assert headers(script)["Content-Type"] == "text/javascript; charset=utf-8"
    assert script["body"] == (STATIC_DIR / "app.js").read_text()
    assert (redirect["statusCode"], headers(redirect)["Location"]) == (302, "ui/")
    assert missing["statusCode"] == 404
    assert keys.scan(TableName=lambdas.settings.api_keys_table)["Items"] == before  # no key use


def test_the_console_function_opens_nothing_else(lambdas: Lambdas) -> None:
    me = lambdas.invoke("console", rest_event("GET", "/me"))
    with_key = lambdas.invoke("console", rest_event("GET", "/me", key=lambdas.admin_key))

    assert (me["statusCode"], json.loads(me["body"])["error"]["code"]) == (401, "unauthorized")
    assert with_key["statusCode"] == 404  # the function has no other route


def test_the_console_files_ship_in_the_asset() -> None:
    # (that importing the console function loads no AWS client: tests/aws/test_packaging.py)
    shipped = {p.name for p in STATIC_DIR.iterdir()}
    assert {"index.html", "app.js", "terminal.js", "console.css"} <= shipped
    assert STATIC_DIR.is_relative_to(LAMBDA_SRC / "orchestrator")


def test_every_path_the_console_function_gets_carries_its_headers(lambdas: Lambdas) -> None:
    # API Gateway sends it every GET below /ui/ ({proxy+}), however deep or odd
    paths = ["/ui/a/b", "/ui/executions/a/b", "/ui/..%2f", "/ui/x.js", "/ui/\u200b", "/ui/a b"]
    for path in paths:
        response = lambdas.invoke("console", rest_event("GET", path))

        assert response["statusCode"] == 404, path
        assert headers(response)["Content-Type"] == "text/html; charset=utf-8", path
        for name, value in SECURITY_HEADERS.items():
            assert headers(response)[name] == value, (path, name)
    me = lambdas.invoke("console", rest_event("GET", "/me"))
    assert headers(me)["X-Content-Type-Options"] == "nosniff"
