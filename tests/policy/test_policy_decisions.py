"""The ranking behind main images, duplicate keeping and best-available choice (pixgrade.policy.decisions)."""

from __future__ import annotations

from pixgrade.model.presentation import main_score
from pixgrade.policy import Candidate, Verdict, decide, load_policy
from pixgrade.policy.rules import RuleResult


def _verdict(failures: int) -> Verdict:
    """A verdict with ``failures`` failed hard rules (and one passed rule)."""
    results = [RuleResult("quality", "score", True, 4.0, "at least 2.5", "reject", "ok")]
    results += [
        RuleResult(f"rule{i}", f"metric{i}", False, 0.0, "something", "reject", f"fails rule {i}")
        for i in range(failures)
    ]
    return Verdict("test", tuple(results))


def _cand(
    path: str,
    score: float,
    presentation: float | None = None,
    failures: int = 0,
    *,
    product: str = "P",
    pixels: int = 500 * 500,
    sha: str | None = None,
    cluster: str | None = None,
) -> Candidate:
    return Candidate(
        path,
        product,
        score,
        _verdict(failures),
        presentation=presentation,
        main_score=main_score(score, presentation),
        cluster=cluster,
        pixels=pixels,
        sha256=sha or f"{abs(hash(path)):064x}"[:64],
    )


def _main(decisions: list) -> str:
    mains = [d for d in decisions if d.main]
    assert len(mains) == 1
    return mains[0].path


def test_studio_shot_beats_larger_better_graded_phone_photos() -> None:
    studio = _cand("zz_studio.jpg", 3.2, presentation=0.92, pixels=224 * 224)
    phones = [_cand(f"a_phone{i}.jpg", 4.0 + 0.1 * i, presentation=0.08, pixels=348 * 348) for i in range(5)]
    decisions, products = decide([*phones, studio])
    assert _main(decisions) == "zz_studio.jpg"
    assert products[0].ranking[0] == "zz_studio.jpg" and products[0].main_passes


def test_ties_go_to_more_pixels_then_content_hash_never_to_the_name() -> None:
    small = _cand("a.jpg", 3.5, 0.8, pixels=300 * 300, sha="1" * 64)
    large = _cand("b.jpg", 3.5, 0.8, pixels=600 * 600, sha="f" * 64)
    assert _main(decide([small, large])[0]) == "b.jpg"
    assert _main(decide([large, small])[0]) == "b.jpg"
    # Same pixels: the SHA-256 order decides, whatever the names and the input order.
    x = _cand("a.jpg", 3.5, 0.8, sha="2" * 64)
    y = _cand("b.jpg", 3.5, 0.8, sha="1" * 64)
    assert _main(decide([x, y])[0]) == "b.jpg"
    assert _main(decide([y, x])[0]) == "b.jpg"
    renamed_x = _cand("z.jpg", 3.5, 0.8, sha="2" * 64)
    assert _main(decide([renamed_x, y])[0]) == "b.jpg"
    # Differences below a hundredth of the main score count as a tie (then pixels decide).
    near = _cand("c.jpg", 3.501, 0.8, pixels=300 * 300)
    assert _main(decide([near, large])[0]) == "b.jpg"


def test_no_passing_image_picks_fewest_failures_then_best_main_score() -> None:
    decisions, products = decide(
        [
            _cand("best_grade.jpg", 4.8, 0.9, failures=2),
            _cand("one_fail_low.jpg", 2.0, 0.5, failures=1),
            _cand("one_fail_high.jpg", 3.0, 0.5, failures=1),
            _cand("three.jpg", 4.9, 0.95, failures=3),
        ]
    )
    by_path = {d.path: d for d in decisions}
    assert _main(decisions) == "one_fail_high.jpg"
    chosen = by_path["one_fail_high.jpg"]
    assert chosen.decision == "reject" and "best available" in chosen.reasons[0] and "1 hard rule" in chosen.reasons[0]
    assert [by_path[p].rank for p in ("one_fail_high.jpg", "one_fail_low.jpg", "best_grade.jpg", "three.jpg")] == [
        1,
        2,
        3,
        4,
    ]
    assert not products[0].main_passes and products[0].main_failures == 1


def test_duplicate_cluster_keeps_its_best_passing_copy_and_says_why() -> None:
    failing_sharp = _cand("copy_big.jpg", 4.6, 0.9, failures=1, cluster="dup-1", pixels=2000 * 2000)
    passing = _cand("copy_small.jpg", 3.1, 0.9, cluster="dup-1", pixels=400 * 400)
    passing_worse = _cand("copy_worse.jpg", 2.9, 0.9, cluster="dup-1", pixels=400 * 400)
    other = _cand("other.jpg", 2.6, 0.2)
    decisions, products = decide([failing_sharp, passing, passing_worse, other])
    by_path = {d.path: d for d in decisions}
    assert by_path["copy_small.jpg"].decision == "main" and by_path["copy_small.jpg"].cluster == "dup-1"
    assert any("kept copy of duplicate cluster dup-1" in n for n in by_path["copy_small.jpg"].notes)
    for path in ("copy_big.jpg", "copy_worse.jpg"):
        d = by_path[path]
        assert (
            d.decision == "duplicate" and d.duplicate_of == "copy_small.jpg" and d.cluster == "dup-1" and d.rank is None
        )
        assert "duplicate cluster dup-1, 3 copies" in d.reasons[0]
    assert "passes the policy" in by_path["copy_big.jpg"].reasons[0]
    assert "fails rule 0" in by_path["copy_big.jpg"].reasons  # its own failures are still listed
    assert "main score is higher" in by_path["copy_worse.jpg"].reasons[0]
    assert products[0].ranking == ["copy_small.jpg", "other.jpg"]


def test_duplicate_cluster_of_all_failing_copies_keeps_the_fewest_failures() -> None:
    decisions, _ = decide(
        [_cand("a.jpg", 4.0, 0.9, failures=2, cluster="dup-3"), _cand("b.jpg", 3.0, 0.9, 1, cluster="dup-3")]
    )
    by_path = {d.path: d for d in decisions}
    assert by_path["b.jpg"].main and by_path["a.jpg"].decision == "duplicate"
    assert "fewer hard rules (1 against 2)" in by_path["a.jpg"].reasons[0]


def test_without_presentation_the_grade_ranks() -> None:
    decisions, _ = decide([_cand("a.jpg", 3.0), _cand("b.jpg", 4.0)])
    assert _main(decisions) == "b.jpg"


def test_main_score_combines_grade_and_presentation() -> None:
    assert main_score(5.0, 1.0) == 1.0
    assert main_score(5.0, 0.0) == 0.0 and main_score(0.0, 1.0) == 0.0
    assert main_score(3.0, None) == 0.6 and main_score(None, 0.5) is None
    assert main_score(3.0, 0.9) > main_score(4.5, 0.1)  # type: ignore[operator]


def test_unreadable_images_are_never_main() -> None:
    policy = load_policy("generic")
    broken = Candidate("x.jpg", "P", None, Verdict(policy.name, (), error="not an image"))
    decisions, products = decide([broken])
    assert not decisions[0].main and decisions[0].decision == "reject" and products[0].main is None
