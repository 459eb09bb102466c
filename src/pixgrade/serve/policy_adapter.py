"""A thin adapter between the service and :mod:`pixgrade.policy` (marketplace rule presets with verdicts).

The service only needs two things from a policy: its name, and for one scored image a JSON-ready summary
``{"name", "decision", "rules": [{"rule", "passed", "message"}, ...]}``. Keeping that behind this class means the
HTTP layer does not change when the policy package's API evolves.
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from typing import Any

import numpy as np

from pixgrade.errors import ConfigError

__all__ = ["PolicyAdapter", "available_policies"]


def available_policies() -> list[str]:
    """Names of the policy presets known to :mod:`pixgrade.policy` (empty when it offers none)."""
    try:
        from pixgrade import policy as policy_module
    except ImportError:  # pragma: no cover - the package always exists
        return []
    for attr in ("list_presets", "list_policies", "available_presets"):
        fn = getattr(policy_module, attr, None)
        if callable(fn):
            return [str(n) for n in fn()]
    return []


def _to_jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _to_jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


class PolicyAdapter:
    """Applies one policy preset to scored images.

    Args:
        policy: a loaded policy object from :mod:`pixgrade.policy`.
        name: its preset name.
    """

    def __init__(self, policy: Any, name: str) -> None:
        self.policy = policy
        self.name = name

    @classmethod
    def load(cls, name: str) -> PolicyAdapter:
        """Load a preset by name (or a policy file path) through :mod:`pixgrade.policy`.

        Raises:
            ConfigError: the policy package offers no loader, or the name is unknown.
        """
        from pixgrade import policy as policy_module

        for attr in ("load_policy", "get_preset", "load_preset"):
            loader = getattr(policy_module, attr, None)
            if callable(loader):
                return cls(loader(name), name)
        raise ConfigError(f"cannot load policy {name!r}: pixgrade.policy offers no preset loader yet")

    def evaluate(self, result: Any, rgb: np.ndarray | None) -> dict[str, Any]:
        """The policy's decision and per-rule verdicts for one scored image, as JSON-ready data."""
        evaluate = getattr(self.policy, "evaluate", None)
        if not callable(evaluate):
            raise ConfigError(f"policy {self.name!r} has no evaluate method")
        decision = evaluate(result)
        verdicts = getattr(decision, "verdicts", None) or getattr(decision, "rules", None) or []
        rules = []
        for verdict in verdicts:
            data = _to_jsonable(verdict)
            if not isinstance(data, dict):
                data = {"rule": str(verdict)}
            rules.append(data)
        return {
            "name": self.name,
            "decision": _to_jsonable(getattr(decision, "decision", getattr(decision, "status", None))),
            "rules": rules,
        }
