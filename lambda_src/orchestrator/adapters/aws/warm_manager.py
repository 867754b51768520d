"""The pool manager's hands (docs/warm-runners.md): first the records against ECS
(domain/warm_reconcile.py: orphaned tasks stopped, records of tasks stopped unseen ended),
then domain/warm_pools.py's plan. Stopping a task: StopTask, then its record DEAD. Starting
one: pick its id, write its mailbox (`waiting`), register it STARTING, then RunTask of the
image's task definition with `startedBy` `w-<id>` and, as the agent's only overrides, the
mailbox's presigned URL (signed as the mailbox signer) and when it stops working. A RunTask
refused: the record DEAD."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from orchestrator.adapters.aws.ecs import EcsRunner
from orchestrator.adapters.aws.mailbox_signer import AssumedRoleSigner
from orchestrator.adapters.aws.s3_mailbox import S3Mailboxes, mailbox_key
from orchestrator.adapters.aws.warm_events import warm_started_by
from orchestrator.agent.layout import (
    AGENT_CONTAINER,
    MAILBOX_UNTIL_VARIABLE,
    MAILBOX_URL_VARIABLE,
)
from orchestrator.domain.models import Image, utc_iso
from orchestrator.domain.warm_pools import PoolPlan, WarmPools
from orchestrator.domain.warm_reconcile import Reconciliation
from orchestrator.domain.warm_tasks import WarmState, WarmTask
from orchestrator.ports import Clock, WarmPool, WarmTaskPlatform

# How long a mailbox URL works: a ready task is replaced before it expires (an hour: one
# replacement start per warm task per hour).
MAILBOX_URL_SECONDS = 3600
STOPPED_BY_POOL = "mycli: warm pool (stale, surplus or over budget)"
STOPPED_ORPHAN = "mycli: warm task without a waiting record (orphan)"
logger = logging.getLogger(__name__)


@dataclass
class PoolReport:
    started: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # RunTask or StopTask refused
    orphans: list[str] = field(default_factory=list)  # tasks (ARNs) stopped as orphans
    lost: list[str] = field(default_factory=list)  # records ended: their task stopped unseen

    @classmethod
    def merged(cls, reports: Sequence[PoolReport]) -> PoolReport:
        """The reports of the rounds of one invocation, as one."""
        whole = cls()
        for report in reports:
            for name, done in vars(report).items():
                getattr(whole, name).extend(done)
        return whole


@dataclass(frozen=True)
class TaskNetwork:
    cluster: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]


class EcsWarmTasks:
    def __init__(
        self,
        ecs: Any,
        runner: EcsRunner,
        network: TaskNetwork,
        pool: WarmPool,
        mailboxes: S3Mailboxes,
        signer: AssumedRoleSigner,
        platform: WarmTaskPlatform,
        clock: Clock,
    ) -> None:
        self._ecs = ecs
        self._runner = runner
        self._network = network
        self._pool = pool
        self._mailboxes = mailboxes
        self._signer = signer
        self._platform = platform
        self._clock = clock

    def keep(self, pools: WarmPools, images: Sequence[Image]) -> PoolReport:
        """One run of the pool manager over every registered image: reconcile, then plan
        and carry out (a record ended first frees its place for the plan)."""
        report = PoolReport()
        self.reconcile(pools, pools.reconcile(images, self._platform), report)
        return self.carry_out(pools, pools.plan(images), images, report)

    def reconcile(self, pools: WarmPools, found: Reconciliation, report: PoolReport) -> None:
        """Orphans stopped (an open record of one ended DEAD), lost records ended."""
        for orphan in found.orphans:
            if not self._stop_task(orphan.task_ref, STOPPED_ORPHAN, orphan.task_id, report):
                continue
            self._pool.finish(orphan.task_id, WarmState.DEAD, utc_iso(self._clock.now()))
            report.orphans.append(orphan.task_ref)
        for task, state in found.lost:
            if pools.finish(task, state) is not None:
                report.lost.append(task.task_id)

    def carry_out(
        self,
        pools: WarmPools,
        plans: Sequence[PoolPlan],
        images: Sequence[Image],
        report: PoolReport | None = None,
    ) -> PoolReport:
        """Stops first (they free budget), then starts."""
        report = PoolReport() if report is None else report
        by_name = {image.name: image for image in images}
        for plan in plans:
            for task in plan.stop:
                self._stop(pools, task, report)
        for plan in plans:
            image = by_name.get(plan.image)
            for _ in range(plan.start if image is not None else 0):
                assert image is not None
                self._start(image, report)
        return report

    def _stop(self, pools: WarmPools, task: WarmTask, report: PoolReport) -> None:
        if task.task_ref is not None and not self._stop_task(
            task.task_ref, STOPPED_BY_POOL, task.task_id, report
        ):
            return
        pools.finish(task, WarmState.DEAD)
        report.stopped.append(task.task_id)

    def _stop_task(self, task_ref: str, reason: str, task_id: str, report: PoolReport) -> bool:
        """StopTask; a refusal is logged and reported (the next run tries again)."""
        try:
            self._runner.stop_task(task_ref, reason)
        except Exception as error:
            logger.warning("warm task %s: StopTask refused: %s", task_id, error)
            report.refused.append(task_id)
            return False
        return True

    def _start(self, image: Image, report: PoolReport) -> None:
        task_id = secrets.token_hex(16)
        key = mailbox_key(task_id)
        now = self._clock.now()
        try:
            signed = self._signer.sign(key)
        except (ClientError, BotoCoreError) as error:  # STS refused: nothing started
            logger.warning("warm task of %s: no mailbox signer: %s", image.name, error)
            report.refused.append(task_id)
            return
        usable_until, url = utc_iso(signed.usable_until), signed.url
        self._mailboxes.write_waiting(key)
        self._pool.register(
            WarmTask(
                task_id=task_id,
                image=image.name,
                state=WarmState.STARTING,
                mailbox=key,
                platform_ref=image.platform_ref,
                started_at=utc_iso(now),
                usable_until=usable_until,
            )
        )
        try:
            response = self._ecs.run_task(
                cluster=self._network.cluster,
                taskDefinition=image.platform_ref,
                launchType="FARGATE",
                count=1,
                startedBy=warm_started_by(task_id),
                clientToken=task_id,
                networkConfiguration={
                    "awsvpcConfiguration": {
                        "subnets": list(self._network.subnets),
                        "securityGroups": list(self._network.security_groups),
                        "assignPublicIp": "ENABLED",  # public subnets, no NAT: pulls need it
                    }
                },
                overrides={
                    "containerOverrides": [
                        {
                            "name": AGENT_CONTAINER,
                            "environment": [
                                {"name": MAILBOX_URL_VARIABLE, "value": url},
                                {"name": MAILBOX_UNTIL_VARIABLE, "value": usable_until},
                            ],
                        }
                    ]
                },
            )
            started = bool(response.get("tasks")) and not response.get("failures")
        except (ClientError, BotoCoreError) as error:
            logger.warning("warm task of %s: RunTask refused: %s", image.name, error)
            started = False
        if not started:
            self._pool.finish(task_id, WarmState.DEAD, utc_iso(self._clock.now()))
            report.refused.append(task_id)
            return
        report.started.append(task_id)
