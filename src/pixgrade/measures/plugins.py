"""Plugins: user modules whose import registers custom factors (:func:`~pixgrade.measures.register_factor`).

A plugin is named by a dotted module name importable on ``sys.path`` (``mycompany.factors``) or by the path of a
``.py`` file (``./redness.py``). :func:`load_plugins` imports each once per process and returns the names of the
factors it registered; the scorer adds those to the factors it measures, and worker processes (local workers,
Ray actors, the service's processes) load the same plugins from the settings they receive, since a spawned
process does not inherit the parent's registrations. ``PIXGRADE_PLUGINS`` (:data:`PLUGINS_ENV`) lists plugins
for commands given no ``--plugin``, separated by commas or :data:`os.pathsep`.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType

from pixgrade.errors import ConfigError
from pixgrade.measures import base

__all__ = ["PLUGINS_ENV", "absolute_plugins", "load_plugins", "parse_plugins", "plugin_factors", "plugins_from_env"]

#: The environment variable listing plugins (commas or ``os.pathsep`` between them).
PLUGINS_ENV = "PIXGRADE_PLUGINS"

#: plugin as given -> the factors it registered (one import per process, whatever the number of calls)
_LOADED: dict[str, tuple[str, ...]] = {}


def parse_plugins(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """Plugin names from ``"a.py,pkg.mod"`` (commas or :data:`os.pathsep`) or a list of such strings; blanks
    dropped, duplicates kept once, order kept."""
    if text is None:
        return ()
    parts = [text] if isinstance(text, str) else list(text)
    names: list[str] = []
    for part in parts:
        for name in re.split(f"[,{re.escape(os.pathsep)}]", str(part)):
            name = name.strip()
            if name and name not in names:
                names.append(name)
    return tuple(names)


def plugins_from_env(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The plugins listed in ``$PIXGRADE_PLUGINS`` (of ``env``, default the process environment)."""
    return parse_plugins((os.environ if env is None else env).get(PLUGINS_ENV))


def _is_file(name: str) -> bool:
    """A plugin ending in ``.py`` or holding a path separator is a file; anything else a dotted module name."""
    return name.endswith(".py") or "/" in name or os.sep in name


def absolute_plugins(plugins: Sequence[str]) -> tuple[str, ...]:
    """:func:`parse_plugins`, with files as absolute paths: what worker processes are sent (a Ray worker or a
    process with another working folder still finds ``./redness.py``)."""
    return tuple(str(Path(p).expanduser().absolute()) if _is_file(p) else p for p in parse_plugins(plugins))


def _module_name(path: Path) -> str:
    """A stable module name for a plugin file: the same in every process, so pickled objects of the plugin
    (a custom ``Factor`` subclass) unpickle anywhere it is loaded."""
    digest = hashlib.sha256(str(path).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    stem = re.sub(r"\W", "_", path.stem) or "plugin"
    return f"pixgrade_plugin_{stem}_{digest}"


def _import_file(name: str) -> ModuleType:
    path = Path(name).expanduser().resolve()
    if not path.is_file():
        raise ConfigError(f"plugin {name!r}: no such file ({path})")
    module_name = _module_name(path)
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"plugin {name!r}: {path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def _import_module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (name == missing or name.startswith(missing + ".")):
            raise ConfigError(
                f"plugin {name!r}: no module named {missing!r} on the Python path (give a dotted module name that "
                "can be imported, or the path of a .py file)"
            ) from None
        raise


def _factors_of(module: ModuleType, before: set[str]) -> tuple[str, ...]:
    """Factors the module registered: new in the registry since ``before``, or defined in the module (when it was
    already imported, by the caller or an earlier load)."""
    return tuple(
        spec.name
        for spec in base.list_factors()
        if spec.name not in before or getattr(spec.fn, "__module__", None) == module.__name__
    )


def _load_one(name: str) -> tuple[str, ...]:
    before = set(base._REGISTRY)
    try:
        module = _import_file(name) if _is_file(name) else _import_module(name)
    except ConfigError:
        raise
    except (Exception, SystemExit) as exc:
        for added in set(base._REGISTRY) - before:  # nothing half-registered stays behind
            base._REGISTRY.pop(added, None)
        raise ConfigError(f"plugin {name!r}: importing it failed: {type(exc).__name__}: {exc}") from None
    return _factors_of(module, before)


def load_plugins(plugins: Sequence[str]) -> tuple[str, ...]:
    """Import each plugin (once per process) and return the names of the factors they registered, in order.

    Raises:
        ConfigError: a plugin that cannot be found, or that raises while it is imported (the message names the
            plugin and the cause).
    """
    names: list[str] = []
    for plugin in parse_plugins(plugins):
        if plugin not in _LOADED:
            _LOADED[plugin] = _load_one(plugin)
        names += [n for n in _LOADED[plugin] if n not in names]
    return tuple(names)


def plugin_factors() -> dict[str, tuple[str, ...]]:
    """The plugins loaded in this process and the factors each registered."""
    return dict(_LOADED)
