"""`mycli doctor` against an API from before checks, which refuses `purpose` as an unknown
field (400): the doctor still runs its execution, as a plain run. The API here is the real
embedded one; only the refusal of `purpose` is played, word for word as the older API said it."""

from __future__ import annotations

from typing import Any

from cli_harness import CliHarness
from mycli.client import ApiClient
from mycli.commands.doctor import Doctor, Phase
from mycli.errors import ApiError


class OlderApi:
    """The embedded API, refusing `purpose` in a create as an API without checks does."""

    def __init__(self, client: ApiClient) -> None:
        self._client = client
        self.creates: list[dict[str, Any]] = []

    def get(self, path: str, **query: Any) -> Any:
        return self._client.get(path, **query)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        self.creates.append(dict(body or {}))
        if body and "purpose" in body:
            raise ApiError(
                400,
                "validation_error",
                "invalid request: purpose: unknown field",
                {"errors": ["purpose: unknown field"]},
            )
        return self._client.post(path, body)


def test_doctor_falls_back_to_a_plain_run_on_an_older_api(harness: CliHarness) -> None:
    api = OlderApi(ApiClient(harness.url, harness.user_key))
    phases: list[Phase] = []

    passed = Doctor(api, timeout=30, report=phases.append, poll=0.05).run()

    assert passed, phases
    assert ["purpose" in body for body in api.creates] == [True, False]
    listed = api.get("/executions")["items"]
    assert [e["command"] for e in listed] == ["echo mycli-doctor"]
