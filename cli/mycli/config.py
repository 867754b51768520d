"""CLI configuration: named profiles in $XDG_CONFIG_HOME/mycli/config.toml (mode 0600).

MYCLI_PROFILE chooses the profile; MYCLI_API_URL and MYCLI_API_KEY override its values."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, NamedTuple

from mycli.errors import ConfigError

DEFAULT_PROFILE = "default"


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "mycli" / "config.toml"


def default_data_dir() -> Path:
    if os.environ.get("MYCLI_DATA_DIR"):
        return Path(os.environ["MYCLI_DATA_DIR"])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "mycli"


# Plain classes, not dataclasses: `dataclasses` imports `inspect` (~8 ms of every command).
class Profile(NamedTuple):
    name: str
    api_url: str | None
    api_key: str | None


class ConfigFile:
    def __init__(self, current_profile: str | None, profiles: dict[str, dict[str, str]]) -> None:
        self.current_profile = current_profile
        self.profiles = profiles

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConfigFile):
            return NotImplemented
        return (self.current_profile, self.profiles) == (other.current_profile, other.profiles)

    __hash__ = None  # type: ignore[assignment]  # mutable, like a dataclass

    def __repr__(self) -> str:
        return f"ConfigFile(current_profile={self.current_profile!r}, profiles={self.profiles!r})"

    @classmethod
    def load(cls, path: Path | None = None) -> ConfigFile:
        path = path or config_path()
        try:
            data: dict[str, Any] = tomllib.loads(path.read_text())
        except FileNotFoundError:
            return cls(current_profile=None, profiles={})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
        profiles = data.get("profiles", {})
        if not isinstance(profiles, dict):
            raise ConfigError(f"{path}: [profiles] must be a table")
        return cls(current_profile=data.get("current_profile"), profiles=profiles)

    def save(self, path: Path | None = None) -> Path:
        """Write atomically with mode 0600: the file holds API keys."""
        path = path or config_path()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lines = []
        if self.current_profile:
            lines.append(f"current_profile = {_toml_string(self.current_profile)}")
        for name, values in sorted(self.profiles.items()):
            lines.append(f"\n[profiles.{_toml_string(name)}]")
            lines += [f"{key} = {_toml_string(value)}" for key, value in sorted(values.items())]
        temporary = path.with_name(path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(lines).lstrip("\n") + "\n")
        os.chmod(temporary, 0o600)
        temporary.replace(path)
        return path

    def set_profile(self, name: str, *, make_current: bool, **values: str) -> None:
        self.profiles.setdefault(name, {}).update(values)
        if make_current or not self.current_profile:
            self.current_profile = name


def resolve_profile(name: str | None) -> Profile:
    """The active profile after environment overrides. A profile chosen by --profile,
    MYCLI_PROFILE or the config's current_profile must exist (unless MYCLI_API_URL stands
    in for it); the same message says so whichever way it was chosen."""
    config = ConfigFile.load()
    explicit = name or os.environ.get("MYCLI_PROFILE") or config.current_profile
    chosen = explicit or DEFAULT_PROFILE
    values = config.profiles.get(chosen, {})
    if explicit and chosen not in config.profiles and not os.environ.get("MYCLI_API_URL"):
        known = ", ".join(sorted(config.profiles)) or "none"
        raise ConfigError(f"no profile named '{chosen}' in {config_path()} (known: {known})")
    return Profile(
        name=chosen,
        api_url=os.environ.get("MYCLI_API_URL") or values.get("api_url"),
        api_key=os.environ.get("MYCLI_API_KEY") or values.get("api_key"),
    )


def _toml_string(value: str) -> str:
    # A JSON string with ASCII escapes is a valid TOML basic string.
    return json.dumps(str(value))
