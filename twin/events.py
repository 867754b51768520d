"""The template's EventBridge rules, run by the twin:

- an event-pattern rule receives the stand-in's "ECS Task State Change" events; a matching
  event goes to each of the rule's Lambda targets, in order, from one thread (a failing
  invocation is retried as the target's RetryPolicy allows, at most twice as Lambda's
  asynchronous invocation does, then sent to the target's dead-letter queue);
- a schedule rule (`rate(...)`) invokes its targets on that schedule (or a given interval)."""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from twin.functions import Function
from twin.resolver import Resolver
from twin.template import Template, TemplateError

logger = logging.getLogger("twin.events")
MAX_ASYNC_RETRIES = 2
RETRY_DELAY_SECONDS = 0.5
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Target:
    function: Function
    retries: int
    dead_letter_arn: str | None


@dataclass(frozen=True)
class Rule:
    name: str
    targets: tuple[Target, ...]
    pattern: Mapping[str, Any] | None = None
    every_seconds: float | None = None


def load_rules(
    template: Template, resolver: Resolver, functions: Mapping[str, Function]
) -> list[Rule]:
    rules = []
    by_arn = {function.arn: function for function in functions.values()}
    for logical_id, properties in template.of_type("AWS::Events::Rule"):
        if properties.get("State", "ENABLED") != "ENABLED":
            continue
        targets = []
        for target in properties.get("Targets") or []:
            arn = resolver.text(target["Arn"])
            if arn not in by_arn:
                raise TemplateError(f"{logical_id}: the twin runs Lambda targets only ({arn})")
            dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn")
            retries = (target.get("RetryPolicy") or {}).get("MaximumRetryAttempts", 2)
            targets.append(
                Target(
                    by_arn[arn],
                    min(int(retries), MAX_ASYNC_RETRIES),
                    resolver.text(dead_letter) if dead_letter else None,
                )
            )
        schedule = properties.get("ScheduleExpression")
        rules.append(
            Rule(
                name=logical_id,
                targets=tuple(targets),
                pattern=resolver.resolve(properties["EventPattern"])
                if "EventPattern" in properties
                else None,
                every_seconds=rate_seconds(schedule) if schedule else None,
            )
        )
    return rules


def rate_seconds(expression: str) -> float:
    match = _RATE.match(expression.strip())
    if match is None:
        raise TemplateError(f"the twin runs rate(...) schedules only, not {expression}")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """EventBridge's matching: every field of the pattern must match the event's."""
    for key, wanted in pattern.items():
        present = key in event
        value = event.get(key)
        if isinstance(wanted, Mapping):
            if not isinstance(value, Mapping) or not matches(wanted, value):
                return False
        elif not any(_matches_one(option, present, value) for option in wanted):
            return False
    return True


def _matches_one(option: Any, present: bool, value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    if isinstance(option, Mapping):
        if "exists" in option:
            return bool(option["exists"]) == present
        if "prefix" in option:
            return any(isinstance(v, str) and v.startswith(option["prefix"]) for v in values)
        if "anything-but" in option:
            refused = option["anything-but"]
            refused = refused if isinstance(refused, list) else [refused]
            return present and all(v not in refused for v in values)
        raise TemplateError(f"the twin does not evaluate the event filter {option}")
    return present and option in values


class EventBus:
    """Delivers events to the rules' targets from one thread, in the order they came."""

    def __init__(
        self,
        rules: list[Rule],
        dead_letters: Callable[[str, dict[str, Any]], None],
        fault: Callable[[dict[str, Any]], None] | None = None,
    ):
        """`fault(event)`: a test hook that raises when a delivery must fail."""
        self._rules = [rule for rule in rules if rule.pattern is not None]
        self._dead_letters = dead_letters
        self._fault = fault
        self._queue: queue.Queue[dict[str, Any] | threading.Event | None] = queue.Queue()
        self._thread = threading.Thread(target=self._deliver_all, name="twin-events", daemon=True)
        self._thread.start()

    def put(self, event: dict[str, Any]) -> None:
        self._queue.put(event)

    def flush(self, timeout: float = 30.0) -> bool:
        """Whether every event put so far was delivered within `timeout`."""
        delivered = threading.Event()
        self._queue.put(delivered)
        return delivered.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _deliver_all(self) -> None:
        while (event := self._queue.get()) is not None:
            if isinstance(event, threading.Event):
                event.set()
                continue
            for rule in self._rules:
                if rule.pattern is not None and matches(rule.pattern, event):
                    for target in rule.targets:
                        deliver(target, event, self._dead_letters, self._fault)


def deliver(
    target: Target,
    event: dict[str, Any],
    dead_letters: Callable[[str, dict[str, Any]], None],
    fault: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    for attempt in range(target.retries + 1):
        try:
            if fault is not None:
                fault(event)
            target.function.invoke(event)
            return
        except Exception:
            logger.exception("%s failed (attempt %d)", target.function.logical_id, attempt + 1)
            time.sleep(RETRY_DELAY_SECONDS * (attempt + 1))
    if target.dead_letter_arn:
        dead_letters(target.dead_letter_arn, event)


class Schedules:
    """Invokes each schedule rule's targets every `every_seconds` (or `interval`)."""

    def __init__(self, rules: list[Rule], interval: float | None = None) -> None:
        self._halt = threading.Event()
        self._threads = [
            threading.Thread(
                target=self._run,
                args=(rule, interval or rule.every_seconds or 60.0),
                name=f"twin-schedule-{rule.name}",
                daemon=True,
            )
            for rule in rules
            if rule.every_seconds is not None
        ]
        for thread in self._threads:
            thread.start()

    def close(self, timeout: float = 10.0) -> None:
        self._halt.set()
        for thread in self._threads:
            thread.join(timeout)

    def _run(self, rule: Rule, every: float) -> None:
        while not self._halt.wait(every):
            event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
            for target in rule.targets:
                try:
                    target.function.invoke(event)
                except Exception:
                    logger.exception("the scheduled %s failed", target.function.logical_id)
