"""Every rule of every preset on images with known answers; policy files; decisions per product."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixgrade.errors import ConfigError
from pixgrade.facts import ImageFacts
from pixgrade.measures import Factor
from pixgrade.pipeline import ImageResult
from pixgrade.policy import (
    Candidate,
    decide,
    judge,
    list_presets,
    load_policy,
    parse_policy,
    preset_text,
)


def good_facts(**changes: object) -> ImageFacts:
    base = dict(
        white_background=1.0,
        edge_r=255,
        edge_g=255,
        edge_b=255,
        background_fraction=0.3,
        product_fill=0.9,
        border=False,
        border_px=0,
        text_regions=0,
        overlay_text_regions=0,
        text_area=0.0,
        text_detector="db",
    )
    base.update(changes)
    return ImageFacts(**base)  # type: ignore[arg-type]


def good_result(**changes: object) -> ImageResult:
    factors = {n: Factor(n, 1.0, 0.9, False) for n in ("sharpness", "exposure")}
    result = ImageResult(path="a.jpg", score=4.2, grade=4, factors=factors, width=2000, height=2000, format="JPEG")
    for key, value in changes.items():
        setattr(result, key, value)
    return result


def test_presets_exist_and_load() -> None:
    assert {"amazon-main", "ebay", "walmart", "generic"} <= set(list_presets())
    for name in list_presets():
        policy = load_policy(name)
        assert policy.rules and policy.sources
        assert "rules:" in preset_text(name)


@pytest.mark.parametrize("name", ["amazon-main", "ebay", "walmart", "generic"])
def test_perfect_image_passes_every_preset(name: str) -> None:
    verdict = judge(load_policy(name), good_result(), good_facts())
    assert verdict.passed, verdict.reasons
    assert not verdict.warnings
    assert all(r.passed for r in verdict.results)


# (preset, rule id, result changes, facts changes, hard?)
CASES = [
    ("amazon-main", "readable-quality", {"score": 1.5}, {}, True),
    ("amazon-main", "good-quality", {"score": 3.0}, {}, False),
    ("amazon-main", "white-background", {}, {"white_background": 0.2}, True),
    ("amazon-main", "product-fill", {}, {"product_fill": 0.6}, True),
    ("amazon-main", "min-size", {"width": 400, "height": 300}, {}, True),
    ("amazon-main", "zoom-size", {"width": 800, "height": 800}, {}, False),
    ("amazon-main", "max-size", {"width": 12000, "height": 500}, {}, True),
    ("amazon-main", "no-text", {}, {"overlay_text_regions": 2}, True),
    ("amazon-main", "no-border", {}, {"border": True, "border_px": 10}, True),
    ("amazon-main", "file-format", {"format": "WEBP"}, {}, True),
    ("ebay", "readable-quality", {"score": 1.0}, {}, True),
    ("ebay", "good-quality", {"score": 2.5}, {}, False),
    ("ebay", "min-size", {"width": 400, "height": 400}, {}, True),
    ("ebay", "recommended-size", {"width": 1200, "height": 900}, {}, False),
    ("ebay", "no-text", {}, {"overlay_text_regions": 1}, True),
    ("ebay", "no-border", {}, {"border": True}, True),
    ("walmart", "readable-quality", {"score": 2.0}, {}, True),
    ("walmart", "white-background", {}, {"white_background": 0.5}, True),
    ("walmart", "square", {"width": 2000, "height": 1500}, {}, True),
    ("walmart", "zoom-size", {"width": 1200, "height": 1200}, {}, False),
    ("walmart", "no-text", {}, {"overlay_text_regions": 3}, True),
    ("generic", "min-quality", {"score": 2.0}, {}, True),
    ("generic", "good-quality", {"score": 3.0}, {}, False),
    (
        "generic",
        "sharp",
        {
            "factors": {
                "sharpness": Factor("sharpness", 1.0, 0.1, True),
                "exposure": Factor("exposure", 0.5, 0.9, False),
            }
        },
        {},
        False,
    ),
    (
        "generic",
        "exposed",
        {
            "factors": {
                "sharpness": Factor("sharpness", 1.0, 0.9, False),
                "exposure": Factor("exposure", 0.5, 0.1, True),
            }
        },
        {},
        False,
    ),
]


@pytest.mark.parametrize(
    ("preset", "rule", "result_changes", "fact_changes", "hard"), CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES]
)
def test_each_rule_fails_on_its_defect(
    preset: str, rule: str, result_changes: dict, fact_changes: dict, hard: bool
) -> None:
    policy = load_policy(preset)
    verdict = judge(policy, good_result(**result_changes), good_facts(**fact_changes))
    failed = {r.rule for r in verdict.results if r.failed}
    assert rule in failed
    outcome = next(r for r in verdict.results if r.rule == rule)
    assert outcome.value is not None and outcome.threshold and outcome.reason
    assert verdict.passed is (not hard)
    if not hard:
        assert rule in {w.rule for w in verdict.warnings}


def test_every_preset_rule_is_covered() -> None:
    covered = {(c[0], c[1]) for c in CASES}
    for name in list_presets():
        for rule in load_policy(name).rules:
            assert (name, rule.id) in covered, f"no test case for {name}:{rule.id}"


def test_reason_is_plain_language() -> None:
    verdict = judge(load_policy("amazon-main"), good_result(width=800, height=600), good_facts(product_fill=0.62))
    reasons = " | ".join(verdict.reasons + [w.reason for w in verdict.warnings])
    assert "product spans only 62% of the frame" in reasons
    assert "below 1000 px (longest side 800 px): no zoom" in reasons


def test_load_error_rejects_with_cause() -> None:
    verdict = judge(load_policy("generic"), ImageResult(path="x.jpg", error="not an image (HTML text)"))
    assert not verdict.passed
    assert verdict.reasons == ["could not read the image: not an image (HTML text)"]


def test_unmeasured_metric_does_not_fail() -> None:
    verdict = judge(load_policy("amazon-main"), good_result(), None)  # no facts: layout rules not applied
    skipped = [r for r in verdict.results if r.passed is None]
    assert {r.rule for r in skipped} >= {"white-background", "product-fill", "no-text", "no-border"}
    assert verdict.passed


def test_user_yaml_and_toml_policies(tmp_path: Path) -> None:
    yaml_file = tmp_path / "mine.yaml"
    yaml_file.write_text("name: mine\nrules:\n  - id: big\n    metric: longest_side\n    op: '>='\n    value: 3000\n")
    toml_file = tmp_path / "mine.toml"
    toml_file.write_text(
        'name = "t"\n[[rules]]\nid = "sq"\nmetric = "aspect_ratio"\nop = "between"\nvalue = [0.9, 1.1]\n'
        'action = "warn"\n'
    )
    assert not judge(load_policy(yaml_file), good_result(), good_facts()).passed
    verdict = judge(load_policy(toml_file), good_result(width=3000, height=1000), good_facts())
    assert verdict.passed and [w.rule for w in verdict.warnings] == ["sq"]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"rules": []}, "non-empty list"),
        ({"rules": [{"metric": "score", "op": ">=", "value": 1, "action": "maybe"}]}, "action must be"),
        ({"rules": [{"metric": "score", "op": "~", "value": 1}]}, "unknown op"),
        ({"rules": [{"metric": "score", "op": "between", "value": 1}]}, "two numbers"),
        ({"rules": [{"metric": "score", "value": 1}]}, "missing op"),
        (
            {
                "rules": [
                    {"id": "a", "metric": "score", "op": ">", "value": 1},
                    {"id": "a", "metric": "score", "op": "<", "value": 4},
                ]
            },
            "duplicate rule ids",
        ),
    ],
)
def test_bad_policy_is_refused_with_location(data: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_policy(data, "bad.yaml")


def test_unknown_policy_names_presets(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="amazon-main"):
        load_policy("amazon")
    with pytest.raises(ConfigError, match="not found"):
        load_policy(tmp_path / "missing.yaml")


def _cand(path: str, product: str, score: float | None, passed: bool, dup: str | None = None) -> Candidate:
    policy = load_policy("generic")
    result = good_result(path=path, score=score if passed else 1.0)
    verdict = judge(policy, result, None)
    return Candidate(path, product, score, verdict, dup)


def test_main_is_best_passing_image() -> None:
    decisions, products = decide(
        [
            _cand("a1", "A", 3.0, True),
            _cand("a2", "A", 4.5, False),
            _cand("a3", "A", 4.0, True),
            _cand("a4", "A", 4.8, True, dup="a3"),
        ]
    )
    by_path = {d.path: d for d in decisions}
    assert by_path["a3"].decision == "main" and by_path["a3"].main
    assert by_path["a1"].decision == "accept" and by_path["a2"].decision == "reject"
    assert by_path["a4"].decision == "duplicate" and by_path["a4"].duplicate_of == "a3"
    assert [by_path[p].rank for p in ("a3", "a1", "a2")] == [1, 2, 3]  # passing first, then by main score
    assert products[0].ranking == ["a3", "a1", "a2"] and products[0].main_passes


def test_no_passing_image_gives_best_available_with_reasons() -> None:
    decisions, products = decide([_cand("b1", "B", 2.0, False), _cand("b2", "B", 2.2, False)])
    main = [d for d in decisions if d.main]
    assert len(main) == 1 and main[0].path == "b2" and main[0].decision == "reject"
    assert "best available" in main[0].reasons[0] and len(main[0].reasons) > 1
    assert products[0].main == "b2" and not products[0].main_passes


@pytest.mark.parametrize(
    ("rule", "match"),
    [
        (
            {"id": "q", "metric": "scor", "op": ">=", "value": 2},
            r"rule 1 'q': unknown metric 'scor' \(did you mean 'score'\?\)",
        ),
        (
            {"id": "f", "metric": "factor.sharpnes.flag", "op": "==", "value": False},
            "unknown metric 'factor.sharpnes.flag'",
        ),
        ({"id": "s", "metric": "severity.nope", "op": "<", "value": 0.5}, "unknown metric 'severity.nope'"),
        ({"id": "o", "metric": "score", "op": "=>", "value": 2}, "rule 1 'o': unknown op '=>'"),
        ({"id": "k", "metric": "score", "op": ">=", "value": 2, "treshold": 3}, "rule 1 'k': unknown keys"),
    ],
)
def test_misspelt_rule_is_a_usage_error_naming_the_rule(rule: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        parse_policy({"name": "p", "rules": [rule]}, "mine.yaml")
    if "metric" in match:
        assert "known metrics: score, grade" in str(info.value) and "white_background" in str(info.value)


def test_every_preset_metric_is_known_and_unknown_policy_keys_are_refused() -> None:
    from pixgrade.policy.rules import known_metrics

    for name in list_presets():
        assert load_policy(name).metrics <= set(known_metrics())
    with pytest.raises(ConfigError, match=r"unknown keys \['rule'\]"):
        parse_policy({"name": "p", "rule": [], "rules": [{"metric": "score", "op": ">", "value": 1}]}, "x.yaml")


def test_filter_with_a_misspelt_metric_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pixgrade.cli.main import main

    policy = tmp_path / "bad.yaml"
    policy.write_text("name: bad\nrules:\n  - {id: min-quality, metric: scor, op: '>=', value: 2.5}\n")
    (tmp_path / "in").mkdir()
    code = main(
        ["filter", str(tmp_path / "in"), "--policy", str(policy), "-o", str(tmp_path / "out"), "--model", "none"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "min-quality" in err and "unknown metric 'scor'" in err and "known metrics" in err
    assert not (tmp_path / "out").exists()


def test_evaluate_is_a_deprecated_alias_of_judge() -> None:
    """``evaluate`` names model evaluation in pixgrade; the policy's old ``evaluate`` names still work, warned."""
    import pixgrade.policy as policy_module

    policy = load_policy("amazon-main")
    expected = judge(policy, good_result(), good_facts())
    assert policy.judge(good_result(), good_facts()) == expected
    with pytest.warns(DeprecationWarning, match="use pixgrade.policy.judge"):
        assert policy_module.evaluate(policy, good_result(), good_facts()) == expected
    with pytest.warns(DeprecationWarning, match="use Policy.judge"):
        assert policy.evaluate(good_result(), good_facts()) == expected
