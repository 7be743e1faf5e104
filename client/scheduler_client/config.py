"""Where the client finds the server and its keys: arguments, a profile of the config file, or the environment.

The config file (`SCHEDULER_CONFIG`, else `$XDG_CONFIG_HOME/scheduler/config.toml`, else
`~/.config/scheduler/config.toml`) holds named profiles:

    [profiles.local]
    url = "http://127.0.0.1:8000"
    api_key = "sk_..."
    operator_key = "op_..."   # optional, for `tenants create`

Each setting comes from the first of: an explicit argument; the selected profile (`profile=`, else
`SCHEDULER_PROFILE`); the environment (`SCHEDULER_URL`, `SCHEDULER_API_KEY`,
`SCHEDULER_OPERATOR_KEY`); the profile `default` when no profile was selected; for the URL, the
local server `make run` starts in the same environment: `http://$HOST:$PORT` (default
`http://127.0.0.1:8000`). The file is read only when `resolve` is called.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

__all__ = [
    "DEFAULT_URL",
    "ConfigError",
    "Profile",
    "Settings",
    "config_path",
    "load_profiles",
    "local_url",
    "resolve",
]

DEFAULT_URL = "http://127.0.0.1:8000"
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 (addresses to listen on, reached on loopback)


class ConfigError(ValueError):
    """The config file or the selected profile cannot be used."""


@dataclass(frozen=True)
class Profile:
    """One `[profiles.NAME]` table (every field optional)."""

    url: str | None = None
    api_key: str | None = None
    operator_key: str | None = None


@dataclass(frozen=True)
class Settings:
    """What a client needs: the server's URL and the keys found for it."""

    url: str
    api_key: str | None
    operator_key: str | None
    profile: str | None


def config_path(env: Mapping[str, str]) -> Path:
    """The config file's path (it need not exist)."""
    if env.get("SCHEDULER_CONFIG"):
        return Path(env["SCHEDULER_CONFIG"]).expanduser()
    base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "scheduler" / "config.toml"


def load_profiles(path: Path) -> dict[str, Profile]:
    """The profiles of the file at `path` (none when it does not exist)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    tables = data.get("profiles", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{path}: [profiles] must be a table of [profiles.NAME] tables")
    return {name: _profile(path, name, table) for name, table in tables.items()}


def _profile(path: Path, name: str, table: object) -> Profile:
    known = {f.name for f in fields(Profile)}
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: profiles.{name} must be a table")
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{path}: profiles.{name} has unknown settings: {', '.join(unknown)}")
    for key, value in table.items():
        if not isinstance(value, str):
            raise ConfigError(f"{path}: profiles.{name}.{key} must be a string")
    return Profile(**table)


def resolve(
    *,
    url: str | None = None,
    api_key: str | None = None,
    operator_key: str | None = None,
    profile: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """The settings to use, per the order in this module's docstring."""
    env = os.environ if env is None else env
    path = config_path(env)
    profiles = load_profiles(path)
    selected = profile or env.get("SCHEDULER_PROFILE") or None
    if selected is not None and selected not in profiles:
        raise ConfigError(f"no profile {selected!r} in {path}")
    chosen = profiles[selected] if selected else Profile()
    fallback = Profile() if selected else profiles.get("default", Profile())
    return Settings(
        url=_first(url, chosen.url, env.get("SCHEDULER_URL"), fallback.url) or local_url(env),
        api_key=_first(api_key, chosen.api_key, env.get("SCHEDULER_API_KEY"), fallback.api_key),
        operator_key=_first(
            operator_key, chosen.operator_key, env.get("SCHEDULER_OPERATOR_KEY"), fallback.operator_key
        ),
        profile=selected or ("default" if "default" in profiles else None),
    )


def local_url(env: Mapping[str, str]) -> str:
    """The URL of a server started with `make run` in this environment: `HOST` and `PORT` as it reads them
    (defaults 127.0.0.1 and 8000; a wildcard address such as 0.0.0.0 is reached on loopback)."""
    host = env.get("HOST") or "127.0.0.1"
    port = env.get("PORT") or "8000"
    if host in _WILDCARDS:
        host = "127.0.0.1" if host != "::" else "::1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    if not port.isdigit():
        raise ConfigError(f"PORT must be a port number, not {port!r}")
    return f"http://{host}:{port}"


def _first(*values: str | None) -> str | None:
    return next((value for value in values if value), None)
