"""Two requests served at once in one process, as the local server's worker threads and the
twin's function instances serve them: each route sees its own request. Powertools keeps the
request on a class attribute shared by every resolver (BaseRouter.current_event), so without
the resolver's per-thread request one request's route could read the other's body."""

from __future__ import annotations

import threading
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router

from events import LambdaContext, rest_event
from orchestrator.api.app import build_resolver

WAIT_SECONDS = 10.0


def probe_router(barrier: threading.Barrier) -> Router:
    """A route answering the path and body it sees after the other request has begun."""
    router = Router()

    @router.post("/probe/<name>")
    def probe(name: str) -> dict[str, Any]:
        barrier.wait(WAIT_SECONDS)  # both requests are now inside their routes
        event = router.current_event
        return {"name": name, "path": event.path, "body": event.json_body}

    return router


def test_given_two_requests_at_once_then_each_route_reads_its_own_request() -> None:
    # Given one router in two resolvers (one per worker thread, as the local server builds)
    barrier = threading.Barrier(2)
    router = probe_router(barrier)
    resolvers = [build_resolver([router]) for _ in range(2)]
    answers: dict[str, Any] = {}

    def serve(index: int, name: str) -> None:
        event = rest_event("POST", f"/probe/{name}", body={"sent_by": name})
        answers[name] = resolvers[index].resolve(event, LambdaContext(name))

    # When both are served at once
    threads = [
        threading.Thread(target=serve, args=(index, name)) for index, name in enumerate("ab")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_SECONDS * 2)

    # Then each route saw its own path and body
    for name in "ab":
        assert answers[name]["statusCode"] == 200, answers[name]
        assert answers[name]["body"] == (
            f'{{"name":"{name}","path":"/probe/{name}","body":{{"sent_by":"{name}"}}}}'
        )
