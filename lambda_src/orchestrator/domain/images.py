"""Images: what a run executes in, its task role and its size. Admins register and remove
them; every user lists them and picks one per run (`image`, and a size within the limits the
admin set). Sizes follow Fargate's CPU/memory combinations on every backend, so a size
refused on AWS is refused on the embedded host too."""

from __future__ import annotations

import re
from dataclasses import dataclass

from orchestrator.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from orchestrator.domain.image_registry import PrivateRegistry, pull_problem
from orchestrator.domain.models import (
    ENV_NAME_PATTERN,
    IMAGE_NAME_PATTERN,
    Caller,
    ExecutionRequest,
    Image,
    TextKind,
    text_problem,
    utc_iso,
)
from orchestrator.domain.secrets import is_valid_secret_name, secret_reference
from orchestrator.domain.warm_pools import WarmPools
from orchestrator.domain.warm_tasks import (
    DEFAULT_WARM_IDLE_SECONDS,
    MAX_WARM_IDLE_SECONDS,
    MAX_WARM_PER_IMAGE,
    MIN_WARM_IDLE_SECONDS,
    PoolCounts,
)
from orchestrator.ports import Clock, ImagePlatform, ImageStore

ROLE_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"
MAX_URI_LENGTH = 1024
MAX_DESCRIPTION_LENGTH = 256
MAX_IMAGE_SECRETS = 50
# An image registered without a size gets the stack's default task size.
DEFAULT_CPU = 256
DEFAULT_MEMORY = 512


def _steps(start: int, stop: int, step: int) -> tuple[int, ...]:
    return tuple(range(start, stop + 1, step))


# Fargate's valid task sizes (Linux): CPU units -> the memory values (MiB) allowed with it.
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: _steps(1024, 4096, 1024),
    1024: _steps(2048, 8192, 1024),
    2048: _steps(4096, 16384, 1024),
    4096: _steps(8192, 30720, 1024),
    8192: _steps(16384, 61440, 4096),
    16384: _steps(32768, 122880, 8192),
}

MAX_CPU_UNITS = max(FARGATE_SIZES)
MAX_MEMORY_MIB = max(max(values) for values in FARGATE_SIZES.values())
_IMAGE_NAME = re.compile(IMAGE_NAME_PATTERN)
_ENV_NAME = re.compile(ENV_NAME_PATTERN)
_ROLE_ARN = re.compile(ROLE_ARN_PATTERN)


def is_default_secret(entry: str) -> bool:
    """Whether `entry` names a default secret: NAME (the variable of the same name) or
    VAR=NAME."""
    variable, name = secret_reference(entry)
    return bool(_ENV_NAME.fullmatch(variable)) and is_valid_secret_name(name)


def size_problem(cpu: int, memory: int) -> ValidationFailed | None:
    """Why (`cpu`, `memory`) is not a Fargate task size, listing the valid choices."""
    if cpu not in FARGATE_SIZES:
        valid_cpu = sorted(FARGATE_SIZES)
        return ValidationFailed(
            f"cpu {cpu} is not a Fargate size; valid CPU units: " + ", ".join(map(str, valid_cpu)),
            {"cpu": cpu, "valid_cpu": valid_cpu},
        )
    valid_memory = list(FARGATE_SIZES[cpu])
    if memory not in valid_memory:
        return ValidationFailed(
            f"memory {memory} MiB does not go with cpu {cpu}; valid memory (MiB): "
            + _ranges(valid_memory),
            {"cpu": cpu, "memory": memory, "valid_memory": valid_memory},
        )
    return None


def check_size(cpu: int, memory: int) -> None:
    problem = size_problem(cpu, memory)
    if problem is not None:
        raise problem


def _ranges(values: list[int]) -> str:
    """512, 1024, 2048 or 2048-8192 in steps of 1024 (long lists stay one short line)."""
    if len(values) <= 4:
        return ", ".join(map(str, values))
    return f"{values[0]}-{values[-1]} in steps of {values[1] - values[0]}"


def _memory_for(cpu: int, preferred: int) -> int:
    """`preferred` when it goes with `cpu`, else the nearest valid memory above it (the
    largest when there is none above)."""
    valid = FARGATE_SIZES.get(cpu)
    if not valid or preferred in valid:
        return preferred
    return next((value for value in valid if value >= preferred), valid[-1])


def _cpu_for(memory: int, preferred: int) -> int:
    """`preferred` when `memory` goes with it, else the smallest CPU that takes `memory`."""
    if memory in FARGATE_SIZES.get(preferred, ()):
        return preferred
    return next((cpu for cpu, valid in FARGATE_SIZES.items() if memory in valid), preferred)


@dataclass(frozen=True)
class ImagePolicy:
    """What the deployment allows: task roles only under `role_arn_prefix` (AWS: the
    `mycli:imageRolePrefix` context value as a full ARN prefix; None: any role ARN), and
    from ECR only images `registry` holds (AWS: the stack's own, under
    `mycli:ecrRepositoryPrefix`; None: any URI, where nothing is pulled)."""

    role_arn_prefix: str | None = None
    registry: PrivateRegistry | None = None


@dataclass(frozen=True)
class ImageSpec:
    """What an admin registers (already shape-checked by the API layer)."""

    name: str
    uri: str
    description: str = ""
    task_role_arn: str | None = None
    cpu: int | None = None
    memory: int | None = None
    max_cpu: int | None = None
    max_memory: int | None = None
    is_default: bool = False
    secrets: tuple[str, ...] = ()
    warm: int = 0
    warm_idle_seconds: int | None = None


@dataclass(frozen=True)
class RunImage:
    """The image and size one run gets."""

    image: Image
    cpu: int
    memory: int


class ImageService:
    def __init__(
        self,
        store: ImageStore,
        platform: ImagePlatform,
        clock: Clock,
        policy: ImagePolicy | None = None,
        warm_pools: WarmPools | None = None,
    ) -> None:
        """`warm_pools`: None where the backend keeps no warm tasks (the embedded host)."""
        self._store = store
        self._platform = platform
        self._clock = clock
        self._policy = policy or ImagePolicy()
        self._warm_pools = warm_pools

    def register(self, caller: Caller, spec: ImageSpec) -> Image:
        """Check, let the backend prepare it (AWS: a task definition), record it. A default
        image takes the default from any other."""
        _require_admin(caller)
        image = self._image_of(caller, spec)
        if self._store.get(image.name) is not None:
            raise Conflict(
                f"image {image.name} already exists; remove it first", {"name": image.name}
            )
        image = self._platform.register(image)
        try:
            self._store.create(image)
        except Conflict:
            self._platform.unregister(image)
            raise
        if image.is_default:
            self._store.set_default(image.name)
        return image

    def update(
        self,
        caller: Caller,
        name: str,
        *,
        warm: int | None = None,
        warm_idle_seconds: int | None = None,
    ) -> Image:
        """Change image `name`'s warm pool (its size, its idle time); the rest of the image
        stays. A pool set above 0 starts at the pool manager's next round, run or no run."""
        _require_admin(caller)
        if warm is None and warm_idle_seconds is None:
            raise ValidationFailed("nothing to update: give warm, warm_idle_seconds or both")
        _check_warm(warm or 0, warm_idle_seconds)
        image = self._store.update_pool(name, warm=warm, warm_idle_seconds=warm_idle_seconds)
        if image is None:
            raise NotFound(f"image {name} not found", {"name": name})
        if warm is not None and self._warm_pools is not None:
            self._warm_pools.wake(image)
        return image

    def warnings(self, image: Image) -> list[str]:
        """What `image` means on this backend that its admin may not expect (ImagePlatform)."""
        return self._platform.warnings(image)

    def pool_warnings(self, image: Image) -> list[str]:
        """What `image`'s warm pool means on this backend that its admin may not expect."""
        return self._platform.pool_warnings(image)

    def pool(self, image: Image) -> PoolCounts:
        """`image`'s warm pool: its target, what is ready and starting (0 without pools)."""
        if self._warm_pools is None:
            return PoolCounts(target=image.warm)
        return self._warm_pools.counts(image)

    def list(self) -> list[Image]:
        """Every image, by name (any user; the API hides task roles from non-admins)."""
        return self._store.list_all()

    def remove(self, caller: Caller, name: str) -> Image:
        """Forget the image and release what the backend made for it. Runs already on it
        keep going: their records hold the image's name and URI."""
        _require_admin(caller)
        image = self._store.get(name)
        if image is None or not self._store.delete(name):
            raise NotFound(f"image {name} not found")
        self._platform.unregister(image)
        return image

    def for_run(self, request: ExecutionRequest) -> RunImage | None:
        """The image and size `request` runs with: the named image, else the default one;
        None when neither exists (the run is as it was before images). Sizes must be Fargate
        sizes within the image's limits."""
        if request.image is not None:
            image = self._store.get(request.image)
            if image is None:
                raise NotFound(f"image {request.image} not found", {"image": request.image})
        else:
            image = next((i for i in self._store.list_all() if i.is_default), None)
            if image is None:
                if request.cpu is not None or request.memory is not None:
                    raise ValidationFailed(
                        "cpu and memory need an image, and there is no default image: "
                        "name one (mycli images list)"
                    )
                return None
        if not self._platform.is_current(image):
            image = self._made_again(image)
        cpu, memory = image.cpu, image.memory
        if request.cpu is not None:
            cpu = request.cpu
            memory = request.memory or _memory_for(cpu, image.memory)
        elif request.memory is not None:
            memory = request.memory
            cpu = _cpu_for(memory, image.cpu)
        check_size(cpu, memory)
        if cpu > image.max_cpu or memory > image.max_memory:
            raise ValidationFailed(
                f"cpu {cpu} / memory {memory} MiB is over image {image.name}'s limit of "
                f"cpu {image.max_cpu} / memory {image.max_memory} MiB",
                {"max_cpu": image.max_cpu, "max_memory": image.max_memory},
            )
        return RunImage(image=image, cpu=cpu, memory=memory)

    def _made_again(self, image: Image) -> Image:
        """`image` with its backend handle made from the backend's setup as it is now (AWS:
        after a stack upgrade, a fresh copy of the new run task definition), the old handle
        released. Of concurrent runs, the first to record its handle wins; the others
        release theirs and take the recorded one."""
        fresh = self._platform.register(image)
        if self._store.replace_platform(image, fresh):
            self._platform.unregister(image)
            return fresh
        self._platform.unregister(fresh)
        recorded = self._store.get(image.name)
        if recorded is None:
            raise NotFound(f"image {image.name} not found", {"image": image.name})
        return recorded

    def _image_of(self, caller: Caller, spec: ImageSpec) -> Image:
        if not _IMAGE_NAME.fullmatch(spec.name):
            raise ValidationFailed(
                "image names are 1-63 lowercase letters, digits, _ and -, starting with a "
                "letter or digit"
            )
        _check_text("uri", spec.uri, MAX_URI_LENGTH)
        if any(char.isspace() for char in spec.uri):
            raise ValidationFailed("uri: must not contain spaces")
        if self._policy.registry is not None:
            problem = pull_problem(spec.uri, self._policy.registry)
            if problem is not None:
                raise problem
        _check_text("description", spec.description, MAX_DESCRIPTION_LENGTH, required=False)
        if spec.task_role_arn is not None:
            self._check_role(spec.task_role_arn)
        if len(spec.secrets) > MAX_IMAGE_SECRETS or not all(map(is_default_secret, spec.secrets)):
            raise ValidationFailed(
                f"secrets: at most {MAX_IMAGE_SECRETS} entries, each NAME or VAR=NAME (VAR an "
                "env variable name; NAME 1-128 letters, digits, _ . -)"
            )
        cpu = spec.cpu
        memory = spec.memory
        if cpu is None and memory is None:
            cpu, memory = DEFAULT_CPU, DEFAULT_MEMORY
        elif memory is None:
            assert cpu is not None
            memory = FARGATE_SIZES.get(cpu, (DEFAULT_MEMORY,))[0]
        elif cpu is None:
            cpu = _cpu_for(memory, DEFAULT_CPU)
        check_size(cpu, memory)
        max_cpu = spec.max_cpu if spec.max_cpu is not None else cpu
        max_memory = (
            spec.max_memory if spec.max_memory is not None else _memory_for(max_cpu, memory)
        )
        if max_cpu < cpu or max_memory < memory:
            raise ValidationFailed(
                "max_cpu and max_memory must be at least the image's own cpu and memory",
                {"cpu": cpu, "memory": memory},
            )
        check_size(max_cpu, max_memory)
        warm_idle = _check_warm(spec.warm, spec.warm_idle_seconds)
        return Image(
            name=spec.name,
            uri=spec.uri,
            cpu=cpu,
            memory=memory,
            max_cpu=max_cpu,
            max_memory=max_memory,
            registered_by=caller.email,
            registered_at=utc_iso(self._clock.now()),
            description=spec.description,
            task_role_arn=spec.task_role_arn,
            is_default=spec.is_default,
            secrets=tuple(spec.secrets),
            warm=spec.warm,
            warm_idle_seconds=warm_idle,
        )

    def _check_role(self, arn: str) -> None:
        if not _ROLE_ARN.fullmatch(arn):
            raise ValidationFailed(
                "task_role_arn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)"
            )
        prefix = self._policy.role_arn_prefix
        if prefix is not None and not arn.startswith(prefix):
            raise ValidationFailed(
                f"task_role_arn must start with {prefix}: the platform may pass only those "
                "roles to tasks (mycli:imageRolePrefix)",
                {"allowed_prefix": prefix},
            )


def _check_warm(warm: int, idle: int | None) -> int:
    """Check a pool's size and idle time; the idle time (the default when not given)."""
    if not 0 <= warm <= MAX_WARM_PER_IMAGE:
        raise ValidationFailed(f"warm: 0 to {MAX_WARM_PER_IMAGE} tasks")
    if idle is None:
        return DEFAULT_WARM_IDLE_SECONDS
    if not MIN_WARM_IDLE_SECONDS <= idle <= MAX_WARM_IDLE_SECONDS:
        raise ValidationFailed(
            f"warm_idle_seconds: {MIN_WARM_IDLE_SECONDS} to {MAX_WARM_IDLE_SECONDS} seconds"
        )
    return idle


def _check_text(field: str, value: str, max_length: int, *, required: bool = True) -> None:
    if required and not value.strip():
        raise ValidationFailed(f"{field}: must not be empty")
    if len(value) > max_length:
        raise ValidationFailed(f"{field}: at most {max_length} characters")
    problem = text_problem(value, TextKind.NAME)
    if problem is not None:
        raise ValidationFailed(f"{field}: {problem}")


def _require_admin(caller: Caller) -> None:
    if not caller.is_admin:
        raise Forbidden("this needs the admin role")
