"""Applies a :mod:`pixgrade.policy` preset (marketplace rules) to scored images, as JSON-ready verdicts.

Rules on marketplace facts (white background, product fill, borders, overlaid text) need the facts the per-image
stage measures (:func:`pixgrade.pipeline.analysis.analyse` with ``facts`` on, ``ImageResult.facts``): the service
asks for them only when the policy has such rules, with the same settings as ``pixgrade filter``, so both give the
same facts and verdicts.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

import numpy as np

from pixgrade.facts import ImageFacts

__all__ = ["PolicyAdapter"]


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class PolicyAdapter:
    """One loaded :class:`pixgrade.policy.Policy` and what the service needs from it.

    Args:
        policy: the loaded policy.
        text_detector: the facts' text detector when facts are needed (``auto``: the scorer's).
    """

    def __init__(self, policy: Any, text_detector: str = "auto") -> None:
        self.policy = policy
        self.name = str(policy.name)
        self.text_detector = text_detector
        fact_names = {f.name for f in fields(ImageFacts)}
        self.needs_facts = bool(set(policy.metrics) & fact_names)

    @classmethod
    def load(cls, name_or_path: str) -> PolicyAdapter:
        """Load a preset by name or a policy file by path.

        Raises:
            ConfigError: unknown preset, unreadable or invalid file (the message lists the presets).
        """
        from pixgrade.policy import load_policy

        return cls(load_policy(name_or_path))

    def judge(self, result: Any, file_bytes: int | None = None) -> dict[str, Any]:
        """The verdict on one scored image (its facts from ``result.facts``): ``name, decision
        ("accept"/"reject"), passed, reasons, warnings, rules`` (each rule: ``rule, passed, value, threshold,
        action, message``)."""
        facts = getattr(result, "facts", None) if self.needs_facts else None
        verdict = self.policy.judge(result, facts, file_bytes=file_bytes)
        rules = [{k: _jsonable(v) for k, v in rule.items()} for rule in verdict.rules]
        return {
            "name": self.name,
            "decision": verdict.decision,
            "passed": bool(verdict.passed),
            "reasons": list(verdict.reasons),
            "warnings": [w.reason for w in verdict.warnings],
            "rules": rules,
        }
