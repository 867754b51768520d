"""moto's DynamoDB with each request atomic, as DynamoDB's are: moto checks a condition and then
writes without a lock, so two threads could both win a race DynamoDB settles; and a query or
scan walking a table's items while another thread adds one fails in moto ("dictionary changed
size during iteration") where DynamoDB answers."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler

_DYNAMODB_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
_DYNAMODB_READS = ("get_item", "query", "scan", "batch_get_item", "transact_get_items")
# moto's handlers read the written item again to answer (ReturnValues, ALL_NEW): under the
# same lock, or an UpdateItem's UPDATED_NEW could show another request's write.
_DYNAMODB_ANSWERED_WRITES = ("put_item", "update_item", "delete_item")
_dynamodb_request_lock = threading.RLock()


def _atomic(write: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(write)
    def atomically(*args: Any, **kwargs: Any) -> Any:
        with _dynamodb_request_lock:
            return write(*args, **kwargs)

    return atomically


@contextmanager
def atomic_dynamodb_requests() -> Iterator[None]:
    """For the block, every DynamoDB read and write of this process's moto is atomic."""
    with ExitStack() as patches:
        for name in (*_DYNAMODB_WRITES, *_DYNAMODB_READS):
            original = getattr(DynamoDBBackend, name)
            patches.enter_context(mock.patch.object(DynamoDBBackend, name, _atomic(original)))
        for name in _DYNAMODB_ANSWERED_WRITES:
            original = getattr(DynamoHandler, name)
            patches.enter_context(mock.patch.object(DynamoHandler, name, _atomic(original)))
        yield
