"""The console's routes: its files and page without a key, with the security headers and
correct types, nothing else opened up, and nothing of it in the OpenAPI document."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from api_harness import ApiHarness
from events import LambdaContext, rest_event
from orchestrator.api.app import openapi_json
from orchestrator.console import (
    CONTENT_SECURITY_POLICY,
    SECURITY_HEADERS,
    STATIC_DIR,
    static_files,
)


def get(api: ApiHarness, path: str, method: str = "GET", **kwargs: Any) -> dict[str, Any]:
    event = rest_event(method, path, **kwargs)
    context = LambdaContext(event["requestContext"]["requestId"])
    response: dict[str, Any] = api.api.handle(event, context, api.services)  # type: ignore[arg-type]
    return response


def headers_of(response: dict[str, Any]) -> dict[str, str]:
    merged = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        merged.setdefault(name.lower(), ", ".join(values))
    return merged


def test_the_page_needs_no_key_and_carries_the_security_headers(api: ApiHarness) -> None:
    response = get(api, "/ui/")
    headers = headers_of(response)

    assert response["statusCode"] == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    for directive in ("default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"):
        assert directive in CONTENT_SECURITY_POLICY
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert '<script type="module" src="./app.js">' in response["body"]


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("app.js", "text/javascript; charset=utf-8"),
        ("terminal.js", "text/javascript; charset=utf-8"),
        ("console.css", "text/css; charset=utf-8"),
        ("icon.svg", "image/svg+xml"),
    ],
)
def test_files_are_served_with_their_types(api: ApiHarness, name: str, content_type: str) -> None:
    response = get(api, f"/ui/{name}")

    assert response["statusCode"] == 200
    assert headers_of(response)["content-type"] == content_type
    assert headers_of(response)["x-content-type-options"] == "nosniff"
    assert response["body"] == (STATIC_DIR / name).read_text()


def test_deep_links_get_the_page_with_links_back_to_the_files(api: ApiHarness) -> None:
    run = get(api, "/ui/executions/abc%2Fdef")
    locks = get(api, "/ui/locks")

    assert run["statusCode"] == locks["statusCode"] == 200
    assert 'src="../app.js"' in run["body"]
    assert 'src="./app.js"' in locks["body"]


def test_ui_without_a_slash_redirects_relative_so_a_stage_prefix_stays(api: ApiHarness) -> None:
    response = get(api, "/ui")
    assert response["statusCode"] == 302
    assert headers_of(response)["location"] == "ui/"


def test_unknown_names_are_a_404_page_and_no_file_outside_static_is_reachable(
    api: ApiHarness,
) -> None:
    for path in ("/ui/nope.js", "/ui/index.html", "/ui/..%2F__init__.py", "/ui/%2e%2e"):
        response = get(api, path)
        assert response["statusCode"] == 404, path
        assert headers_of(response)["content-type"] == "text/html; charset=utf-8"
        assert "Content-Security-Policy".lower() in headers_of(response)
    assert "__init__.py" not in static_files()


def test_nothing_but_getting_console_files_skips_the_key(api: ApiHarness) -> None:
    assert get(api, "/ui/", method="POST")["statusCode"] == 401
    assert get(api, "/ui/app.js", method="DELETE")["statusCode"] == 401
    for path in ("/uix", "/ui-me", "/me", "/executions", "/users", "/ui/../me"):
        response = get(api, path)
        assert response["statusCode"] in (401, 404), path
        assert "admin@example.com" not in response["body"], path
    assert get(api, "/ui/../me")["statusCode"] == 404  # a console path matches console routes only


def test_the_console_is_not_in_the_openapi_document() -> None:
    document = json.loads(openapi_json())
    assert not [path for path in document["paths"] if path.startswith("/ui")]
    committed = json.loads((Path(__file__).parents[2] / "docs" / "openapi.json").read_text())
    assert committed == document


def test_no_console_code_builds_html_from_strings() -> None:
    forbidden = re.compile(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
        r"setTimeout\(\s*['\"`]|\.style\s*=\s*['\"`]|style=\""
    )
    for path in STATIC_DIR.iterdir():
        if path.suffix in (".js", ".html"):
            text = path.read_text()
            assert not forbidden.search(text), (path.name, forbidden.search(text))
            if path.suffix == ".html":
                assert "<script>" not in text and "<style" not in text


ODD_CONSOLE_PATHS = (
    "/ui/a/b",
    "/ui/executions/a/b",
    "/ui/executions/a/b/c/",
    "/ui/..%2f",
    "/ui/x.js",
    "/ui/a%0Ab",
    "/ui/\u200b",
    "/ui/a\n<img src=x onerror=alert(1)>",
    "/ui/" + "a/" * 2000,
)


@pytest.mark.parametrize("path", ODD_CONSOLE_PATHS, ids=lambda path: repr(path[:20]))
def test_every_odd_console_path_is_the_404_page_with_the_console_headers(
    api: ApiHarness, path: str
) -> None:
    response = get(api, path)
    headers = headers_of(response)

    assert response["statusCode"] == 404
    assert headers["content-type"] == "text/html; charset=utf-8"
    for name, value in SECURITY_HEADERS.items():
        assert headers[name.lower()] == value, name
    assert "onerror" not in response["body"], "nothing of the path is reflected"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"])
def test_other_methods_under_ui_still_need_a_key_and_carry_the_console_headers(
    api: ApiHarness, method: str
) -> None:
    response = get(api, "/ui/a/b", method=method)

    assert response["statusCode"] == 401
    assert headers_of(response)["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_every_api_answer_says_nosniff_and_only_the_console_its_policy(api: ApiHarness) -> None:
    answers = [
        get(api, "/executions"),  # 401 before the resolver
        get(api, "/executions/x", key=api.alice_key),  # 404 from the domain
        get(api, "/nope", key=api.alice_key),  # 404: no route
        get(api, "/health", method="DELETE", key=api.alice_key),  # 405
        get(api, "/executions", method="POST", key=api.alice_key, raw_body="{"),  # 400
        get(api, "/health"),  # 200
    ]

    assert [answer["statusCode"] for answer in answers] == [401, 404, 404, 405, 400, 200]
    for answer in answers:
        headers = headers_of(answer)
        assert headers["x-content-type-options"] == "nosniff"
        assert "content-security-policy" not in headers
