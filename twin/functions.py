"""The template's Python Lambda functions, run in this process: each function's handler is
imported from lambda_src by its handler string and called with a Lambda context.

As Lambda gives each concurrent invocation an execution environment of its own, a function
here has a pool of instances (each a fresh import of its handler module: module-level state
such as a Powertools resolver is never shared by two requests); an invocation takes a free
instance or makes one. Every function of this process shares os.environ: the twin sets the
functions' (resolved) environment once and refuses a template whose functions differ.

Lambda's Invoke of one of these functions (by name or ARN: the pool manager, invoked
asynchronously to refill a pool) runs it here too: `serving_invokes`."""

from __future__ import annotations

import importlib
import importlib.util
import io
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from botocore.client import BaseClient
from botocore.response import StreamingBody

from twin.resolver import Resolver
from twin.template import Template, TemplateError

Handler = Callable[[dict[str, Any], Any], Any]
MAX_INSTANCES = 16
# How long closing the twin waits for asynchronous invocations still running.
ASYNC_DRAIN_SECONDS = 30.0
_invoking = threading.local()
logger = logging.getLogger("twin.functions")


def in_function() -> bool:
    """Whether this thread is running a function's handler (the fault hooks ask)."""
    return bool(getattr(_invoking, "depth", 0))


@contextmanager
def invoking() -> Iterator[None]:
    """For the block, this thread runs a function's handler."""
    _invoking.depth = getattr(_invoking, "depth", 0) + 1
    try:
        yield
    finally:
        _invoking.depth -= 1


@dataclass(frozen=True)
class LambdaContext:
    """What a handler (Powertools) reads from Lambda's context object."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


class Function:
    """One AWS::Lambda::Function: its handler string, name, ARN and instances."""

    def __init__(self, logical_id: str, handler: str, name: str, arn: str, memory: int) -> None:
        self.logical_id = logical_id
        self.handler = handler
        self.name = name
        self.arn = arn
        self.memory = memory
        self._free: list[Handler] = []
        self._count = 0
        self._lock = threading.Condition()

    def invoke(self, event: Mapping[str, Any]) -> Any:
        """Call the handler with `event` on a free instance (waits when MAX_INSTANCES run)."""
        handler = self._acquire()
        try:
            with invoking():
                return handler(dict(event), LambdaContext(self.name, self.arn, self.memory))
        finally:
            with self._lock:
                self._free.append(handler)
                self._lock.notify()

    def _acquire(self) -> Handler:
        with self._lock:
            while not self._free and self._count >= MAX_INSTANCES:
                self._lock.wait()
            if self._free:
                return self._free.pop()
            self._count += 1
            number = self._count
        try:
            return load_handler(self.handler, number)
        except BaseException:
            with self._lock:
                self._count -= 1
                self._lock.notify()
            raise


def load_handler(handler: str, instance: int = 1) -> Handler:
    """`package.module.attribute` → the callable; instance > 1 imports the module afresh."""
    module_name, _, attribute = handler.rpartition(".")
    if instance == 1:
        module = importlib.import_module(module_name)
    else:
        spec = importlib.util.find_spec(module_name)
        if spec is None or spec.loader is None:
            raise TemplateError(f"cannot import {module_name}")
        fresh = importlib.util.spec_from_file_location(
            f"{module_name}__instance{instance}", spec.origin
        )
        if fresh is None or fresh.loader is None:
            raise TemplateError(f"cannot import {module_name}")
        module = importlib.util.module_from_spec(fresh)
        fresh.loader.exec_module(module)
    found: Handler = getattr(module, attribute)
    return found


def load_functions(template: Template, resolver: Resolver) -> dict[str, Function]:
    """The template's Python functions by logical id (others, e.g. CDK's Node.js custom
    resource providers, are not part of what the twin serves)."""
    functions: dict[str, Function] = {}
    for logical_id, properties in template.of_type("AWS::Lambda::Function"):
        if not str(properties.get("Runtime", "")).startswith("python"):
            continue
        arn = resolver.text({"Fn::GetAtt": [logical_id, "Arn"]})
        functions[logical_id] = Function(
            logical_id,
            str(properties["Handler"]),
            resolver.text({"Ref": logical_id}),
            arn,
            int(properties.get("MemorySize") or 128),
        )
    return functions


def shared_environment(template: Template, resolver: Resolver) -> dict[str, str]:
    """The Python functions' environment (resolved), which must be the same for all."""
    found: dict[str, str] | None = None
    first = ""
    for logical_id, properties in template.of_type("AWS::Lambda::Function"):
        if not str(properties.get("Runtime", "")).startswith("python"):
            continue
        variables = (properties.get("Environment") or {}).get("Variables") or {}
        resolved = {name: resolver.text(value) for name, value in variables.items()}
        if found is None:
            found, first = resolved, logical_id
        elif resolved != found:
            differing = sorted(
                name for name in set(found) | set(resolved) if found.get(name) != resolved.get(name)
            )
            raise TemplateError(
                f"the twin runs every function in one process; {first} and {logical_id} "
                f"differ in their environment: {', '.join(differing)}"
            )
    return found or {}


def apply_environment(environment: Mapping[str, str]) -> None:
    os.environ.update(environment)


@contextmanager
def serving_invokes(functions: Mapping[str, Function]) -> Iterator[None]:
    """For the block, Lambda Invoke calls of this process naming one of `functions` (by
    name or ARN) run it here, as Lambda would: `Event` on a thread of its own, answered 202
    at once (a failure is logged: the twin's async invokes are not retried, as the stack's
    pool manager's are not); `RequestResponse` in the caller, answered 200 with the
    handler's result. Other Invokes go on to moto. On exit, waits for the running ones."""
    known = {f.name: f for f in functions.values()} | {f.arn: f for f in functions.values()}
    original = BaseClient._make_api_call
    running: list[threading.Thread] = []
    guard = threading.Lock()

    def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        function = known.get(str(params.get("FunctionName")))
        if operation != "Invoke" or client.meta.service_model.service_name != "lambda":
            function = None
        if function is None:
            return original(client, operation, params)
        event = json.loads(params.get("Payload") or b"{}")
        if params.get("InvocationType") == "Event":
            thread = threading.Thread(
                target=_invoke_logged,
                args=(function, event),
                name=f"twin-invoke-{function.name}",
                daemon=True,
            )
            with guard:
                running[:] = [t for t in running if t.is_alive()] + [thread]
            thread.start()
            return {"StatusCode": 202, "ResponseMetadata": {"HTTPStatusCode": 202}}
        answer = json.dumps(function.invoke(event)).encode()
        return {
            "StatusCode": 200,
            "Payload": StreamingBody(io.BytesIO(answer), len(answer)),
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }

    with mock.patch.object(BaseClient, "_make_api_call", make_api_call):
        try:
            yield
        finally:
            with guard:
                left = list(running)
            for thread in left:
                thread.join(ASYNC_DRAIN_SECONDS)


def _invoke_logged(function: Function, event: dict[str, Any]) -> None:
    try:
        function.invoke(event)
    except Exception:
        logger.exception("the asynchronous invocation of %s failed", function.name)
