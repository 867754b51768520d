"""What a container image means on this host: nothing is pulled, an image maps to a way of
running here. The default maps every image to "this host" (the container's entryPoint and
command run with the host's binaries); a mapper can give an image an entry point, a default
command and environment of its own (e.g. the run agent's image → `python -m ...`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from orchestrator.agent.environment import host_path

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class ImageRuntime:
    """An image on this host: its ENTRYPOINT, CMD and ENV, and a prefix put before
    whatever runs (e.g. a wrapper), as a container engine would take them from the image."""

    entry_point: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    argv_prefix: tuple[str, ...] = ()

    def argv(
        self, entry_point: tuple[str, ...] | None, command: tuple[str, ...] | None
    ) -> list[str]:
        """What runs, by Docker's rule: a container's entryPoint replaces the image's and
        drops the image's CMD; its command replaces the image's CMD."""
        if entry_point:
            return [*self.argv_prefix, *entry_point, *(command or ())]
        return [*self.argv_prefix, *self.entry_point, *(command or self.command)]


ImageMapper = Callable[[str], ImageRuntime]


def host_image(image: str) -> ImageRuntime:
    """Every image is this host: no entry point of its own, the host's PATH without the
    twin's own venv (as an image holds none of mycli's environment)."""
    return ImageRuntime(environment={"PATH": host_path()})


def repository_of(image: str) -> str:
    """`registry:5000/name:tag@sha256:...` → `registry:5000/name`."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def images_by_repository(
    runtimes: Mapping[str, ImageRuntime], default: ImageMapper = host_image
) -> ImageMapper:
    """A mapper that looks an image up by its full reference, then by its repository
    (tag and digest ignored); other images go to `default`."""

    def mapper(image: str) -> ImageRuntime:
        runtime = runtimes.get(image) or runtimes.get(repository_of(image))
        return runtime if runtime is not None else default(image)

    return mapper
