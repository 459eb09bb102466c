"""Marketplace policies: rules and presets that judge an image's scores and its facts (measured by
:mod:`pixgrade.facts`: background, fill, borders, overlaid text), verdicts, and per-product decisions."""

from pixgrade.policy.decisions import Candidate, Decision, ProductSummary, decide
from pixgrade.policy.rules import (
    Policy,
    Rule,
    RuleResult,
    Verdict,
    evaluate,
    image_metrics,
    judge,
    list_presets,
    load_policy,
    parse_policy,
    preset_text,
)

__all__ = [
    "Candidate",
    "Decision",
    "Policy",
    "ProductSummary",
    "Rule",
    "RuleResult",
    "Verdict",
    "decide",
    "evaluate",
    "image_metrics",
    "judge",
    "list_presets",
    "load_policy",
    "parse_policy",
    "preset_text",
]
