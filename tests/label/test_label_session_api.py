"""The labelling service without a browser: next item, judgements, undo, two annotators, OpenAPI, adapt."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import make_photos
from fastapi.testclient import TestClient
from PIL import Image
from scipy import stats

from pixgrade.catalog.judgements import JudgementStore
from pixgrade.label.session import LabelSession
from pixgrade.label.transfer import register_images
from pixgrade.serve.labelling import create_label_app


def _client(tmp_path: Path, n: int = 12, model: str | None = None, strategy: str = "random") -> TestClient:
    make_photos(tmp_path / "photos", n)
    store = JudgementStore(tmp_path / "cat.sqlite")
    register_images(store, [tmp_path / "photos"])
    session = LabelSession(store, strategy=strategy, model=model, overlap=0.0)
    return TestClient(create_label_app(session, standard=tmp_path / "absent.md"))


def test_grades_are_stored_undone_and_survive_a_restart(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        seen = []
        for grade in (1, 2, 3):
            item = client.get("/v1/label/next", params={"annotator": "ann"}).json()
            assert item["kind"] == "grade" and len(item["images"]) == 1
            sha = item["images"][0]["sha256"]
            assert client.get(item["images"][0]["url"]).status_code == 200
            assert sha not in seen
            seen.append(sha)
            body = {"annotator": "ann", "kind": "grade", "sha256": sha, "value": grade}
            assert client.post("/v1/label/judgements", json=body).status_code == 200
        assert client.post("/v1/label/undo", json={"annotator": "ann"}).json()["undone"]["sha256"] == seen[-1]
        bad = client.post(
            "/v1/label/judgements", json={"annotator": "ann", "kind": "grade", "sha256": seen[0], "value": 9}
        )
        assert bad.status_code == 422
        unknown = {"annotator": "ann", "kind": "grade", "sha256": "0" * 64, "value": 1}
        assert client.post("/v1/label/judgements", json=unknown).status_code == 404
    with _client(tmp_path) as client:  # a new server on the same catalogue
        status = client.get("/v1/label/status", params={"annotator": "ann"}).json()
        assert status["mine"]["grades"] == 2 and status["graded_images"] == 2
        assert [r["value"] for r in status["mine"]["recent"]] == [2, 1]
        standard = client.get("/v1/label/standard").json()  # docs/grading.md of the source tree, else built in
        if standard["source"] is None:
            assert "<table>" in standard["html"]
        else:
            assert standard["source"].endswith("grading.md") and "grading standard" in standard["html"].lower()


def test_two_annotators_at_once_get_different_images_and_lose_nothing(tmp_path: Path) -> None:
    with _client(tmp_path, n=20) as client:
        shown: dict[str, list[str]] = {"ann": [], "bob": []}
        errors: list[str] = []

        def work(name: str) -> None:
            for _ in range(8):
                item = client.get("/v1/label/next", params={"annotator": name}).json()
                sha = item["images"][0]["sha256"]
                shown[name].append(sha)
                body = {"annotator": name, "kind": "grade", "sha256": sha, "value": 3}
                if client.post("/v1/label/judgements", json=body).status_code != 200:
                    errors.append(sha)

        threads = [threading.Thread(target=work, args=(n,)) for n in shown]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert not set(shown["ann"]) & set(shown["bob"])
        assert client.get("/v1/label/status").json()["judgements"] == {"grade": 16}


def test_pairs_mode_and_the_openapi_documents_labelling_and_adapt(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        item = client.get("/v1/label/next", params={"annotator": "ann", "mode": "pairs"}).json()
        assert item["kind"] == "pair" and len({i["sha256"] for i in item["images"]}) == 2
        left, right = (i["sha256"] for i in item["images"])
        body = {"annotator": "ann", "kind": "pair", "sha256": left, "other_sha256": right, "value": 0.5}
        assert client.post("/v1/label/judgements", json=body).status_code == 200
        paths = client.get("/openapi.json").json()["paths"]
        for path in ("/v1/label/next", "/v1/label/judgements", "/v1/label/undo", "/v1/label/status", "/v1/adapt"):
            assert path in paths, path
        assert client.get("/label").status_code == 200


@pytest.mark.slow
def test_active_selection_and_adapt_move_the_ranking_toward_the_labels(tmp_path: Path, tiny_base: Path) -> None:
    from pixgrade.cli.main import main
    from pixgrade.model.predictor import load_predictor

    photos = make_photos(tmp_path / "photos", 40, seed=1)
    store = JudgementStore(tmp_path / "cat.sqlite")
    register_images(store, [tmp_path / "photos"])
    session = LabelSession(store, strategy="active", model=str(tiny_base))
    session.start_features()
    assert session.wait_features(120)
    redness = {p.name: r for p, r in photos}
    names = {sha: Path(path).name for sha, path in store.images()}
    labelled = []
    for _ in range(28):  # the team's standard: the redder, the better
        sha = session.next_item("ann").images[0]
        labelled.append(sha)
        session.record("ann", "grade", sha, round(redness[names[sha]]))
    assert len(set(labelled)) == 28
    store.close()
    out = tmp_path / "team.safetensors"
    assert (
        main(
            [
                "adapt",
                "--catalog",
                str(tmp_path / "cat.sqlite"),
                "--base",
                str(tiny_base),
                "-o",
                str(out),
                "--folds",
                "3",
                "--no-int8",
            ]
        )
        == 0
    )
    held_out = make_photos(tmp_path / "new", 20, seed=2)  # photos the adaptation never saw

    def srcc(model: Path) -> float:
        predictor = load_predictor(model, backend="torch")
        images = [np.asarray(Image.open(p).convert("RGB")) for p, _ in held_out]
        scores = [o.score for o in predictor.predict(images)]
        return float(stats.spearmanr(scores, [r for _, r in held_out])[0])

    before, after = srcc(tiny_base), srcc(out)
    assert after > before + 0.2 and after > 0.6, (before, after)
