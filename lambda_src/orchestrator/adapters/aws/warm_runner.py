"""The warm-first runner (docs/warm-runners.md): a run on an image with a warm pool, at the
image's own size, claims a ready warm task; its inputs are published as for a cold start
and the assignment written to the task's mailbox, and the run's task is that task
(start = warm). Without one it starts with RunTask (start = cold). The one case retried
cold: the claim succeeded but the assignment could not be written (the run certainly did
not start): the task is ended DEAD and stopped, and the run launched with RunTask. A create
that asked a pool (claimed a task, or found none ready) asks the pool manager to run now
(`refill`, best effort), so the pool refills, or wakes, within seconds."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError

from orchestrator.adapters.aws.ecs import EcsRunner
from orchestrator.adapters.aws.s3_mailbox import S3Mailboxes
from orchestrator.domain.models import (
    START_WARM,
    Execution,
    LaunchResult,
    LaunchSpec,
    TaskStateChange,
)
from orchestrator.domain.warm_pools import WarmPools
from orchestrator.domain.warm_tasks import WarmState, WarmTask
from orchestrator.ports import ImageStore

NOT_ASSIGNED = "mycli: its assignment could not be written"
ABANDONED_CLAIM = "mycli: the run's launch failed before its assignment"
logger = logging.getLogger(__name__)


class WarmFirstRunner:
    """A Runner: `launch` as above; stop, release, lost, ended and sweep are the ECS
    runner's (a warm run's task_ref is its task's ARN, as a cold run's)."""

    def __init__(
        self,
        cold: EcsRunner,
        pools: WarmPools,
        images: ImageStore,
        mailboxes: S3Mailboxes,
        refill: Callable[[str], None] | None = None,
    ) -> None:
        self._cold = cold
        self._pools = pools
        self._images = images
        self._mailboxes = mailboxes
        self._refill = refill

    def launch(self, spec: LaunchSpec) -> LaunchResult:
        pooled, task = self._claim(spec)
        try:
            return self._launch(spec, task)
        finally:
            if pooled and self._refill is not None:
                self._refill("claim" if task is not None else "demand")

    def _launch(self, spec: LaunchSpec, task: WarmTask | None) -> LaunchResult:
        if task is None or task.task_ref is None:
            return self._cold.launch(spec)
        try:
            published = self._cold.publish(spec)
        except BaseException:
            self._give_up(task, ABANDONED_CLAIM)
            raise
        try:
            self._mailboxes.assign(task.mailbox, spec.execution_id, published.manifest_url)
        except (ClientError, BotoCoreError) as error:
            logger.warning("warm task %s: %s: %s", task.task_id, NOT_ASSIGNED, error)
            self._give_up(task, NOT_ASSIGNED)
            return self._cold.launch_published(spec, published)
        except BaseException:
            self._give_up(task, ABANDONED_CLAIM)
            raise
        return LaunchResult(
            task_ref=task.task_ref,
            log_stream_name=self._cold.log_stream_of(task.task_ref),
            grant_id=published.grant_id,
            start=START_WARM,
        )

    def _claim(self, spec: LaunchSpec) -> tuple[bool, WarmTask | None]:
        """Whether the run's image has a pool, and a ready task of it for the run (None: it
        starts cold)."""
        if spec.image is None or spec.cpu is None or spec.memory is None:
            return False, None
        image = self._images.get(spec.image)
        if image is None or image.platform_ref != spec.image_ref:
            return False, None
        return image.warm > 0, self._pools.claim(image, spec.execution_id, spec.cpu, spec.memory)

    def _give_up(self, task: WarmTask, reason: str) -> None:
        """End a claimed task that will never get its run: DEAD, and stopped."""
        with contextlib.suppress(Exception):
            self._pools.finish(task, WarmState.DEAD)
        assert task.task_ref is not None
        with contextlib.suppress(Exception):
            self._cold.stop_task(task.task_ref, reason)

    def stop(self, execution: Execution, reason: str) -> None:
        self._cold.stop(execution, reason)

    def release(self, execution: Execution) -> None:
        self._cold.release(execution)

    def lost(self, executions: Sequence[Execution]) -> set[str]:
        return self._cold.lost(executions)

    def ended(self, executions: Sequence[Execution]) -> dict[str, TaskStateChange | None]:
        return self._cold.ended(executions)

    def sweep(self, made_before: datetime) -> list[str]:
        return self._cold.sweep(made_before)
