"""``--plugin MODULE_OR_FILE`` (and ``$PIXGRADE_PLUGINS``): custom factors on the command line.

A tiny "redness" factor module is written to tmp_path; its factor must reach ``score``'s columns (in this process
and in spawned worker processes), ``filter``'s policy rules and the service's settings, and a plugin that cannot
be loaded must be a usage error (exit 2) naming it.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixgrade.cli.main import main
from pixgrade.errors import ConfigError
from pixgrade.measures import FACTOR_NAMES, base, plugins

PLUGIN = '''
"""A test plugin: how much redder than grey an image is (its reason names the process that measured it)."""
import os

from pixgrade.measures import Factor, register_factor


@register_factor(
    "redness",
    description="mean red minus the mean of green and blue",
    unit="grey levels, -255..255",
    direction="lower is better",
    threshold="> 50",
)
def redness(prep):
    rgb = prep.rgb.astype(float)
    value = float(rgb[..., 0].mean() - (rgb[..., 1].mean() + rgb[..., 2].mean()) / 2)
    score = min(1.0, max(0.0, 1.0 - value / 200.0))
    reason = f"too red (measured in process {os.getpid()})" if value > 50 else None
    return Factor("redness", value, score, value > 50, reason)
'''


@pytest.fixture(autouse=True)
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The factor registry and the loaded plugins are per process: put them back after each test."""
    monkeypatch.delenv(plugins.PLUGINS_ENV, raising=False)
    registry, loaded, modules = dict(base._REGISTRY), dict(plugins._LOADED), set(sys.modules)
    yield
    base._REGISTRY.clear()
    base._REGISTRY.update(registry)
    plugins._LOADED.clear()
    plugins._LOADED.update(loaded)
    for name in set(sys.modules) - modules:
        if name.startswith(("pixgrade_plugin_", "redplug")):
            del sys.modules[name]


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    path = tmp_path / "plugins" / "redness.py"
    path.parent.mkdir()
    path.write_text(PLUGIN, encoding="utf-8")
    return path


def images(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Two flat 48x40 pictures (a flat image measures exactly its colour): one red, one grey."""
    folder.mkdir(parents=True, exist_ok=True)
    colours = {"red.png": (200, 20, 40), "grey.png": (128, 128, 128)}
    for name, colour in colours.items():
        Image.fromarray(np.full((40, 48, 3), colour, np.uint8)).save(folder / name)
    return colours


def rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return {Path(r["path"]).name: r for r in csv.DictReader(fh)}


@pytest.mark.parametrize("workers", ["0", "2"])
def test_score_with_a_plugin_file_gives_its_columns(tmp_path: Path, plugin: Path, workers: str) -> None:
    colours = images(tmp_path / "imgs")
    out = tmp_path / "results.csv"
    code = main(["score", str(tmp_path / "imgs"), "--model", "none", "--no-progress", "--workers", workers,
                 "--plugin", str(plugin), "-o", str(out)])  # fmt: skip
    assert code == 0
    got = rows(out)
    header = list(next(iter(got.values())))
    # after the built-in factors' columns, before the severities
    assert header.index("redness_score") > header.index(f"{FACTOR_NAMES[-1]}_value")
    assert header[header.index("redness_score") : header.index("redness_score") + 3] == [
        "redness_score",
        "redness_flag",
        "redness_value",
    ]
    r, g, b = colours["red.png"]
    assert float(got["red.png"]["redness_value"]) == pytest.approx(r - (g + b) / 2, abs=0.01)
    assert float(got["red.png"]["redness_score"]) == pytest.approx(1 - 170 / 200, abs=1e-3)
    assert got["red.png"]["redness_flag"] == "True" and "too red" in got["red.png"]["reasons"]
    assert float(got["grey.png"]["redness_value"]) == pytest.approx(0.0, abs=0.01)
    assert got["grey.png"]["redness_flag"] == "False"
    assert not any(row["error"] for row in got.values())
    measured_here = f"measured in process {os.getpid()})" in got["red.png"]["reasons"]
    assert measured_here == (workers == "0")  # with --workers 2, a spawned worker process loaded the plugin
    if workers == "0":  # the HTML page draws its bar as a built-in factor's
        page = tmp_path / "page.html"
        assert main(["score", str(tmp_path / "imgs"), "--model", "none", "--no-progress", "--workers", "0",
                     "--plugin", str(plugin), "--html", str(page)]) == 0  # fmt: skip
        assert page.read_text(encoding="utf-8").count("redness") >= 2


def test_a_dotted_module_and_the_environment_variable(
    tmp_path: Path, plugin: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    package = tmp_path / "path" / "redplug"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "factors.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path / "path"))
    monkeypatch.setenv(plugins.PLUGINS_ENV, "redplug.factors")
    images(tmp_path / "imgs")
    assert main(["score", str(tmp_path / "imgs" / "red.png"), "--model", "none", "--no-progress", "-o", "-"]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert row["redness_value"] == pytest.approx(170.0, abs=0.01)


def test_filter_policy_rule_on_a_plugin_factor(
    tmp_path: Path, plugin: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images(tmp_path / "shop" / "SKU1")
    policy = tmp_path / "red.yaml"
    policy.write_text(
        textwrap.dedent("""\
            name: not-too-red
            rules:
              - id: not-red
                metric: factor.redness.value
                op: "<="
                value: 50
                message: "too red: {value}"
        """)
    )
    out = tmp_path / "out"
    fast = ["--model", "none", "--workers", "0", "--text-detector", "classical", "--duplicates", "off"]
    # a first run without the plugin stores results without the factor in the catalogue: they must not be reused
    assert main(["filter", str(tmp_path / "shop"), "-o", str(out), "--no-files", *fast]) == 0
    capsys.readouterr()
    code = main(["filter", str(tmp_path / "shop"), "--policy", str(policy), "-o", str(out), "--no-files", *fast,
                 "--plugin", str(plugin)])  # fmt: skip
    assert code == 0
    assert "0 unchanged (stored scores reused), 2 to score" in capsys.readouterr().err
    decisions = rows(out / "decisions.csv")
    assert decisions["red.png"]["decision"] == "reject" and "too red: 170" in decisions["red.png"]["reasons"]
    assert decisions["grey.png"]["decision"] in ("main", "accept")


def test_a_policy_naming_an_unknown_factor_lists_the_known_ones(
    tmp_path: Path, plugin: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images(tmp_path / "shop")
    policy = tmp_path / "p.yaml"
    policy.write_text("name: p\nrules:\n  - {id: r, metric: factor.rednes, op: '<', value: 0.5}\n")
    code = main(["filter", str(tmp_path / "shop"), "--policy", str(policy), "--dry-run", "--model", "none",
                 "--plugin", str(plugin)])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "no factor 'rednes' (did you mean 'redness'?)" in err
    assert "known factors: sharpness" in err and "centring, redness" in err
    # without the plugin the factor is unknown, and the message says how to make it known
    code = main(["filter", str(tmp_path / "shop"), "--policy", str(policy), "--dry-run", "--model", "none"])
    assert code == 2 and "--plugin MODULE_OR_FILE" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d: str(d / "nowhere.py"), "plugin '{arg}': no such file"),
        (lambda d: "no_such_pixgrade_plugin.factors", "plugin '{arg}': no module named 'no_such_pixgrade_plugin'"),
        (
            lambda d: (d / "boom.py").write_text("raise RuntimeError('kaboom')\n") and str(d / "boom.py"),
            "plugin '{arg}': importing it failed: RuntimeError: kaboom",
        ),
        (
            lambda d: (d / "dup.py").write_text(PLUGIN.replace('"redness",', '"sharpness",')) and str(d / "dup.py"),
            "plugin '{arg}': importing it failed: ValueError: factor 'sharpness' is already registered",
        ),
    ],
    ids=["missing-file", "missing-module", "raises", "duplicate-name"],
)
def test_a_plugin_that_cannot_be_loaded_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make, expected: str
) -> None:  # type: ignore[no-untyped-def]
    arg = make(tmp_path)
    images(tmp_path / "imgs")
    for command in (["score", str(tmp_path / "imgs")], ["filter", str(tmp_path / "imgs"), "--dry-run"]):
        code = main([*command, "--model", "none", "--no-progress", "--plugin", arg])
        err = capsys.readouterr().err
        assert code == 2, err
        assert expected.format(arg=arg) in err and "Traceback" not in err


def test_a_plugin_that_raises_leaves_nothing_registered(tmp_path: Path) -> None:
    half = tmp_path / "half.py"
    half.write_text(PLUGIN + "\nraise ImportError('missing dependency')\n")
    with pytest.raises(ConfigError, match="ImportError: missing dependency"):
        plugins.load_plugins([str(half)])
    assert "redness" not in base._REGISTRY


def test_plugins_are_loaded_once_and_listed_by_the_environment(plugin: Path) -> None:
    assert plugins.parse_plugins(f" a.b ,{plugin}, ,a.b") == ("a.b", str(plugin))
    assert plugins.load_plugins([str(plugin)]) == ("redness",)
    assert plugins.load_plugins([str(plugin)]) == ("redness",)  # a second load imports nothing again
    assert plugins.plugins_from_env({plugins.PLUGINS_ENV: f"{plugin}"}) == (str(plugin),)


def test_workers_are_sent_absolute_plugin_paths(tmp_path: Path, plugin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pixgrade.pipeline import Scorer

    monkeypatch.chdir(plugin.parent)
    scorer = Scorer("none", plugins=["redness.py", "pixgrade.measures.colour"])
    assert scorer.settings.plugins == (str(plugin), "pixgrade.measures.colour")  # another working folder finds it
    assert scorer.factor_names == (*FACTOR_NAMES, "redness")
    monkeypatch.chdir(tmp_path)
    assert "redness" in plugins.load_plugins(scorer.settings.plugins)  # the same module, not imported twice


def test_serve_settings_carry_the_plugins_to_worker_processes(plugin: Path, tmp_path: Path) -> None:
    from pixgrade.serve.config import config_to_env, load_config

    config = load_config(None, env={"PIXGRADE_PLUGINS": f"{plugin},redplug.factors"})
    assert config.plugins == (str(plugin), "redplug.factors")
    assert load_config(None, env=config_to_env(config)) == config  # what each worker process reads back
    assert load_config(None, env={}, flags={"plugins": [str(plugin)]}).plugins == (str(plugin),)
    file = tmp_path / "serve.yaml"
    file.write_text(f"plugins: [{plugin}]\n")
    assert load_config(file, env={}).plugins == (str(plugin),)


def test_explain_prints_the_plugin_factor(tmp_path: Path, plugin: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    from pixgrade.model import create_model
    from pixgrade.model.checkpoint import save_checkpoint

    torch.manual_seed(0)
    checkpoint = tmp_path / "random.safetensors"
    save_checkpoint(checkpoint, create_model(pretrained_backbone=False), {"note": "random weights for tests"})
    images(tmp_path / "imgs")
    red = str(tmp_path / "imgs" / "red.png")
    args = ["explain", red, "--model", str(checkpoint), "--plugin", str(plugin)]
    assert main([*args, "-o", str(tmp_path / "a.png")]) == 0
    text = capsys.readouterr().out
    assert "redness" in text and "<- problem" in text.split("redness", 1)[1].splitlines()[0]
    assert main([*args, "-o", str(tmp_path / "b.png"), "--json"]) == 0
    factor = json.loads(capsys.readouterr().out)["factors"]["redness"]
    assert factor["value"] == pytest.approx(170.0, abs=0.01) and factor["flag"] is True


def test_the_service_measures_and_judges_a_plugin_factor(plugin: Path, tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    import io

    from fastapi.testclient import TestClient

    from pixgrade.serve.config import load_config
    from pixgrade.serve.factory import app_from_config

    policy = tmp_path / "red.yaml"
    policy.write_text("name: red\nrules:\n  - {id: not-red, metric: factor.redness.value, op: '<=', value: 50}\n")
    # what a worker process of `pixgrade serve --workers N --plugin FILE` builds from its environment
    config = load_config(
        None, env={"PIXGRADE_PLUGINS": str(plugin), "PIXGRADE_MODEL": "none", "PIXGRADE_POLICY": str(policy)}
    )
    with TestClient(app_from_config(config)) as client:
        assert "redness" in [f["name"] for f in client.get("/v1/factors").json()]
        data = io.BytesIO()
        Image.fromarray(np.full((40, 48, 3), (200, 20, 40), np.uint8)).save(data, "PNG")
        answer = client.post("/v1/score", files=[("files", ("red.png", data.getvalue(), "image/png"))])
        assert answer.status_code == 200, answer.text
        result = answer.json()["results"][0]
    assert result["factors"]["redness"]["value"] == pytest.approx(170.0, abs=0.01)
    assert result["policy"]["decision"] == "reject"


def test_the_python_api_takes_plugins(plugin: Path, tmp_path: Path) -> None:
    import pixgrade

    red = np.full((40, 48, 3), (200, 20, 40), np.uint8)
    frame = pixgrade.score([red], model="none", plugins=[str(plugin)]).to_pandas()
    assert frame["redness_value"].iloc[0] == pytest.approx(170.0, abs=0.01)
    policy = tmp_path / "red.yaml"
    policy.write_text("name: red\nrules:\n  - {id: not-red, metric: factor.redness, op: '>=', value: 0.5}\n")
    assert pixgrade.filter([red], policy=str(policy), model="none", plugins=[str(plugin)])[0].decision == "reject"
    scorer = pixgrade.load_model("none")
    with pytest.raises(ConfigError, match="load_model"):
        pixgrade.score([red], model=scorer, plugins=[str(plugin)])
    with_plugin = pixgrade.load_model("none", plugins=[str(plugin)])
    assert "redness" in with_plugin.factor_names
    assert "redness" in pixgrade.filter([red], str(policy), model=with_plugin)[0].result.factors
