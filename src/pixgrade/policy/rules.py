"""Policies: small YAML/TOML files of rules, each rule a threshold on one measured metric.

A rule yields a :class:`RuleResult` (pass/fail, measured value, threshold, plain-language reason); a policy
applied to one image yields a :class:`Verdict`. Hard rules (``action: reject``) reject the image; soft rules
(``action: warn``) only add a warning such as "below 1000 px: no zoom".

Metrics a rule can test (see :func:`image_metrics`):

- ``score`` (0–5, model), ``grade`` (0–5);
- ``factor.<name>`` (factor score in [0, 1], 1 = good), ``factor.<name>.value`` (raw value),
  ``factor.<name>.flag`` (true = problem), for every factor in ``pixgrade.measures.FACTOR_NAMES`` and every
  factor registered with ``pixgrade.measures.register_factor`` before the policy is loaded (on the command line:
  ``--plugin MODULE_OR_FILE``; an unknown factor is a ``ConfigError`` listing the known ones);
- ``severity.<name>`` (model severity in [0, 1], 1 = severe);
- ``width``, ``height``, ``longest_side``, ``shortest_side`` (pixels), ``aspect_ratio`` (width / height),
  ``megapixels``, ``format`` (Pillow name, e.g. ``JPEG``), ``file_bytes``;
- the marketplace facts of :class:`pixgrade.facts.ImageFacts`: ``white_background``, ``product_fill``,
  ``background_fraction``, ``border``, ``border_px``, ``overlay_text_regions``, ``text_regions``, ``text_area``.
"""

from __future__ import annotations

import operator
import tomllib
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from pixgrade.errors import ConfigError

__all__ = [
    "OPERATORS",
    "Policy",
    "Rule",
    "RuleResult",
    "Verdict",
    "evaluate",
    "image_metrics",
    "judge",
    "known_metrics",
    "list_presets",
    "load_policy",
    "parse_policy",
    "preset_text",
]

Action = Literal["reject", "warn"]
Value = float | int | bool | str | None

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
    "between": lambda v, t: t[0] <= v <= t[1],
    "in": lambda v, t: v in t,
    "not in": lambda v, t: v not in t,
}

_OP_WORDS = {
    ">=": "at least",
    ">": "more than",
    "<=": "at most",
    "<": "less than",
    "==": "exactly",
    "!=": "not",
    "between": "between",
    "in": "one of",
    "not in": "none of",
}

# metric -> (label, unit formatter)
_LABELS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "score": ("quality score", lambda v: f"{v:.2f}/5"),
    "grade": ("grade", lambda v: f"{v:g}/5"),
    "width": ("width", lambda v: f"{v:g} px"),
    "height": ("height", lambda v: f"{v:g} px"),
    "longest_side": ("longest side", lambda v: f"{v:g} px"),
    "shortest_side": ("shortest side", lambda v: f"{v:g} px"),
    "aspect_ratio": ("aspect ratio (width/height)", lambda v: f"{v:.2f}"),
    "megapixels": ("size", lambda v: f"{v:.1f} MP"),
    "format": ("file format", str),
    "file_bytes": ("file size", lambda v: f"{v / 1e6:.1f} MB"),
    "white_background": ("pure-white share of the background edge", lambda v: f"{v:.0%}"),
    "product_fill": ("share of the frame the product spans", lambda v: f"{v:.0%}"),
    "background_fraction": ("plain-backdrop share of the image", lambda v: f"{v:.0%}"),
    "border_px": ("added border", lambda v: f"{v:g} px"),
    "text_area": ("area covered by overlaid text", lambda v: f"{v:.1%}"),
    "text_regions": ("text regions (prints included)", lambda v: f"{v:g}"),
    "overlay_text_regions": ("overlaid text regions", lambda v: f"{v:g}"),
}


_BASIC_METRICS = (
    "score",
    "grade",
    "format",
    "file_bytes",
    "width",
    "height",
    "longest_side",
    "shortest_side",
    "aspect_ratio",
    "megapixels",
)
_POLICY_KEYS = {"name", "description", "sources", "rules"}


def known_metrics() -> list[str]:
    """Every metric a rule may name (what :func:`image_metrics` can fill), in a stable order."""
    from dataclasses import fields

    from pixgrade.degrade.registry import SEVERITY_CHANNELS
    from pixgrade.facts import ImageFacts
    from pixgrade.measures import list_factors

    names = list(_BASIC_METRICS)
    for factor in (spec.name for spec in list_factors()):  # built-in, then registered with register_factor
        names += [f"factor.{factor}", f"factor.{factor}.value", f"factor.{factor}.flag"]
    names += [f"severity.{name}" for name in SEVERITY_CHANNELS]
    names += [f.name for f in fields(ImageFacts) if f.name != "text_detector"]
    return names


def _fmt(metric: str, value: Any) -> str:
    if isinstance(value, list | tuple):
        return " and ".join(_fmt(metric, v) for v in value) if len(value) == 2 else ", ".join(map(str, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    label = _LABELS.get(metric)
    if label is not None and isinstance(value, int | float):
        return label[1](value)
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _label(metric: str) -> str:
    if metric in _LABELS:
        return _LABELS[metric][0]
    if metric.startswith("factor."):
        parts = metric.split(".")
        what = {"value": "value", "flag": "flagged"}.get(parts[2], "") if len(parts) > 2 else "score"
        return f"{parts[1]} {what}".strip()
    if metric.startswith("severity."):
        return f"{metric.split('.', 1)[1]} severity"
    return metric


@dataclass(frozen=True)
class Rule:
    """One rule: ``metric op value``; failing a ``reject`` rule rejects the image, a ``warn`` rule warns."""

    id: str
    metric: str
    op: str
    value: Any
    action: Action = "reject"
    message: str | None = None
    """Reason shown when the rule fails; ``{value}`` and ``{threshold}`` are filled in. A default is built from
    the metric's name when omitted."""

    def check(self, value: Value) -> RuleResult:
        """Test a measured value. A value that could not be measured (None) gives ``passed=None``."""
        threshold_text = f"{_OP_WORDS[self.op]} {_fmt(self.metric, self.value)}"
        if value is None:
            return RuleResult(
                self.id,
                self.metric,
                None,
                None,
                threshold_text,
                self.action,
                f"{_label(self.metric)} not measured; rule not applied",
            )
        try:
            passed = bool(OPERATORS[self.op](value, self.value))
        except TypeError:
            passed = False
        value_text = _fmt(self.metric, value)
        if passed:
            reason = f"{_label(self.metric)} {value_text} (needs {threshold_text})"
        elif self.message:
            reason = self.message.format(value=value_text, threshold=threshold_text)
        else:
            reason = f"{_label(self.metric)} is {value_text}; needs {threshold_text}"
        return RuleResult(self.id, self.metric, passed, value, threshold_text, self.action, reason)


@dataclass(frozen=True)
class RuleResult:
    """The outcome of one rule on one image."""

    rule: str
    metric: str
    passed: bool | None
    """True pass, False fail, None when the metric could not be measured."""
    value: Value
    threshold: str
    """The requirement in words, e.g. "at least 1000 px"."""
    action: Action
    reason: str

    @property
    def failed(self) -> bool:
        """True when the rule was applied and failed."""
        return self.passed is False


@dataclass(frozen=True)
class Verdict:
    """A policy's judgement of one image."""

    policy: str
    results: tuple[RuleResult, ...]
    error: str | None = None
    """The load error when the image could not be read (then it is rejected)."""

    @property
    def passed(self) -> bool:
        """No hard rule failed and the image could be read."""
        return self.error is None and not any(r.failed and r.action == "reject" for r in self.results)

    @property
    def failures(self) -> list[RuleResult]:
        """Hard rules that failed."""
        return [r for r in self.results if r.failed and r.action == "reject"]

    @property
    def warnings(self) -> list[RuleResult]:
        """Soft rules that failed, except those on a metric whose hard rule already failed (a photo rejected for
        "quality too low" is not also told "quality could be better")."""
        hard = {r.metric for r in self.failures}
        return [r for r in self.results if r.failed and r.action == "warn" and r.metric not in hard]

    @property
    def reasons(self) -> list[str]:
        """Plain-language reasons for rejection (the load error first)."""
        return ([f"could not read the image: {self.error}"] if self.error else []) + [r.reason for r in self.failures]

    @property
    def decision(self) -> str:
        """``"accept"`` or ``"reject"``."""
        return "accept" if self.passed else "reject"

    @property
    def rules(self) -> list[dict[str, Any]]:
        """Per-rule outcomes as JSON-ready dicts (``rule, passed, value, threshold, action, message``)."""
        return [
            {
                "rule": r.rule,
                "passed": r.passed,
                "value": r.value,
                "threshold": r.threshold,
                "action": r.action,
                "message": r.reason,
            }
            for r in self.results
        ]


@dataclass(frozen=True)
class Policy:
    """A named list of rules with the documents they come from."""

    name: str
    rules: tuple[Rule, ...]
    description: str = ""
    sources: tuple[str, ...] = field(default_factory=tuple)
    path: str | None = None

    def judge(self, result: Any, facts: Any | None = None, *, file_bytes: int | None = None) -> Verdict:
        """Apply the rules to one image (see :func:`judge`)."""
        return judge(self, result, facts, file_bytes=file_bytes)

    def evaluate(self, result: Any, facts: Any | None = None, *, file_bytes: int | None = None) -> Verdict:
        """Deprecated name of :meth:`judge` (``evaluate`` means model evaluation in pixgrade)."""
        _warn_evaluate("Policy.evaluate", "Policy.judge")
        return judge(self, result, facts, file_bytes=file_bytes)

    @property
    def metrics(self) -> set[str]:
        """The metrics its rules read."""
        return {r.metric for r in self.rules}


def _parse_rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: a rule must be a mapping with id, metric, op and value")
    missing = [k for k in ("metric", "op", "value") if k not in raw]
    if missing:
        raise ConfigError(f"{where}: missing {', '.join(missing)}")
    unknown = set(raw) - {"id", "metric", "op", "value", "action", "message"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    op = str(raw["op"])
    if op not in OPERATORS:
        raise ConfigError(f"{where}: unknown op {op!r}; choose one of {list(OPERATORS)}")
    value = raw["value"]
    if op == "between" and not (isinstance(value, list | tuple) and len(value) == 2):
        raise ConfigError(f"{where}: 'between' needs a value of two numbers [low, high]")
    if op in ("in", "not in") and not isinstance(value, list | tuple):
        raise ConfigError(f"{where}: {op!r} needs a list value")
    action = str(raw.get("action", "reject"))
    if action not in ("reject", "warn"):
        raise ConfigError(f"{where}: action must be 'reject' or 'warn', got {action!r}")
    metric = str(raw["metric"])
    if not metric:
        raise ConfigError(f"{where}: empty metric")
    known = known_metrics()
    if metric not in known:
        import difflib

        if metric.startswith("factor."):
            hint = _factor_hint(metric)
        else:
            close = difflib.get_close_matches(metric, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{where}: unknown metric {metric!r}{hint}; known metrics: {', '.join(known)}")
    return Rule(
        id=str(raw.get("id") or f"{metric} {op} {value}"),
        metric=metric,
        op=op,
        value=list(value) if isinstance(value, tuple) else value,
        action=action,  # type: ignore[arg-type]
        message=raw.get("message"),
    )


def _factor_hint(metric: str) -> str:
    """For a ``factor.<name>…`` metric that is not known: what is wrong with it, naming the factor and listing the
    known ones (built-in, then registered, e.g. by ``--plugin``)."""
    import difflib

    from pixgrade.measures import list_factors

    parts = metric.split(".")
    name = parts[1] if len(parts) > 1 else ""
    factors = [spec.name for spec in list_factors()]
    if name in factors:
        return f"; factor {name!r} has the metrics factor.{name} (score), factor.{name}.value and factor.{name}.flag"
    close = difflib.get_close_matches(name, factors, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (
        f": no factor {name!r}{hint}; known factors: {', '.join(factors)} (a custom factor is known once its module "
        "is loaded: --plugin MODULE_OR_FILE or $PIXGRADE_PLUGINS on the command line, see docs/factors.md)"
    )


def _rule_name(source: str, index: int, raw: Any) -> str:
    """``"<source>: rule 3 'min-size'"``: where an error in a rule is reported."""
    rule_id = raw.get("id") if isinstance(raw, Mapping) else None
    return f"{source}: rule {index + 1}" + (f" {str(rule_id)!r}" if rule_id else "")


def parse_policy(data: Any, source: str = "<policy>") -> Policy:
    """Build a :class:`Policy` from parsed YAML/TOML data; errors name ``source`` and the rule."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: a policy must be a mapping with 'name' and 'rules'")
    unknown = sorted(str(k) for k in data if k not in _POLICY_KEYS)
    if unknown:
        raise ConfigError(f"{source}: unknown keys {unknown}; a policy has {sorted(_POLICY_KEYS)}")
    rules_raw = data.get("rules")
    if not isinstance(rules_raw, list) or not rules_raw:
        raise ConfigError(f"{source}: 'rules' must be a non-empty list")
    rules = tuple(_parse_rule(r, _rule_name(source, i, r)) for i, r in enumerate(rules_raw))
    ids = [r.id for r in rules]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError(f"{source}: duplicate rule ids {duplicates}")
    sources = data.get("sources") or []
    return Policy(
        name=str(data.get("name") or Path(source).stem),
        rules=rules,
        description=str(data.get("description") or "").strip(),
        sources=tuple(str(s) for s in sources),
        path=None if source.startswith("<") else source,
    )


def list_presets() -> list[str]:
    """Names of the built-in policies."""
    folder = resources.files("pixgrade.policy") / "presets"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def preset_text(name: str) -> str:
    """The YAML text of a built-in policy (to copy and edit)."""
    if name not in list_presets():
        raise ConfigError(f"unknown policy preset {name!r}; built-in presets: {', '.join(list_presets())}")
    return (resources.files("pixgrade.policy") / "presets" / f"{name}.yaml").read_text(encoding="utf-8")


def load_policy(name_or_path: str | Path) -> Policy:
    """Load a built-in preset by name, or a policy file (``.yaml``, ``.yml`` or ``.toml``) by path."""
    text_name = str(name_or_path)
    path = Path(name_or_path)
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
            data = tomllib.loads(text) if path.suffix.lower() == ".toml" else yaml.safe_load(text)
        except (OSError, UnicodeDecodeError, yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read policy: {exc}") from exc
        return parse_policy(data, str(path))
    if text_name in list_presets():
        return parse_policy(yaml.safe_load(preset_text(text_name)), f"preset {text_name}")
    if path.suffix.lower() in (".yaml", ".yml", ".toml"):
        raise ConfigError(f"{path}: policy file not found")
    raise ConfigError(f"unknown policy {text_name!r}: not a file, nor a preset ({', '.join(list_presets())})")


def image_metrics(result: Any, facts: Any | None = None, file_bytes: int | None = None) -> dict[str, Value]:
    """Every metric a rule can test, from an ``ImageResult`` (duck-typed) and optional ``ImageFacts``."""
    metrics: dict[str, Value] = {
        "score": getattr(result, "score", None),
        "grade": getattr(result, "grade", None),
        "format": getattr(result, "format", None),
        "file_bytes": file_bytes,
    }
    width, height = getattr(result, "width", None), getattr(result, "height", None)
    metrics["width"], metrics["height"] = width, height
    if width and height:
        metrics["longest_side"] = max(width, height)
        metrics["shortest_side"] = min(width, height)
        metrics["aspect_ratio"] = width / height
        metrics["megapixels"] = width * height / 1e6
    for name, factor in (getattr(result, "factors", None) or {}).items():
        metrics[f"factor.{name}"] = factor.score
        metrics[f"factor.{name}.value"] = factor.value
        metrics[f"factor.{name}.flag"] = factor.flag
    for name, severity in (getattr(result, "severities", None) or {}).items():
        metrics[f"severity.{name}"] = severity
    if facts is not None:
        metrics.update(facts.to_dict() if hasattr(facts, "to_dict") else dict(facts))
    return metrics


def judge(policy: Policy, result: Any, facts: Any | None = None, *, file_bytes: int | None = None) -> Verdict:
    """Apply every rule of ``policy`` to one image.

    Args:
        policy: the rules.
        result: a ``pixgrade.pipeline.ImageResult`` (or any object with its attributes).
        facts: the image's :class:`~pixgrade.facts.ImageFacts` (needed by background, fill, border and
            text rules; without them those rules are "not measured").
        file_bytes: size of the file, for ``file_bytes`` rules.
    """
    error = getattr(result, "error", None)
    if error:
        return Verdict(policy.name, (), error=str(error))
    metrics = image_metrics(result, facts, file_bytes)
    return Verdict(policy.name, tuple(rule.check(metrics.get(rule.metric)) for rule in policy.rules))


def _warn_evaluate(old: str, new: str) -> None:
    warnings.warn(
        f"{old} is deprecated, use {new} (in pixgrade, 'evaluate' means evaluating the model)",
        DeprecationWarning,
        stacklevel=3,
    )


def evaluate(policy: Policy, result: Any, facts: Any | None = None, *, file_bytes: int | None = None) -> Verdict:
    """Deprecated name of :func:`judge`."""
    _warn_evaluate("pixgrade.policy.evaluate", "pixgrade.policy.judge")
    return judge(policy, result, facts, file_bytes=file_bytes)
