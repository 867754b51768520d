"""The running twin, in one process: moto (server mode, 127.0.0.1) holding the template's
resources, the S3 POST-policy front, the API served by the template's Lambda handlers, the
ECS stand-in bridged to moto's ECS, the task-state events delivered to the rule's function,
the schedules (the reaper), and the awslogs driver into moto's CloudWatch Logs."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from twin.awslogs import AwsLogsDriver
from twin.ecs import EcsStandIn, StartDelaySetting
from twin.events import EventBus, Schedules, load_rules
from twin.faults import FaultHooks, failing_stop_tasks
from twin.functions import (
    apply_environment,
    load_functions,
    serving_invokes,
    shared_environment,
)
from twin.gateway import Gateway
from twin.images import image_mapper
from twin.moto_bridge import MotoEcsBridge
from twin.moto_task_status import mirror_status, tasks_start_provisioning
from twin.moto_wakeup import ecs_task_changes
from twin.moto_writes import atomic_dynamodb_requests
from twin.provision import Provisioner
from twin.resolver import ACCOUNT, REGION, Resolver
from twin.s3_front import RunningFront
from twin.template import Template

logger = logging.getLogger("twin")
# How long `reset` waits for the tasks it stops (their stopTimeout is 30 s at most).
RESET_STOP_SECONDS = 40.0
ADMIN_EMAIL = "admin@mycli"
# What marks a container process as this twin's (`down` finds leftovers by it).
RUN_MARKER = "MYCLI_TWIN_RUN"
# The fault hook for tests (docs/aws-twin.md): key prefixes, one a line, whose output POSTs
# the S3 front refuses (403 AccessDenied) while they are listed.
REFUSED_POSTS_FILE = "faults/refuse-posts"


def credentials(moto_url: str, s3_url: str) -> dict[str, str]:
    """Fake credentials and the endpoints: what every process of the twin talks to AWS with."""
    return {
        "AWS_ACCESS_KEY_ID": "twin",
        "AWS_SECRET_ACCESS_KEY": "twin",
        "AWS_SESSION_TOKEN": "twin",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ENDPOINT_URL_S3": s3_url,
    }


@dataclass(frozen=True)
class TwinOptions:
    run_dir: Path
    port: int = 0
    reaper_interval: float | None = None  # seconds; None: the template's schedule


class Twin:
    """Starts everything in `start` (returns the API URL); `close` stops it all."""

    def __init__(self, template: Template, options: TwinOptions) -> None:
        self.template = template
        self.options = options
        self.url = ""
        self.moto_url = ""
        self.s3_url = ""
        self._stack = ExitStack()
        self._standin: EcsStandIn | None = None
        self._bus: EventBus | None = None
        self.faults = FaultHooks(options.run_dir)

    def start(self) -> str:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self.url

    def _start(self) -> None:
        on_close = self._stack.callback
        self._stack.enter_context(atomic_dynamodb_requests())
        task_changes = self._stack.enter_context(ecs_task_changes())
        self._stack.enter_context(tasks_start_provisioning())
        self._stack.enter_context(failing_stop_tasks(self.faults))
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        on_close(moto.stop)
        host, port = moto.get_host_and_port()
        self.moto_url = f"http://{host}:{port}"
        front = RunningFront(self.moto_url, refusals=self.options.run_dir / REFUSED_POSTS_FILE)
        on_close(front.close)
        self.s3_url = front.url
        environment = credentials(self.moto_url, self.s3_url)
        for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            os.environ.pop(name, None)
        os.environ.update({**environment, "POWERTOOLS_TRACE_DISABLED": "true"})

        resolver = Resolver(region=REGION, account=ACCOUNT)
        provisioner = Provisioner(self.template, resolver, _client)
        provisioner.create_all()
        apply_environment(shared_environment(self.template, resolver))
        functions = load_functions(self.template, resolver)
        self._stack.enter_context(serving_invokes(functions))  # the pool manager's refills
        rules = load_rules(self.template, resolver, functions)

        logs = AwsLogsDriver(_client("logs"))
        on_close(logs.close)
        bus = EventBus(rules, _send_to_queue, self.faults.fail_task_event)
        definitions = [
            _client("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"]
            for arn in provisioner.task_definition_arns.values()
        ]

        def deliver(event: dict[str, Any]) -> None:
            detail = event.get("detail") or {}
            if detail.get("lastStatus") == "STOPPED":
                logs.drain()  # the containers' output is in CloudWatch before the event
            mirror_status(detail)  # DescribeTasks says what the event says
            bus.put(event)

        standin = EcsStandIn(
            self.options.run_dir / "tasks",
            events=deliver,
            images=image_mapper(definitions),
            on_output=logs.on_output,
            environment={**environment, RUN_MARKER: str(self.options.run_dir)},
            start_delay=StartDelaySetting(self.options.run_dir),
        )
        on_close(bus.close)  # after the stand-in's last STOPPED events (closed first)
        on_close(standin.close)
        self._standin, self._bus = standin, bus
        ecs = _client("ecs")
        for _, physical in _clusters(resolver, self.template):
            bridge = MotoEcsBridge(
                ecs,
                standin,
                cluster=physical,
                moto_url=self.moto_url,
                wake=task_changes.subscribe(),
            )
            bridge.start()
            on_close(bridge.stop)
        schedules = Schedules(rules, self.options.reaper_interval)
        on_close(schedules.close)

        from twin.rest_api import load_rest_api

        gateway = Gateway(load_rest_api(self.template, resolver), functions, self.options.port)
        gateway.start()
        on_close(gateway.close)
        self.url = gateway.url

    def reset(self) -> None:
        """Back to a fresh deployment: every task stopped and its STOPPED event delivered,
        then everything stored emptied (twin/reset.py). The caller issues a new admin key."""
        from twin.reset import empty_state

        if self._standin is None or self._bus is None:
            raise RuntimeError("the twin is not started")
        self.faults.clear()
        running = [task for task in self._standin.tasks() if not task.done]
        for task in running:
            task.stop("the twin was reset")
        if not all(task.wait(RESET_STOP_SECONDS) for task in running):
            raise RuntimeError("a task did not stop in time")
        if not self._bus.flush():
            raise RuntimeError("the task events were not delivered in time")
        empty_state(_client, os.environ.get("SECRETS_PATH", ""))

    def admin_key(self) -> str:
        """A new admin key, issued through the users service (as `mycli init` does)."""
        from mycli.aws_deploy import ensure_admin_key

        table = os.environ["API_KEYS_TABLE"]
        key = ensure_admin_key(boto3.Session(region_name=REGION), table, ADMIN_EMAIL, True)
        if key is None:  # rotate=True always issues one
            raise RuntimeError("no admin key was issued")
        return key

    def close(self) -> None:
        self._stack.close()


def _client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def _clusters(resolver: Resolver, template: Template) -> Iterator[tuple[str, str]]:
    for logical_id, _ in template.of_type("AWS::ECS::Cluster"):
        yield logical_id, resolver.text({"Fn::GetAtt": [logical_id, "Arn"]})


def _send_to_queue(queue_arn: str, event: dict[str, Any]) -> None:
    import json

    sqs = _client("sqs")
    with contextlib.suppress(Exception):
        url = sqs.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[-1])["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))
        logger.warning("an event went to the dead-letter queue %s", queue_arn)
