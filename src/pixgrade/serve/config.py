"""Settings of ``pixgrade serve``: defaults < a config file < ``PIXGRADE_*`` environment variables < flags.

A config file is YAML (or JSON) mapping setting names (as below, ``-`` or ``_``) to values::

    host: 0.0.0.0
    port: 8000
    workers: 2
    policy: amazon-main
    max-batch: 8

Each setting ``name`` is also read from the environment variable ``PIXGRADE_<NAME>`` (upper case, ``_``), e.g.
``PIXGRADE_PORT=9000``, ``PIXGRADE_WORKERS=4``, ``PIXGRADE_API_KEY=…``. Worker processes of a multi-process
server (``workers > 1``) receive the resolved settings through the environment and build their own app with
:func:`pixgrade.serve.app.app_from_env` (one model and one micro-batcher per process).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from pixgrade.errors import ConfigError

__all__ = [
    "DEFAULT_MAX_BYTES_IN_FLIGHT",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "ENV_PREFIX",
    "AppConfig",
    "ServeConfig",
    "config_to_env",
    "load_config",
]

ENV_PREFIX = "PIXGRADE_"
DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_BYTES_IN_FLIGHT = 512 * 1024 * 1024


@dataclass(frozen=True)
class ServeConfig:
    """Every setting of the service (see ``pixgrade serve --help`` for each)."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    model: str = "default"
    backend: str = "auto"
    policy: str | None = None
    api_key: str | None = None
    catalog: str | None = None
    max_batch: int = 8
    max_wait_ms: float = 10.0
    max_queue: int = 64
    max_upload_mb: float = 20.0
    max_files: int = 16
    max_image_memory: int = 1024
    request_timeout: float = 30.0
    keep_alive_timeout: float = 5.0
    max_inflight_mb: float = 512.0
    threads: int = 2
    torch_threads: int = 0
    log_level: str = "info"
    plugins: tuple[str, ...] = ()
    """Modules or ``.py`` files registering custom factors (``PIXGRADE_PLUGINS``: separated by commas; a file: a
    list or such a string), loaded by every server process before its model and policy."""

    def validate(self) -> ServeConfig:
        """Itself, or :class:`ConfigError` naming the first bad setting."""
        if not 0 < self.port < 65536:
            raise ConfigError(f"port must be in 1..65535, got {self.port}")
        for name in ("workers", "max_batch", "max_queue", "max_files", "threads"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be 1 or more, got {getattr(self, name)}")
        for name in ("max_upload_mb", "max_image_memory", "request_timeout", "keep_alive_timeout", "max_inflight_mb"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name.replace('_', '-')} must be positive, got {getattr(self, name)}")
        if self.max_wait_ms < 0 or self.torch_threads < 0:
            raise ConfigError("max-wait-ms and torch-threads must be 0 or more")
        if self.log_level not in ("critical", "error", "warning", "info", "debug"):
            raise ConfigError(f"log-level must be critical, error, warning, info or debug, got {self.log_level!r}")
        return self


_TYPES: dict[str, type] = {"port": int, "workers": int, "max_batch": int, "max_queue": int, "max_files": int}
_TYPES.update({"threads": int, "torch_threads": int, "max_wait_ms": float, "max_upload_mb": float})
_TYPES.update(
    {"max_image_memory": int, "request_timeout": float, "keep_alive_timeout": float, "max_inflight_mb": float}
)
_OPTIONAL = {"policy", "api_key", "catalog"}


def _convert(name: str, value: Any, where: str) -> Any:
    if name == "plugins":
        from pixgrade.measures.plugins import parse_plugins

        if (
            value is None
            or isinstance(value, str)
            or (isinstance(value, list | tuple) and all(isinstance(v, str) for v in value))
        ):
            return parse_plugins(value)
        raise ConfigError(f"{where}: plugins must be a list of module names or .py files, got {value!r}")
    if value is None or (name in _OPTIONAL and value == ""):
        return None
    kind = _TYPES.get(name, str)
    try:
        if isinstance(value, bool) or (kind is str and not isinstance(value, str | int | float)):
            raise TypeError
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {name.replace('_', '-')} must be {kind.__name__}, got {value!r}") from None


def _from_mapping(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    names = {f.name for f in fields(ServeConfig)}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = str(key).replace("-", "_").lower()
        if name not in names:
            known = ", ".join(sorted(n.replace("_", "-") for n in names))
            raise ConfigError(f"{where}: unknown setting {key!r}; known: {known}")
        out[name] = _convert(name, value, where)
    return out


def _from_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    import yaml

    try:
        raw = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {exc}") from None
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: a config file must be a mapping of setting names to values")
    return _from_mapping(raw, str(path))


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(ServeConfig):
        key = ENV_PREFIX + f.name.upper()
        if key in env:
            out[f.name] = _convert(f.name, env[key], f"${key}")
    return out


def load_config(
    file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> ServeConfig:
    """The resolved settings: defaults, then ``file``, then ``PIXGRADE_*`` variables of ``env`` (default: the
    process environment; ``PIXGRADE_CONFIG`` names a file when ``file`` is None), then ``flags`` that are not None.

    Raises:
        ConfigError: unreadable file, unknown setting, wrong type or out-of-range value.
    """
    env = os.environ if env is None else env
    config = ServeConfig()
    file = file if file is not None else env.get(ENV_PREFIX + "CONFIG") or None
    if file is not None:
        config = replace(config, **_from_file(Path(file)))
    config = replace(config, **_from_env(env))
    if flags:
        given = {k: v for k, v in flags.items() if v is not None}
        config = replace(config, **_from_mapping(given, "flags"))
    return config.validate()


def config_to_env(config: ServeConfig) -> dict[str, str]:
    """``PIXGRADE_*`` variables that make :func:`load_config` give ``config`` back (for worker processes)."""
    return {
        ENV_PREFIX + name.upper(): "" if value is None else ",".join(value) if name == "plugins" else str(value)
        for name, value in asdict(config).items()
    }


@dataclass(frozen=True)
class AppConfig:
    """The limits and options of one service app, checked once when it is built (the keyword arguments of
    :func:`pixgrade.serve.app.create_app`, sizes in bytes). :class:`ServeConfig` is the process's settings (file,
    environment, flags; sizes in MB), which :func:`pixgrade.serve.factory.app_from_config` turns into these.

    ``max_files`` is capped at ``max_queue`` (a request cannot hold more images than the service admits).

    Raises:
        ConfigError: a limit is not positive, ``max_wait_ms`` is negative, or ``api_key`` is empty.
    """

    api_key: str | None = None
    max_batch: int = 8
    max_wait_ms: float = 10.0
    max_queue: int = 64
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_files: int = 16
    max_bytes_in_flight: int = DEFAULT_MAX_BYTES_IN_FLIGHT
    decode_threads: int = 2
    heatmap_method: str = "gradcam"

    def __post_init__(self) -> None:
        limits = ("max_batch", "max_queue", "max_upload_bytes", "max_files", "max_bytes_in_flight", "decode_threads")
        for name in limits:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_wait_ms < 0:
            raise ConfigError(f"max_wait_ms must be >= 0, got {self.max_wait_ms}")
        if self.api_key is not None and not self.api_key:
            raise ConfigError("api_key must not be empty (pass None to serve without a key)")
        object.__setattr__(self, "max_files", min(self.max_files, self.max_queue))

    @property
    def max_body(self) -> int:
        """Largest request body of ``POST /v1/score`` (``max_files`` uploads plus multipart framing)."""
        from pixgrade.serve.uploads import body_limit

        return body_limit(self.max_upload_bytes, self.max_files)
