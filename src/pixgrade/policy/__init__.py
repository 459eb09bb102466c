"""Marketplace policies: rules and presets, the facts they test (background, fill, borders, overlaid text),
verdicts, and per-product decisions."""

from pixgrade.policy.analysis import ANALYSIS_VERSION, ImageFacts, analyse_image
from pixgrade.policy.decisions import Candidate, Decision, ProductSummary, decide
from pixgrade.policy.layout import background_mask, background_stats, detect_border, product_mask
from pixgrade.policy.rules import (
    Policy,
    Rule,
    RuleResult,
    Verdict,
    evaluate,
    image_metrics,
    list_presets,
    load_policy,
    parse_policy,
    preset_text,
)
from pixgrade.policy.text import available_text_detectors, detect_text, overlay_regions

__all__ = [
    "ANALYSIS_VERSION",
    "Candidate",
    "Decision",
    "ImageFacts",
    "Policy",
    "ProductSummary",
    "Rule",
    "RuleResult",
    "Verdict",
    "analyse_image",
    "available_text_detectors",
    "background_mask",
    "background_stats",
    "decide",
    "detect_border",
    "detect_text",
    "evaluate",
    "image_metrics",
    "list_presets",
    "load_policy",
    "overlay_regions",
    "parse_policy",
    "preset_text",
    "product_mask",
]
