"""``pixgrade serve`` options and refusals (the server itself is exercised by the other serve tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixgrade.cli.main import build_parser, main
from pixgrade.cli.serve import _SETTINGS, _is_loopback
from pixgrade.serve.config import ServeConfig, load_config


def _resolved(argv: list[str]) -> ServeConfig:
    args = build_parser().parse_args(["serve", *argv])
    return load_config(args.config, env={}, flags={name: getattr(args, name) for name in _SETTINGS})


def test_defaults_listen_on_loopback_only() -> None:
    config = _resolved([])
    assert (config.host, config.port, config.model, config.policy, config.api_key) == (
        "127.0.0.1",
        8000,
        "default",
        None,
        None,
    )
    config = _resolved(["--port", "9001", "--policy", "amazon", "--api-key", "k"])
    assert (config.port, config.policy, config.api_key) == (9001, "amazon", "k")


@pytest.mark.parametrize(
    ("host", "loopback"), [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False), ("x", False)]
)
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert _is_loopback(host) is loopback


def test_missing_model_is_a_usage_error_with_a_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "absent.safetensors"
    assert main(["serve", "--model", str(missing), "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "absent.safetensors" in err and "--model none" in err


def test_bad_port_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "70000", "--model", "none"]) == 2
    assert "port must be in 1..65535" in capsys.readouterr().err
